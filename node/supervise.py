"""Supervised background work: a task or thread that fails is never silent.

asyncio keeps a failed task's exception until someone awaits the task; nobody awaits a
node's long-lived tasks (channel runtimes, peer links, block fetches), so a bug in one
used to end it without a word while the node answered as if all were well. Every such
task is started here instead: when it ends with an exception, the exception is logged
at error level with its traceback, and `on_failure(name, reason)` tells the node, which
counts it in a metric and turns its gRPC health to NOT_SERVING. A task meant to run
until cancelled (`forever=True`) that returns is a failure too. Cancelling is the
normal way to stop and is not reported.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("supervise")

OnFailure = Callable[[str, str], None]

_SUPERVISED: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


def is_supervised(task: asyncio.Task[Any]) -> bool:
    """Whether `task` was started through this module (a test holds every node task is)."""
    return task in _SUPERVISED


def describe(exc: BaseException) -> str:
    """One line for an operator: the exception's type and message, bounded in length."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def supervise(task: asyncio.Task[Any], on_failure: OnFailure, forever: bool = False) -> None:
    """Log and report `task` if it fails (or returns, when it should run `forever`)."""

    def done(t: asyncio.Task[Any]) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if exc is None:
            if not forever:
                return
            reason = "ended unexpectedly"
            log.error("background task ended", task=t.get_name())
        else:
            reason = describe(exc)
            log.error("background task failed", task=t.get_name(), exc_info=exc)
        on_failure(t.get_name(), reason)

    task.add_done_callback(done)
    _SUPERVISED.add(task)


def spawn(
    coro: Coroutine[Any, Any, Any], name: str, on_failure: OnFailure, forever: bool = False
) -> asyncio.Task[Any]:
    """`asyncio.create_task` with supervision: the way every node task is started."""
    task = asyncio.create_task(coro, name=name)
    supervise(task, on_failure, forever)
    return task


def spawn_thread(
    target: Callable[[], None],
    name: str,
    on_failure: OnFailure,
    loop: asyncio.AbstractEventLoop,
) -> threading.Thread:
    """A daemon thread whose exception is logged and reported on the node's loop (the
    default `threading.excepthook` would only print it to stderr)."""

    def run() -> None:
        try:
            target()
        except Exception as exc:
            log.error("background thread failed", thread=name, exc_info=exc)
            if not loop.is_closed():
                loop.call_soon_threadsafe(on_failure, name, describe(exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
