"""Log lines for refusals, sampled per key so that a flood cannot flood the log too.

A Byzantine peer or a broken client can make a node refuse thousands of messages a
second; one log line each wrote 120 MB in two minutes. Every per-message refusal in
node/ therefore goes through a `SampledLog`: the first refusal for a key (a peer, a
client, a connection, with the reason) is logged at once, the next ones within
`interval_s` are only counted, and the next line written for that key says how many
were left out (`suppressed=`). The exact counts are in the metrics, never in the log.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

KEYS_MAX = 10_000  # keys remembered; the least recently logged is forgotten first


class SampledLog:
    """At most one line per (event, key) every `interval_s`, with the count left out."""

    def __init__(
        self,
        logger: Any,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        keys_max: int = KEYS_MAX,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self.keys_max = keys_max
        self.suppressed_total = 0  # lines left out since start (tests, debugging)
        # (event, key) -> (when the last line was written, occurrences left out since)
        self._seen: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    # Positional-only: a log field may be called `key` or `event` too (a keyword clash
    # here would raise inside the logging call, the very failure this module is about).
    def info(self, key: str, event: str, /, **fields: Any) -> bool:
        return self._emit("info", key, event, fields)

    def warning(self, key: str, event: str, /, **fields: Any) -> bool:
        return self._emit("warning", key, event, fields)

    def _emit(self, level: str, key: str, event: str, fields: dict[str, Any]) -> bool:
        """Write the line if the key's interval has passed; True if it was written."""
        now = self.clock()
        slot = (event, key)
        last = self._seen.get(slot)
        if last is not None and now - last[0] < self.interval_s:
            self._seen[slot] = (last[0], last[1] + 1)
            self.suppressed_total += 1
            return False
        suppressed = last[1] if last is not None else 0
        self._seen[slot] = (now, 0)
        self._seen.move_to_end(slot)
        while len(self._seen) > self.keys_max:
            self._seen.popitem(last=False)
        if suppressed:
            fields = {**fields, "suppressed": suppressed}
        getattr(self.logger, level)(event, **fields)
        return True
