"""Anchoring a department row the way the watcher does, without a chain: the watcher's
own planner and journal, with the change settled as if its tx had committed. Unit tests of
the pull path use it to get licenses whose salts and row index sit in a real sidecar."""

from __future__ import annotations

import hashlib
import itertools

from protos import government_pb2 as government
from sources.sidecar import Intent
from sources.sql import SqlSource
from sources.watch_plan import Change, PlanContext, plan_row, row_fingerprint

SUBJECT_KEY = bytes(range(32))
NOW_MS = 1_790_000_000_000  # 2026-09-21
_serials = itertools.count(1)


def plan_context(source: SqlSource, type_code: str, now_ms: int = NOW_MS) -> PlanContext:
    return PlanContext(
        mapping=source.mapping.licenses[type_code],
        timezone=source.mapping.timezone,
        issuer="market-regulation",
        subject_key=SUBJECT_KEY,
        now_ms=now_ms,
        year=2026,
        serial=lambda _name: next(_serials),
    )


def anchor_row(source: SqlSource, type_code: str, key: str) -> government.License:
    """Plan the row's change, journal it and settle it as committed; the license."""
    record = source.record(type_code, key)
    assert record is not None, f"no row {key}"
    state = source.sidecar.row_states(type_code).get(source.sidecar.ref(type_code, key))
    change = plan_row(record, state, plan_context(source, type_code))
    assert isinstance(change, Change) and change.kind in ("anchor", "supersede"), change
    intent = Intent(
        tx_id=hashlib.sha256(change.license_id.encode()).digest(),
        type_code=type_code,
        source_key=source.sidecar.ref(type_code, key),
        kind=change.kind,
        license_id=change.license_id,
        chain_status=change.chain_status,
        content=change.content,
        valid_until_ms=change.valid_until_ms,
        seen=row_fingerprint(record, source.mapping.timezone),
        tx=b"",
    )
    source.sidecar.journal(
        [intent], {change.license_id: change.salts}, rows={change.license_id: (type_code, key)}
    )
    source.sidecar.settle([intent], [])
    payload = change.payload
    return payload if isinstance(payload, government.License) else payload.successor
