"""Event-loop stall detection: what held the loop when consensus timers could not fire.

Everything a node does for consensus runs on one asyncio loop; if one callback holds it
(a long synced write, a garbage collection, a big batch of Python work), every channel's
timers and peer streams wait, and peers may start a view change. A daemon thread watches
a heartbeat the loop bumps every `beat_s`; when the loop misses it for `threshold_s`,
the thread samples the loop thread's stack (file, line, function only: no values, so no
secret can reach the log) and logs it once per stall, with the stall's length when it
ends. Counts go to the metrics.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback

import structlog

from node.supervise import OnFailure, spawn_thread

log = structlog.get_logger("stallwatch")


class StallWatch:
    def __init__(self, threshold_s: float = 1.0, beat_s: float = 0.1) -> None:
        self.threshold_s = threshold_s
        self.beat_s = beat_s
        self.last_beat = time.monotonic()
        self.stalls = 0  # loop stalls longer than threshold_s since start (metrics)
        self.longest_s = 0.0
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None

    def start(
        self, loop: asyncio.AbstractEventLoop, on_failure: OnFailure = lambda _n, _r: None
    ) -> None:
        self._loop_thread = threading.get_ident()
        self._beat(loop)
        spawn_thread(self._watch, "stallwatch", on_failure, loop)

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        self.last_beat = time.monotonic()
        self._handle = loop.call_later(self.beat_s, self._beat, loop)

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stop.wait(self.beat_s):
            lag = time.monotonic() - self.last_beat
            if lag >= self.threshold_s and stalled_since is None:
                stalled_since = self.last_beat
                frame = sys._current_frames().get(self._loop_thread)
                stack = traceback.extract_stack(frame, limit=12) if frame is not None else []
                log.warning(
                    "event loop stalled",
                    for_s=round(lag, 2),
                    at=[f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in stack],
                )
            elif lag < self.threshold_s and stalled_since is not None:
                length = self.last_beat - stalled_since
                self.stalls += 1
                self.longest_s = max(self.longest_s, length)
                log.warning("event loop resumed", stalled_s=round(length, 2))
                stalled_since = None
