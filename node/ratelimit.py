"""Flood limits: token buckets per client, per connection and per peer.

A department's node is reachable by every other member of the consortium, and a buggy or
hostile one must not be able to starve it. Each caller gets a bucket that refills at its
rate and holds at most one second of burst; a call that would overdraw it is refused
(clients get RESOURCE_EXHAUSTED, a peer's frames are dropped, which costs only a
retransmission). Refusals are logged at most once per key every LOG_EVERY_S, with the
count since the last line, so a flood cannot flood the log as well.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import structlog

log = structlog.get_logger("ratelimit")

LOG_EVERY_S = 10.0
KEYS_MAX = 10_000  # buckets remembered; the least recently used is forgotten first


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, cost: float, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True


class RateLimiter:
    """Buckets by key (a client's certificate name, a connection, a peer's key)."""

    def __init__(self, what: str, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.rate = rate
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._refused: dict[str, tuple[int, float]] = {}  # key -> (count, last log time)
        self.refused_total = 0

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.rate, now)
            while len(self._buckets) > KEYS_MAX:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        if bucket.take(cost, now):
            return True
        self.refused_total += 1
        count, logged = self._refused.get(key, (0, -LOG_EVERY_S))
        count += 1
        if now - logged >= LOG_EVERY_S:
            log.warning("throttled", limit=self.what, key=key, refused=count, rate=self.rate)
            count, logged = 0, now
        self._refused[key] = (count, logged)
        if len(self._refused) > KEYS_MAX:
            self._refused.pop(next(iter(self._refused)))
        return False
