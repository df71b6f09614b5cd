"""Pulls in progress: started by one call, followed by another, read by a third.

`POST /v1/pulls` starts a pull on a thread of its own (the SDK's `Hall.pull`, every
material at once) and answers at once; each status event the providers send is appended
to the pull's log the moment it arrives, and `GET /v1/pulls/{id}/events` streams that
log as server-sent events (from the start, or after the `Last-Event-ID` a reconnecting
client sends), so a caller sees 拉取中 and then 区块链获取 for each material as it happens.

A pull belongs to the token that started it (another token gets 404, as if it did not
exist): its final state holds the pulled values. Finished pulls are kept `keep_s` and at
most `pulls_max` are held at once; the values then go with them. Event logs carry
statuses only, never values.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from client.hall import Hall, MaterialPlan, PullUpdate
from protos import datashare_pb2 as ds

log = logging.getLogger("govchain.gateway")
KEEPALIVE_S = 15.0
LABELS = {
    ds.SCAN_REQUIRED: ("需扫描", "not on chain — scan required"),
    ds.FAILED: ("失败", "failed"),
}


class PullsFull(Exception):
    """Too many pulls are running: the caller should retry later."""


@dataclass
class PullRun:
    pull_id: str
    owner: str
    grant_id: str
    case_number: str
    materials: dict[str, dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    finished_at: float | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)

    def record(self, name: str, state: dict[str, Any]) -> None:
        """A material's new state, and an event for it (without its values)."""
        with self.cond:
            self.materials[name] = state
            event = {k: v for k, v in state.items() if k != "items"}
            event["seq"] = len(self.events) + 1
            self.events.append(event)
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done, self.finished_at = True, time.monotonic()
            self.cond.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self.cond:
            return {
                "pull_id": self.pull_id,
                "grant_id": self.grant_id,
                "case_number": self.case_number,
                "done": self.done,
                "materials": [dict(m) for m in self.materials.values()],
                "events_url": f"/v1/pulls/{self.pull_id}/events",
            }


def plan_state(plan: MaterialPlan) -> tuple[int, str]:
    """The status a material starts with: PENDING if it can be pulled; else why not."""
    if plan.scan:
        return ds.SCAN_REQUIRED, ""
    if plan.license is None:
        return ds.FAILED, f"the subject holds no valid license of type {plan.license_type}"
    return ds.PENDING, ""


def material_state(plan: MaterialPlan, status: int, reason: str = "", **more: Any) -> dict:
    zh, en = LABELS.get(status, ("等待中", "pending"))
    return {
        "name": plan.name,
        "status": ds.PullStatus.Name(status),
        "label_zh": more.pop("label_zh", zh),
        "label_en": more.pop("label_en", en),
        "reason": reason,
        "provider": plan.provider,
        "license_id": plan.license.license_id if plan.license else "",
        "elapsed_s": 0.0,
        "access_tx_id": "",
        "verified": False,
        "items": [],
        **more,
    }


def update_state(u: PullUpdate) -> dict[str, Any]:
    ev = u.event
    return material_state(
        u.material,
        ev.status,
        ev.reason,
        label_zh=ev.label_zh,
        label_en=ev.label_en,
        elapsed_s=round(u.elapsed_s, 3),
        access_tx_id=ev.access_tx_id.hex(),
        verified=u.verified,
        items=[
            {"code": i.code, "value": i.value.decode("utf-8", "replace"), "verified": i.verified}
            for i in u.items
        ],
    )


class Pulls:
    """The pulls this gateway holds, by id."""

    def __init__(self, pulls_max: int = 256, keep_s: float = 900.0) -> None:
        self.pulls_max, self.keep_s = pulls_max, keep_s
        self.runs: dict[str, PullRun] = {}
        self.lock = threading.Lock()

    def start(
        self, owner: str, hall: Hall, grant_id: str, case_number: str, plans: Iterable[MaterialPlan]
    ) -> PullRun:
        plans = list(plans)
        run = PullRun(f"P{os.urandom(8).hex()}", owner, grant_id, case_number, {})
        with self.lock:
            self._expire()
            if len(self.runs) >= self.pulls_max:
                raise PullsFull(f"{len(self.runs)} pulls are held, the most this gateway keeps")
            self.runs[run.pull_id] = run
        for plan in plans:
            status, reason = plan_state(plan)
            run.record(plan.name, material_state(plan, status, reason))
        thread = threading.Thread(
            target=self._run, args=(run, hall, plans), name=run.pull_id, daemon=True
        )
        thread.start()
        return run

    def _run(self, run: PullRun, hall: Hall, plans: list[MaterialPlan]) -> None:
        log.info("pull %s started: grant %s, case %s", run.pull_id, run.grant_id, run.case_number)
        try:
            for u in hall.pull(run.grant_id, run.case_number, plans):
                run.record(u.material.name, update_state(u))
        except Exception as e:  # a broken pull is a status, never a hung stream
            log.error("pull %s stopped: %s", run.pull_id, type(e).__name__)
            for plan in plans:
                if run.materials[plan.name]["status"] in ("PENDING", "PULLING"):
                    reason = f"the pull stopped ({type(e).__name__})"
                    run.record(plan.name, material_state(plan, ds.FAILED, reason))
        finally:
            run.finish()
            outcome = [m["status"] for m in run.materials.values()]
            log.info("pull %s finished: %s", run.pull_id, ", ".join(outcome))

    def get(self, pull_id: str, owner: str) -> PullRun | None:
        with self.lock:
            self._expire()
            run = self.runs.get(pull_id)
        return run if run is not None and run.owner == owner else None

    def _expire(self) -> None:
        now = time.monotonic()
        for pull_id, run in list(self.runs.items()):
            if run.finished_at is not None and now - run.finished_at > self.keep_s:
                del self.runs[pull_id]


def sse(run: PullRun, after: int = 0, keepalive_s: float = KEEPALIVE_S) -> Iterator[str]:
    """The pull's events after `after` as server-sent events, each as it is recorded;
    a comment line while nothing happens; `end` with the final state when it is done."""
    sent = after
    while True:
        with run.cond:
            if len(run.events) <= sent and not run.done:
                run.cond.wait(keepalive_s)
            new, done = run.events[sent:], run.done
        for event in new:
            sent = event["seq"]
            yield f"id: {sent}\nevent: status\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
        if done and not new:
            final = run.snapshot()
            for m in final["materials"]:
                m.pop("items", None)
            yield f"event: end\ndata: {json.dumps(final, ensure_ascii=False)}\n\n"
            return
        if not new:
            yield ": keep-alive\n\n"
