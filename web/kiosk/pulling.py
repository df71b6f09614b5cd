"""One pull run per visit: the SDK's parallel pull on a thread, its status events kept per
material and fanned out to every open event stream of the page.

The page opens its server-sent event stream when it loads, before the button is
pressed; a stream that opens later (a reload) first gets each material's current state,
so nothing is missed and nothing is shown that did not happen. Messages are live.js's
shape: {target, state, fields}; the last one is {done, ready}.

A material that is scan-required shows 需扫描 from the start; an on-chain one for which
the applicant holds no valid license fails at once, with that reason, without asking a
department. Obtained values are opened and checked against the license commitments by
the SDK; a value that does not match is shown as failed. The values themselves are not
kept or shown: the case needs the evidence of where each material came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from client.hall import Hall, MaterialPlan, PullUpdate
from protos import datashare_pb2 as ds
from protos import government_pb2 as government

log = logging.getLogger("govchain.kiosk")

# state name (the CSS and the tests use it), Chinese label, English label
LABELS = {
    "pending": ("等待中", "waiting"),
    "pulling": ("拉取中", "pulling"),
    "obtained": ("区块链获取", "obtained from blockchain"),
    "scan": ("需扫描", "scan required"),
    "scanned": ("已扫描", "scanned"),
    "denied": ("已拒绝", "denied"),
    "changed": ("源数据已变更", "source changed since anchoring"),
    "failed": ("失败", "failed"),
}
STATES = {
    ds.PENDING: "pending",
    ds.PULLING: "pulling",
    ds.OBTAINED: "obtained",
    ds.SCAN_REQUIRED: "scan",
    ds.DENIED: "denied",
    ds.FAILED: "failed",
    ds.SOURCE_CHANGED: "changed",
}
FINAL = {"obtained", "scan", "scanned", "denied", "failed", "changed"}
# a source changed since anchoring is refused like a denial (styled so, too)
REASON_PREFIX = {
    "denied": "拒绝原因 Reason: ",
    "changed": "拒绝原因 Reason: ",
    "failed": "失败原因 Reason: ",
}


@dataclass
class MaterialRow:
    """What the page shows for one material."""

    index: int
    plan: MaterialPlan
    state: str
    reason: str = ""
    elapsed_s: float | None = None

    @property
    def target(self) -> str:
        return f"m{self.index}"

    @property
    def label(self) -> str:
        zh, en = LABELS[self.state]
        return f"{zh} {en}"

    @property
    def time(self) -> str:
        return "" if self.elapsed_s is None else f"{self.elapsed_s:.2f} s"

    @property
    def reason_text(self) -> str:
        prefix = REASON_PREFIX.get(self.state, "")
        return f"{prefix}{self.reason}" if self.reason else ""

    def message(self) -> dict[str, Any]:
        fields = {"label": self.label, "reason": self.reason_text, "time": self.time}
        return {"target": self.target, "state": self.state, "fields": fields}


def initial_row(index: int, plan: MaterialPlan) -> MaterialRow:
    if plan.scan:
        return MaterialRow(index, plan, "scan", "需现场扫描 not on chain: scan the paper")
    if not plan.pullable:
        reason = (
            f"申请人无有效的{plan.license_type}证照 "
            f"the applicant holds no valid {plan.license_type} license on chain"
        )
        return MaterialRow(index, plan, "failed", reason)
    return MaterialRow(index, plan, "pending")


class PullRun:
    """The pull of one case's materials; thread-safe, started once."""

    def __init__(
        self, hall: Hall, grant: government.Grant, case_number: str, plans: list[MaterialPlan]
    ) -> None:
        self.hall, self.grant, self.case_number = hall, grant, case_number
        self.rows = [initial_row(i, p) for i, p in enumerate(plans)]
        self.finals: dict[int, PullUpdate] = {}  # row index -> its final update
        self.started = False
        self.done = False
        self._lock = threading.Lock()
        self._streams: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = []

    # ------------------------------------------------------------------ running

    def start(self) -> bool:
        """Start pulling (False if it had already started)."""
        with self._lock:
            if self.started:
                return False
            self.started = True
        threading.Thread(target=self._run, name=f"pull-{self.case_number}", daemon=True).start()
        return True

    def _run(self) -> None:
        by_name = {row.plan.name: row for row in self.rows}
        pullable = [row.plan for row in self.rows if row.state == "pending"]
        try:
            for update in self.hall.pull(self.grant, self.case_number, pullable):
                self._apply(by_name[update.material.name], update)
        except Exception as e:  # the run must end, whatever happened; say so per material
            log.error("pull of case %s broke: %s", self.case_number, type(e).__name__)
            for row in self.rows:
                if row.state in ("pending", "pulling"):
                    self._set(row, "failed", "拉取中断 the pull broke off; please try again")
        self._finish()

    def _apply(self, row: MaterialRow, update: PullUpdate) -> None:
        state = STATES.get(update.event.status, "failed")
        reason = update.event.reason
        if state == "obtained" and not update.verified:
            state, reason = "failed", "数据与链上承诺不符 a value does not match its commitment"
        if update.final:
            with self._lock:
                self.finals[row.index] = update
        self._set(row, state, reason, update.elapsed_s if update.final else None)

    def _set(self, row: MaterialRow, state: str, reason: str, elapsed: float | None = None) -> None:
        with self._lock:
            row.state, row.reason, row.elapsed_s = state, reason, elapsed
            self._broadcast(row.message())

    def _finish(self) -> None:
        with self._lock:
            self.done = True
            self._broadcast(self.done_message())

    def mark_scanned(self, index: int) -> MaterialRow:
        row = self.rows[index]
        if not row.plan.scan:
            raise ValueError("not a scan-required material")
        self._set(row, "scanned", "")
        return row

    def close(self) -> None:
        """The visit ended: every open stream stops."""
        with self._lock:
            self._broadcast({"done": True, "ready": False, "ended": True})
            self._streams.clear()

    # ------------------------------------------------------------------ reading

    @property
    def ready(self) -> bool:
        """Every required material obtained or scanned: the case can be submitted."""
        return self.done and all(
            row.state in ("obtained", "scanned") for row in self.rows if row.plan.required
        )

    def done_message(self) -> dict[str, Any]:
        return {"done": True, "ready": self.ready}

    def obtained(self) -> list[tuple[MaterialRow, PullUpdate]]:
        return [(r, self.finals[r.index]) for r in self.rows if r.state == "obtained"]

    def subscribe(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[list[dict[str, Any]], asyncio.Queue[dict[str, Any]]]:
        """The current state of every material, and a queue of what happens next."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            snapshot = [row.message() for row in self.rows]
            if self.done:
                snapshot.append(self.done_message())
            else:
                self._streams.append((loop, queue))
        return snapshot, queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._streams = [(lp, q) for lp, q in self._streams if q is not queue]

    def _broadcast(self, message: dict[str, Any]) -> None:
        for loop, queue in self._streams:  # called with the lock held
            with contextlib.suppress(RuntimeError):  # that stream's loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, message)
