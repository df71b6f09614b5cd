"""The stall watch notices a callback that holds the event loop, and only that."""

from __future__ import annotations

import asyncio
import time

from node.stallwatch import StallWatch


async def _run(block_s: float) -> StallWatch:
    watch = StallWatch(threshold_s=0.3, beat_s=0.02)
    watch.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(0.1)
        time.sleep(block_s)  # the stall under test: a callback that never yields
        deadline = time.monotonic() + 5
        while watch.stalls == 0 and block_s > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        return watch
    finally:
        watch.stop()


def test_a_blocked_loop_is_counted_with_its_length() -> None:
    watch = asyncio.run(_run(0.6))
    assert watch.stalls == 1
    assert 0.45 <= watch.longest_s < 2.0


def test_a_loop_that_keeps_yielding_is_not_a_stall() -> None:
    watch = asyncio.run(_run(0.0))
    assert watch.stalls == 0 and watch.longest_s == 0.0
