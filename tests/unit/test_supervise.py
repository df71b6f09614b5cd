"""Supervised background work (a failure is logged with its traceback and reported),
and which failures stop the node."""

from __future__ import annotations

import asyncio
import threading

import structlog

from node.supervise import describe, is_supervised, spawn, spawn_thread


async def _settle() -> None:
    for _ in range(3):  # done callbacks run on the loop's next iterations
        await asyncio.sleep(0)


def test_a_failing_task_is_logged_with_its_traceback_and_reported() -> None:
    reported: list[tuple[str, str]] = []

    async def boom() -> None:
        raise KeyError("lost")

    async def main() -> None:
        task = spawn(boom(), "worker", lambda n, r: reported.append((n, r)))
        assert is_supervised(task)
        await _settle()

    with structlog.testing.capture_logs() as logs:
        asyncio.run(main())
    assert reported == [("worker", "KeyError: 'lost'")]
    (line,) = logs
    assert (line["event"], line["log_level"], line["task"]) == (
        "background task failed",
        "error",
        "worker",
    )
    assert isinstance(line["exc_info"], KeyError)


def test_a_forever_task_that_returns_is_a_failure_and_a_cancelled_one_is_not() -> None:
    reported: list[tuple[str, str]] = []

    async def quits() -> None:
        return None

    async def main() -> None:
        spawn(quits(), "quits", lambda n, r: reported.append((n, r)), forever=True)
        spawn(quits(), "one-shot", lambda n, r: reported.append((n, r)))
        waiting = spawn(asyncio.Event().wait(), "waits", lambda n, r: reported.append((n, r)))
        await _settle()
        waiting.cancel()
        await _settle()

    asyncio.run(main())
    assert reported == [("quits", "ended unexpectedly")]


def test_a_failing_thread_is_logged_and_reported_on_the_loop() -> None:
    reported: list[tuple[str, str, bool]] = []

    def boom() -> None:
        raise OSError(5, "Input/output error")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        spawn_thread(
            boom,
            "watcher",
            lambda n, r: reported.append((n, r, threading.get_ident() == loop_thread)),
            loop,
        ).join()
        await _settle()

    with structlog.testing.capture_logs() as logs:
        asyncio.run(main())
    assert reported == [("watcher", "OSError: [Errno 5] Input/output error", True)]
    assert [(e["event"], e["thread"]) for e in logs] == [("background thread failed", "watcher")]


def test_a_reason_is_one_bounded_line() -> None:
    assert describe(ValueError()) == "ValueError"
    assert len(describe(ValueError("x" * 1000))) == 300


def test_only_a_store_or_file_failure_is_a_storage_failure() -> None:
    from node.runtime import is_storage_failure
    from storage.stores import StorageError

    assert is_storage_failure(StorageError("write failed: IO error"))
    assert is_storage_failure(OSError(28, "No space left on device"))
    assert not is_storage_failure(TimeoutError())
    assert not is_storage_failure(ConnectionResetError())
    assert not is_storage_failure(ValueError("a bug"))
