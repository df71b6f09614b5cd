"""Token buckets per key: refill at the rate, one second of burst, bounded memory, and
refusals logged at most once per interval."""

from __future__ import annotations

import structlog

from node import ratelimit
from node.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_rate_and_a_burst_of_one_second() -> None:
    clock = Clock()
    limiter = RateLimiter("txs/s", 100, clock)
    assert limiter.allow("a", 60) and limiter.allow("a", 40)
    assert not limiter.allow("a", 1)  # the second's budget is spent
    assert limiter.allow("b", 100)  # another key has its own bucket
    clock.now += 0.5
    assert limiter.allow("a", 50) and not limiter.allow("a", 1)
    clock.now += 10  # idle time refills only up to the burst
    assert not limiter.allow("a", 101)
    assert limiter.allow("a", 100)
    assert limiter.refused_total == 3


def test_buckets_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "KEYS_MAX", 3)
    clock = Clock()
    limiter = RateLimiter("calls/s", 1, clock)
    for key in "abcd":
        assert limiter.allow(key)
    assert len(limiter._buckets) == 3
    assert limiter.allow("a")  # forgotten, so it starts afresh


def test_refusals_are_logged_once_per_interval_with_a_count() -> None:
    clock = Clock()
    limiter = RateLimiter("peer items/s", 1, clock)
    with structlog.testing.capture_logs() as logs:
        limiter.allow("p")
        for _ in range(50):
            limiter.allow("p")
        clock.now += ratelimit.LOG_EVERY_S
        limiter.allow("p")  # refilled: allowed
        limiter.allow("p")  # refused: logged, counting the 49 silent ones before it too
    lines = [e for e in logs if e["event"] == "throttled"]
    assert [e["refused"] for e in lines] == [1, 50]
    assert all(e["key"] == "p" and e["limit"] == "peer items/s" for e in lines)
