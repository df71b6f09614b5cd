"""The watcher: anchoring by watching the department's tables, not by being called.

Each pass scans every mapped table, asks `watch_plan` what each row needs, and sends those
changes to the license chain in batches, a bounded number in flight. Every change is
journaled in the sidecar (the exact signed tx, and the salts of a new license) before it
is submitted and settled in the same transaction that records its committed result, so a
watcher killed at any instant resumes where it stopped: `recover` finds each open intent
committed (settles it) or not (submits the very same bytes again: one tx id is admitted
once, so nothing is anchored twice); rows whose change never reached the journal are
planned again by the next scan, so nothing is missed.

The chain is reached through `ChainLink` (cli/source_watch.py implements it over gRPC):
this module never opens a network connection itself.
"""

from __future__ import annotations

import datetime
import json
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from chains.codes import ALREADY_EXISTS
from chains.tx import tx_id
from sources.sidecar import Intent, RowState, Sidecar
from sources.sql import LicenseRecord, SqlSource
from sources.watch_plan import (
    Change,
    PlanContext,
    Settled,
    plan_removed,
    plan_row,
    row_fingerprint,
)

# TxStatus values (protos/api.proto) a submission can get back
ACCEPTED, DUPLICATE, ALREADY_COMMITTED, MEMPOOL_FULL = 1, 2, 3, 7


class ChainLink(Protocol):
    """What the watcher needs of its node."""

    def type_owner(self, type_code: str) -> str | None:
        """The department that defines a license type on chain (None: undefined)."""
        ...

    def submit(self, txs: list[bytes]) -> list[tuple[int, str]]:
        """(TxStatus, detail) per tx, in order."""
        ...

    def committed(self, timeout_s: float) -> list[tuple[bytes, int, str]]:
        """(tx id, result code, reason) of txs committed since the last call (waits up to
        `timeout_s` for at least one block)."""
        ...

    def result(self, tx_id: bytes) -> tuple[int, str] | None:
        """A tx's committed (code, reason), or None if it is not in a block."""
        ...


@dataclass
class PassReport:
    """What one pass did, for the log and for `--once`'s exit status."""

    rows: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, kind: str) -> None:
        self.changes[kind] = self.changes.get(kind, 0) + 1


Sign = Callable[[str, bytes], bytes]  # (tx type, payload bytes) -> signed tx bytes
Log = Callable[..., None]  # log(message, **fields)


class Watcher:
    """Scans the source and keeps the license chain in step with it."""

    def __init__(
        self,
        source: SqlSource,
        link: ChainLink,
        sign: Sign,
        subject_key: bytes,
        log: Log,
        *,
        window: int = 4_000,
        batch: int = 500,
        commit_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.sidecar: Sidecar = source.sidecar
        self.link = link
        # The chain's suite, if the link knows it (GrpcChainLink): tx ids, commitments.
        self.suite = getattr(link, "suite", None)
        self.sign = sign
        self.subject_key = subject_key
        self.log = log
        self.window = window
        self.batch = batch
        self.commit_timeout_s = commit_timeout_s
        self.clock = clock
        self.in_flight: dict[bytes, tuple[Intent, float]] = {}
        self._counters: dict[str, int] = {}
        self.settled = 0  # changes committed since start (progress on a long backlog)
        self.refused = 0  # changes the chain (or admission) refused since start
        self._progress_at = clock()
        self.issuers = self._issuers()

    def _issuers(self) -> dict[str, str]:
        issuers = {}
        for code in self.source.mapping.licenses:
            owner = self.link.type_owner(code)
            if owner is None:
                raise LookupError(
                    f"license type {code!r} of the mapping is not defined on the license chain"
                )
            issuers[code] = owner
        return issuers

    # ---- recovery

    def recover(self) -> int:
        """Settle or resubmit every intent a previous run left open; how many were open."""
        intents = self.sidecar.open_intents()
        if not intents:
            return 0
        done, refused, again = [], [], []
        for i in intents:
            found = self.link.result(i.tx_id)
            if found is None:
                again.append(i)
            elif found[0] == 0:
                done.append(i)
            else:
                refused.append((i, f"refused by the chain: {found[1]}", _retry(i, found[0])))
        self.sidecar.settle(done, refused)
        self.log("journal recovered", open=len(intents), committed=len(done), resent=len(again))
        self._send(again)
        self.drain()
        return len(intents)

    # ---- one pass

    def scan(self) -> PassReport:
        """One pass over every mapped table; returns once its changes are settled."""
        report = PassReport()
        started, refused_before = self.clock(), self.refused
        for type_code in self.source.mapping.licenses:
            self._scan_type(type_code, report)
        self.drain()
        report.seconds = self.clock() - started
        report.refused = self.refused - refused_before
        self._record_pass(report)
        return report

    def _record_pass(self, report: PassReport) -> None:
        """The last pass, for `govchain source status` (a watcher that stopped passing
        shows there by its age)."""
        summary = {
            "at": round(self.clock(), 3),
            "rows": report.rows,
            "changes": report.changes,
            "not_anchored": report.notes,
            "refused": report.refused,
            "seconds": round(report.seconds, 3),
        }
        self.sidecar.set_progress("watch:last_pass", json.dumps(summary, sort_keys=True).encode())

    def _context(self, type_code: str) -> PlanContext:
        now = self.clock()
        zone = zoneinfo.ZoneInfo(self.source.mapping.timezone)
        return PlanContext(
            mapping=self.source.mapping.licenses[type_code],
            timezone=self.source.mapping.timezone,
            issuer=self.issuers[type_code],
            subject_key=self.subject_key,
            now_ms=int(now * 1000),
            year=datetime.datetime.fromtimestamp(now, zone).year,
            serial=self._next_serial,
            suite=self.suite,
        )

    def _next_serial(self, name: str) -> int:
        if name not in self._counters:
            self._counters[name] = self.sidecar.counter(name)
        self._counters[name] += 1
        return self._counters[name]

    def _scan_type(self, type_code: str, report: PassReport) -> None:
        ctx = self._context(type_code)
        states = self.sidecar.row_states(type_code)
        pending = {i.source_key for i, _ in self.in_flight.values() if i.type_code == type_code}
        present: set[str] = set()
        changes: list[tuple[Change, str, bytes, str]] = []
        settled: list[tuple[str, bytes, str | None]] = []
        for record in self.source.scan(type_code):
            report.rows += 1
            ref = self.sidecar.ref(type_code, record.key)  # a keyed hash: no ID in the file
            present.add(ref)
            state = states.get(ref)
            if ref in pending:
                continue
            try:
                outcome, seen = self._plan(record, state, ctx)
            except ValueError as e:  # a value the mapping cannot read (a bad date)
                outcome, seen = Settled(f"unreadable row: {e}"), b"unreadable:" + str(e).encode()
            if outcome is None:
                continue
            if isinstance(outcome, Settled):
                settled.append((ref, seen, outcome.note))
                if outcome.note:
                    report.notes[outcome.note] = report.notes.get(outcome.note, 0) + 1
            else:
                changes.append((outcome, ref, seen, record.key))
            if len(changes) >= self.batch:
                self._submit(type_code, changes, report)
                changes = []
        self._removed(type_code, states, present, pending, ctx, changes)
        self._submit(type_code, changes, report)
        if settled:
            self.sidecar.mark_seen(type_code, settled)

    def _plan(
        self, record: LicenseRecord, state: RowState | None, ctx: PlanContext
    ) -> tuple[Change | Settled | None, bytes]:
        """(what the row needs, or None if this version was handled; its fingerprint)."""
        seen = row_fingerprint(record, ctx.timezone)
        if state is not None and state.seen == seen:
            return None, seen
        return plan_row(record, state, ctx), seen

    def _removed(
        self,
        type_code: str,
        states: dict[str, RowState],
        present: set[str],
        pending: set[str],
        ctx: PlanContext,
        changes: list[tuple[Change, str, bytes, str]],
    ) -> None:
        gone = [k for k in states if k not in present and k not in pending]
        live = [(k, c) for k in gone if (c := plan_removed(states[k], ctx.now_ms)) is not None]
        if live and not present:
            self.log(
                "source returned no rows; not cancelling anything (check the mapping)",
                type=type_code,
                would_cancel=len(live),
            )
            return
        changes.extend((change, ref, b"removed", "") for ref, change in live)

    # ---- submitting and settling

    def _submit(
        self, type_code: str, changes: list[tuple[Change, str, bytes, str]], report: PassReport
    ) -> None:
        """Sign, journal and send changes: (change, the row's sidecar ref, its fingerprint,
        the row's own key)."""
        if not changes:
            return
        intents, salts, rows = [], {}, {}
        for change, ref, seen, key in changes:
            payload = change.payload.SerializeToString(deterministic=True)  # type: ignore[attr-defined]
            raw = self.sign(change.tx_type, payload)
            intents.append(
                Intent(
                    tx_id(raw, self.suite.hash) if self.suite else tx_id(raw),
                    type_code,
                    ref,
                    change.kind,
                    change.license_id,
                    change.chain_status,
                    change.content,
                    change.valid_until_ms,
                    seen,
                    raw,
                )
            )
            if change.salts:
                salts[change.license_id] = change.salts
                rows[change.license_id] = (type_code, key)
            report.count(change.kind)
        self.sidecar.journal(intents, salts, dict(self._counters), rows)
        self._send(intents)

    def _send(self, intents: list[Intent]) -> None:
        """Submit journaled intents, keeping at most `window` in flight."""
        queue = list(intents)
        while queue:
            while len(self.in_flight) >= self.window:
                self._collect(self.commit_timeout_s)
            take = queue[: min(self.batch, self.window - len(self.in_flight))]
            statuses = self.link.submit([i.tx for i in take])
            now = self.clock()
            retry_later, refused, committed = [], [], []
            for intent, (status, detail) in zip(take, statuses, strict=True):
                if status in (ACCEPTED, DUPLICATE):
                    self.in_flight[intent.tx_id] = (intent, now)
                elif status == ALREADY_COMMITTED:
                    committed.append(intent)
                elif status == MEMPOOL_FULL:
                    retry_later.append(intent)
                else:
                    refused.append((intent, f"not admitted: {detail}", False))
            queue = retry_later + queue[len(take) :]
            self._settle_known(committed, refused)
            if retry_later:
                self._collect(1.0)  # let blocks commit before offering more

    def _settle_known(self, committed: list[Intent], refused: list) -> None:
        """Settle intents without waiting for a block: refused at admission, or reported
        already committed (a resubmission after a crash: its result is looked up)."""
        done = []
        for intent in committed:
            found = self.link.result(intent.tx_id)
            if found is None:  # not visible yet: wait for it like any other
                self.in_flight[intent.tx_id] = (intent, self.clock())
            elif found[0] == 0:
                done.append(intent)
            else:
                refused.append(
                    (intent, f"refused by the chain: {found[1]}", _retry(intent, found[0]))
                )
        if refused:
            self.log("changes refused", count=len(refused), first=refused[0][1])
            self.refused += len(refused)
        if done or refused:
            self.sidecar.settle(done, refused)

    def _collect(self, timeout_s: float) -> None:
        """Settle whatever committed; resubmit what waited longer than the timeout."""
        done, refused = [], []
        for tid, code, reason in self.link.committed(timeout_s):
            entry = self.in_flight.pop(tid, None)
            if entry is None:
                continue
            if code == 0:
                done.append(entry[0])
            else:
                refused.append(
                    (entry[0], f"refused by the chain: {reason}", _retry(entry[0], code))
                )
        if refused:
            self.log("changes refused", count=len(refused), first=refused[0][1])
            self.refused += len(refused)
        if done or refused:
            self.sidecar.settle(done, refused)
            self.settled += len(done)
        self._report_progress()
        self._resend_stale()

    def _report_progress(self, every_s: float = 5.0) -> None:
        now = self.clock()
        if now - self._progress_at >= every_s:
            self._progress_at = now
            self.log("anchoring", committed=self.settled, in_flight=len(self.in_flight))

    def _resend_stale(self) -> None:
        now = self.clock()
        stale = [i for i, since in self.in_flight.values() if now - since > self.commit_timeout_s]
        if not stale:
            return
        self.log("changes not committed in time; sending them again", count=len(stale))
        for i in stale:
            self.in_flight[i.tx_id] = (i, now)
        statuses = self.link.submit([i.tx for i in stale])
        committed = [i for i, (s, _) in zip(stale, statuses, strict=True) if s == ALREADY_COMMITTED]
        for i in committed:
            self.in_flight.pop(i.tx_id, None)
        self._settle_known(committed, [])

    def drain(self) -> None:
        """Wait until every change in flight is settled."""
        while self.in_flight:
            self._collect(self.commit_timeout_s)

    def pending(self) -> Iterable[Intent]:
        return (i for i, _ in self.in_flight.values())


def _retry(intent: Intent, code: int) -> bool:
    """A new license refused because its id is taken (anchored by other means) is planned
    again with the next serial; any other refusal waits for the row to change."""
    return intent.kind in ("anchor", "supersede") and code == ALREADY_EXISTS
