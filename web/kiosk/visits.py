"""The flow state of each browser session at the kiosk, kept on the server.

The browser's (signed) cookie holds only a random visit id and its CSRF token; everything
the flow learns — the service item, the recorded identity session (the keyed hash of the
ID number, never the number), the grant, the case, the pull — lives here under that id.
A visit idle for longer than the timeout is wiped on the next request that arrives (any
request sweeps every idle visit), so the next person at a shared kiosk finds nothing.

Steps run in order: item -> identity -> consent -> pull -> receipt. A request for a step
that is not the current one is refused (409); a visit id that is unknown (wiped, or
never made) leads back to the start.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import HTTPException

from client.approval import Decision
from client.hall import MaterialPlan, Session
from protos import government_pb2 as government

if TYPE_CHECKING:
    from web.kiosk.catalog import ItemView
    from web.kiosk.pulling import PullRun

VISITS_MAX = 1000  # live visits at once; a kiosk serves one person at a time
STEPS = ("item", "identity", "consent", "pull", "receipt")
STEP_PATHS = {
    "item": "/",
    "identity": "/identity",
    "consent": "/consent",
    "pull": "/pull",
    "receipt": "/receipt",
}


@dataclass
class Visit:
    """One person's way through the flow; `busy` stops a double tap doing a step twice."""

    id: str
    last_seen: float
    step: str = "identity"
    item: ItemView | None = None
    session: Session | None = None
    subject: bytes = b""  # whose data: the company's reference, or the person's
    plans: list[MaterialPlan] = field(default_factory=list)
    grant: government.Grant | None = None
    case_number: str = ""
    run: PullRun | None = None
    scanned: dict[str, bytes] = field(default_factory=dict)
    decision: Decision | None = None  # what the chain decided on submission (秒批 or not)
    busy: threading.Lock = field(default_factory=threading.Lock)

    def __repr__(self) -> str:  # never print the id (the cookie's secret) or the subject
        return f"Visit(step={self.step!r}, case={self.case_number!r})"


class Visits:
    """Visits by id, each wiped after `idle_s` without a request."""

    def __init__(
        self,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_visits: int = VISITS_MAX,
    ) -> None:
        self.idle_s = idle_s
        self.max_visits = max_visits
        self.clock = clock
        self._visits: dict[str, Visit] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._visits)

    def new(self) -> Visit:
        """A new visit; 503 when `max_visits` are live (every request without a cookie may
        start one, so a flood must meet a bound, not grow memory; a real kiosk has one)."""
        self.sweep()
        visit = Visit(secrets.token_urlsafe(24), self.clock())
        with self._lock:
            if len(self._visits) >= self.max_visits:
                raise HTTPException(503, "the kiosk is busy; please try again in a minute")
            self._visits[visit.id] = visit
        return visit

    def sweep(self) -> None:
        """Wipe every visit idle for longer than the timeout."""
        now = self.clock()
        with self._lock:
            for vid in [
                v for v, visit in self._visits.items() if now - visit.last_seen > self.idle_s
            ]:
                self._drop_locked(vid)

    def get(self, visit_id: str | None) -> Visit | None:
        """The live visit with this id, its idle clock restarted; None if there is none."""
        self.sweep()
        if not visit_id:
            return None
        with self._lock:
            visit = self._visits.get(visit_id)
            if visit is not None:
                visit.last_seen = self.clock()
            return visit

    def rekey(self, visit: Visit) -> str:
        """A fresh id for a visit (after the identity check: the id a browser held before
        it proved who it is no longer reaches what comes after)."""
        with self._lock:
            self._visits.pop(visit.id, None)
            visit.id = secrets.token_urlsafe(24)
            self._visits[visit.id] = visit
        return visit.id

    def drop(self, visit_id: str | None) -> None:
        with self._lock:
            self._drop_locked(visit_id)

    def _drop_locked(self, visit_id: str | None) -> None:
        visit = self._visits.pop(visit_id or "", None)
        if visit is not None:  # drop what it learned, not just the reference to it
            if visit.run is not None:
                visit.run.close()
            visit.session, visit.subject, visit.plans, visit.grant = None, b"", [], None
            visit.scanned.clear()
            visit.run = None
