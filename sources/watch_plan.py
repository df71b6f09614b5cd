"""What one department row asks of the license chain: the watcher's decisions, as pure
functions of the row as it is now, what the sidecar knows of it, and the time.

A row's *content* is what a license commits to (the subject, the validity window and each
item's value). Its *fingerprint* is a hash of the row's mapped values as the database
returns them, status code included, with no date arithmetic: a rescan of an unchanged row
costs its reading and one hash. Only a row whose fingerprint is not the one last handled
is planned:

| the row's chain license              | the row now                         | change       |
|--------------------------------------|-------------------------------------|--------------|
| none, or ended (revoked, cancelled,  | a live status, not past its end     | anchor       |
| expired, past its end)               |                                     |              |
| live (VALID or SUSPENDED)            | live, other content                 | supersede    |
| live                                 | REVOKED, CANCELLED, EXPIRED, or its | set_status   |
|                                      | end passed; or VALID <-> SUSPENDED  |              |
| live                                 | gone from the department's table    | CANCELLED    |

A new license is anchored VALID; a row that is SUSPENDED then takes a second step
(set_status) on the next scan, once the first has committed: one change per row in flight.
A new or superseding license gets fresh salts and a fresh chain id
(`<type>-<issuer>-<year>-<serial>`, chains/license.py), so the department's own key (which
may be a person's ID number) never goes on chain.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chains.license import make_license_id
from chains.privacy import SALT_BYTES, commit_item, items_root, subject_ref
from protos import government_pb2 as government
from sources.base import value_bytes
from sources.mapping import LicenseMapping
from sources.sidecar import RowState
from sources.sql import LicenseRecord
from sources.validity import validity_ms

LIVE = ("VALID", "SUSPENDED")


@dataclass(frozen=True)
class PlanContext:
    """What every decision of one scan shares."""

    mapping: LicenseMapping
    timezone: str
    issuer: str  # the department that defines the type on chain (the only one to anchor)
    subject_key: bytes  # the consortium's key for subject references
    now_ms: int
    year: int  # for new license ids
    serial: Callable[[str], int]  # next serial of a counter name, kept across restarts
    # The chain's crypto suite (a crypto.Suite; None: ed25519-sha256): the commitments,
    # items root and subject reference are made with its hash (SM3 on sm2-sm3).
    suite: Any = None


@dataclass(frozen=True)
class Change:
    """One tx the row needs, and the row's state once it commits."""

    kind: str  # anchor, supersede, set_status
    tx_type: str
    payload: object  # the protobuf payload message
    license_id: str  # the chain license the row stands for afterwards
    chain_status: str
    content: bytes
    valid_until_ms: int
    salts: dict[str, bytes]  # the new license's salts (empty for set_status)


@dataclass(frozen=True)
class Settled:
    """Nothing (more) to do for this row version; `note` says why if it is not on chain."""

    note: str | None = None


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def content_of(record: LicenseRecord, timezone: str) -> tuple[bytes, int, int]:
    """(content fingerprint, valid_from_ms, valid_until_ms) of a row."""
    valid_from = validity_ms(record.valid_from, timezone, end=False)
    valid_until = validity_ms(record.valid_until, timezone, end=True)
    parts = [record.subject.encode(), str(valid_from).encode(), str(valid_until).encode()]
    for code in sorted(record.items):
        parts += [code.encode(), record.items[code]]
    return hashlib.sha256(b"".join(_field(p) for p in parts)).digest(), valid_from, valid_until


def row_fingerprint(record: LicenseRecord, timezone: str) -> bytes:
    """A hash of the row's mapped values as read (and of the zone they are read in)."""
    h = hashlib.sha256()
    for value in (record.subject, record.status, timezone):
        h.update(_field(value.encode()))
    for bound in (record.valid_from, record.valid_until):
        h.update(_field(b"\xff" if bound is None else b"\x00" + (value_bytes(bound) or b"")))
    for code in sorted(record.items):
        h.update(_field(code.encode()) + _field(record.items[code]))
    return h.digest()


def _is_live(state: RowState | None, now_ms: int) -> bool:
    if state is None or state.license_id is None or state.chain_status not in LIVE:
        return False
    return state.valid_until_ms == 0 or state.valid_until_ms > now_ms


def _new_license(
    record: LicenseRecord, ctx: PlanContext, valid_from: int, valid_until: int
) -> tuple[government.License, dict[str, bytes]]:
    code = ctx.mapping.type_code
    serial = ctx.serial(f"serial:{code}:{ctx.year}")
    license_id = make_license_id(code, ctx.issuer, ctx.year, serial)
    salts = {item: os.urandom(SALT_BYTES) for item in record.items}
    commitments = [
        government.ItemCommitment(
            code=item, commitment=commit_item(salts[item], item, value, ctx.suite)
        )
        for item, value in record.items.items()
    ]
    lic = government.License(
        license_id=license_id,
        type_code=code,
        issuer=ctx.issuer,
        subject_ref=subject_ref(ctx.subject_key, record.subject, ctx.suite),
        valid_from_ms=valid_from or ctx.now_ms,
        valid_until_ms=valid_until,
        status=government.VALID,
        items=commitments,
        items_root=items_root([c.commitment for c in commitments], ctx.suite),
        source_ref=ctx.mapping.table or "query",
    )
    return lic, salts


def _set_status(state: RowState, status: str, reason: str) -> Change:
    msg = government.SetLicenseStatus(
        license_id=state.license_id,
        status=government.LicenseStatus.Value(status),
        reason=reason,
    )
    return Change(
        "set_status",
        "license.set_status",
        msg,
        state.license_id or "",
        status,
        state.content or b"",
        state.valid_until_ms,
        {},
    )


def plan_row(record: LicenseRecord, state: RowState | None, ctx: PlanContext) -> Change | Settled:
    """The next change a row version needs (see the module docstring's table)."""
    wanted = ctx.mapping.statuses.get(record.status)
    if wanted is None:
        return Settled(f"status code {record.status!r} is not in the mapping's statuses")
    content, valid_from, valid_until = content_of(record, ctx.timezone)
    ended = valid_until != 0 and valid_until <= ctx.now_ms
    if ended and wanted in LIVE:
        wanted = "EXPIRED"
    if not _is_live(state, ctx.now_ms):
        if wanted not in LIVE:
            return Settled(None if state and state.license_id else f"{wanted}: not anchored")
        if not record.items:
            return Settled("no item has a value")
        if not record.subject.strip():
            return Settled("no subject (ID number or credit code)")
        lic, salts = _new_license(record, ctx, valid_from, valid_until)
        return Change(
            "anchor", "license.anchor", lic, lic.license_id, "VALID", content, valid_until, salts
        )
    assert state is not None
    if wanted in LIVE and content != state.content:
        if not record.items:
            return _set_status(state, "CANCELLED", "no item has a value any more")
        lic, salts = _new_license(record, ctx, valid_from, valid_until)
        msg = government.Supersede(license_id=state.license_id, successor=lic)
        return Change(
            "supersede",
            "license.supersede",
            msg,
            lic.license_id,
            "VALID",
            content,
            valid_until,
            salts,
        )
    if wanted != state.chain_status:
        reason = (
            "its validity ended in the department's records"
            if ended
            else f"the department's records say status {record.status!r}"
        )
        return _set_status(state, wanted, reason)
    return Settled()


def plan_removed(state: RowState, now_ms: int) -> Change | None:
    """A row gone from the department's table: its live license is cancelled."""
    if not _is_live(state, now_ms):
        return None
    return _set_status(state, "CANCELLED", "removed from the department's records")
