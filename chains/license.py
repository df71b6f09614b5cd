"""证照链 — the license chain: electronic licenses anchored by the departments that issue
them, without their content.

A license on chain is an identifier, a type, an issuer, a keyed-hash subject reference,
a validity window, a status and one salted commitment per data item with their Merkle
root. The values stay in the issuing department's own system; a requester who receives
them (sealed, under a grant) checks them against these commitments. Only the department
that defines a license type may anchor licenses of that type or change them, so a
compromised key of another department cannot forge or revoke anybody's license.

Transactions (`TxBody.type` → payload message), all from a registered department:

| type                    | payload            | rules in                  |
|-------------------------|--------------------|---------------------------|
| `license.register_type` | `LicenseType`      | `process_register_type`   |
| `license.anchor`        | `License`          | `process_anchor`          |
| `license.set_status`    | `SetLicenseStatus` | `process_set_status`      |
| `license.supersede`     | `Supersede`        | `process_supersede`       |

License ids follow the shape of GB/T 36904 (电子证照标识: type code, issuing authority,
year, serial), written `<type code>-<issuer>-<year>-<serial>`: the type code is 2..32
ASCII letters or digits, the issuer is the issuing department's id (ASCII letters,
digits, `.`, `_`, `-`), the year 4 digits and the serial 1..12 digits, e.g.
`BL01-market-regulation-2024-000123`. The year and serial contain no `-`, so the id
splits unambiguously from both ends. See `LICENSE_ID_RE` and `make_license_id`.

Status transitions: VALID ↔ SUSPENDED; VALID or SUSPENDED → REVOKED, CANCELLED or
EXPIRED, which are terminal. A license is valid on [valid_from_ms, valid_until_ms): once
the block time reaches valid_until_ms its *effective* status is EXPIRED whether or not
anybody sent `set_status`, and it can no longer be changed or superseded.

State layout (keys built with `chains.base.key`, parts joined by 0x00):

| key                                         | value                              |
|---------------------------------------------|------------------------------------|
| `type \\0 <type code>`                       | `LicenseType`                      |
| `license \\0 <license id>`                   | `License` (status as last set)     |
| `holder \\0 <subject_ref hex> \\0 <type code>` | license ids of that holder and type, |
|                                             | in anchor order, joined by `\\n`    |

The holder index exists because the state offers point reads only: the pull flow must
find "this company's business license" without scanning.
"""

from __future__ import annotations

import re

from chains.base import (
    BlockContext,
    Department,
    Refusal,
    StateReader,
    TxState,
    TxType,
    dispatch_table,
    key,
    read_record,
)
from chains.catalog import (
    DepartmentApplication,
    check_data_items,
    is_ident,
    signer_department,
)
from chains.codes import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OUT_OF_SCOPE,
)
from chains.tx import DecodedTx
from consensus.hashing import SHA256, Hashing
from protos import government_pb2 as government

TYPE_CODE_RE = re.compile(r"[A-Za-z0-9]{2,32}", re.ASCII)
LICENSE_ID_RE = re.compile(
    r"(?P<type>[A-Za-z0-9]{2,32})-(?P<issuer>[A-Za-z0-9._-]{1,64})"
    r"-(?P<year>[0-9]{4})-(?P<serial>[0-9]{1,12})",
    re.ASCII,
)
HOLDER_TYPES = ("person", "company")
SUBJECT_REF_BYTES = 32
COMMITMENT_BYTES = 32

TERMINAL = frozenset({government.REVOKED, government.CANCELLED, government.EXPIRED})
SETTABLE = frozenset(
    {
        government.VALID,
        government.SUSPENDED,
        government.REVOKED,
        government.CANCELLED,
        government.EXPIRED,
    }
)

TYPE_PREFIX = "type"
LICENSE_PREFIX = "license"
HOLDER_PREFIX = "holder"


# ------------------------------------------------------------------ ids, keys and queries


def make_license_id(type_code: str, issuer: str, year: int, serial: int) -> str:
    """A license id in the documented shape (serial zero-padded to 6 digits)."""
    return f"{type_code}-{issuer}-{year:04d}-{serial:06d}"


def parse_license_id(license_id: str) -> tuple[str, str, str, str] | None:
    """(type code, issuer, year, serial) of a well-shaped id, else None."""
    m = LICENSE_ID_RE.fullmatch(license_id)
    return None if m is None else (m["type"], m["issuer"], m["year"], m["serial"])


def type_key(code: str) -> bytes:
    return key(TYPE_PREFIX, code)


def license_key(license_id: str) -> bytes:
    return key(LICENSE_PREFIX, license_id)


def holder_key(subject_ref: bytes, type_code: str) -> bytes:
    return key(HOLDER_PREFIX, subject_ref.hex(), type_code)


def get_type(state: StateReader, code: str) -> government.LicenseType | None:
    """The license type `code`, or None."""
    if not is_ident(code):
        return None
    return read_record(state, type_key(code), government.LicenseType)


def get_license(state: StateReader, license_id: str) -> government.License | None:
    """The anchored license with its last *set* status (see `effective_status`), or None."""
    if not is_ident(license_id):
        return None
    return read_record(state, license_key(license_id), government.License)


def find_licenses(state: StateReader, subject_ref: bytes, type_code: str) -> list[str]:
    """Ids of every license of `type_code` anchored for a subject, oldest first."""
    if not is_ident(type_code):
        return []
    raw = state.get(holder_key(subject_ref, type_code))
    return raw.decode().split("\n") if raw else []


def effective_status(license: government.License, now_ms: int) -> government.LicenseStatus:
    """The status to honour at `now_ms`.

    A VALID or SUSPENDED license whose valid_until_ms has been reached is EXPIRED even if
    nobody recorded it: expiry needs no transaction, so an expired license is never
    reported valid. REVOKED and CANCELLED stay as they are (they say more than EXPIRED).
    """
    status = license.status
    if status in TERMINAL:
        return status
    if license.valid_until_ms and now_ms >= license.valid_until_ms:
        return government.EXPIRED
    return status


def is_valid(license: government.License, now_ms: int) -> bool:
    """True if the license is in force at `now_ms` (VALID and inside its window)."""
    return effective_status(license, now_ms) == government.VALID and now_ms >= license.valid_from_ms


# ------------------------------------------------------------------ handlers


def process_register_type(
    state: TxState, tx: DecodedTx, msg: government.LicenseType, ctx: BlockContext
) -> None:
    """Define a license type.

    - code is 2..32 ASCII letters or digits (it heads every license id of the type)
    - the code is not defined yet (ALREADY_EXISTS)
    - department is the signer's department (NOT_ALLOWED): it alone will anchor and
      change licenses of this type
    - name set; holder_type "person" or "company"; data items well formed
      (`chains.catalog.check_data_items`); catalog_resource empty or an identifier
    """
    dept = signer_department(tx, ctx)
    if not TYPE_CODE_RE.fullmatch(msg.code):
        raise Refusal(BAD_PAYLOAD, f"type code {msg.code!r} must be 2..32 letters or digits")
    if msg.department != dept.id:
        raise Refusal(NOT_ALLOWED, f"department {msg.department!r} is not the signer's {dept.id!r}")
    if not msg.name:
        raise Refusal(BAD_PAYLOAD, f"license type {msg.code!r} has no name")
    if msg.holder_type not in HOLDER_TYPES:
        raise Refusal(BAD_PAYLOAD, f"holder type {msg.holder_type!r} is not one of {HOLDER_TYPES}")
    reason = check_data_items(msg.items)
    if reason:
        raise Refusal(BAD_PAYLOAD, reason)
    if msg.catalog_resource and not is_ident(msg.catalog_resource):
        raise Refusal(BAD_PAYLOAD, "catalog_resource must be a resource code")
    if state.get(type_key(msg.code)) is not None:
        raise Refusal(ALREADY_EXISTS, f"license type {msg.code!r} is already defined")
    state.put(type_key(msg.code), msg)


def _may_change(state: TxState, dept: Department, license_id: str) -> government.License:
    """The license, if it exists and the signer's department defines its type."""
    lic = get_license(state, license_id)
    if lic is None:
        raise Refusal(NOT_FOUND, f"license {license_id!r} is not anchored")
    ltype = get_type(state, lic.type_code)
    if ltype is None or ltype.department != dept.id:
        owner = ltype.department if ltype else "?"
        raise Refusal(
            NOT_ALLOWED,
            f"only {owner!r}, which defines type {lic.type_code!r}, may change {license_id!r}",
        )
    return lic


def _check_items(
    ltype: government.LicenseType, lic: government.License, hashing: Hashing = SHA256
) -> None:
    codes = [c.code for c in lic.items]
    if not codes:
        raise Refusal(BAD_PAYLOAD, "a license commits to at least one data item")
    if len(set(codes)) != len(codes):
        raise Refusal(BAD_PAYLOAD, "an item code is committed twice")
    outside = sorted(set(codes) - {i.code for i in ltype.items})
    if outside:
        raise Refusal(OUT_OF_SCOPE, f"items {outside} are not items of type {ltype.code!r}")
    for c in lic.items:
        if len(c.commitment) != COMMITMENT_BYTES:
            raise Refusal(BAD_PAYLOAD, f"commitment of {c.code!r} is not {COMMITMENT_BYTES} bytes")
    if lic.items_root != hashing.merkle_root([c.commitment for c in lic.items]):
        raise Refusal(BAD_PAYLOAD, "items_root is not the Merkle root of the commitments")


def _check_anchor(
    state: TxState, dept: Department, lic: government.License, ctx: BlockContext
) -> None:
    """The anchor rules (see `process_anchor`); refuses unless `lic` may be stored."""
    parts = parse_license_id(lic.license_id)
    if parts is None:
        raise Refusal(
            BAD_PAYLOAD,
            f"license id {lic.license_id!r} is not <type code>-<issuer>-<yyyy>-<serial>",
        )
    ltype = get_type(state, lic.type_code)
    if ltype is None:
        raise Refusal(NOT_FOUND, f"license type {lic.type_code!r} is not defined")
    if ltype.department != dept.id:
        raise Refusal(NOT_ALLOWED, f"only {ltype.department!r} anchors licenses of {ltype.code!r}")
    if lic.issuer != dept.id:
        raise Refusal(NOT_ALLOWED, f"issuer {lic.issuer!r} is not the signer's {dept.id!r}")
    if parts[0] != lic.type_code or parts[1] != lic.issuer:
        raise Refusal(BAD_PAYLOAD, f"license id {lic.license_id!r} names another type or issuer")
    if state.get(license_key(lic.license_id)) is not None:
        raise Refusal(ALREADY_EXISTS, f"license {lic.license_id!r} is already anchored")
    if len(lic.subject_ref) != SUBJECT_REF_BYTES:
        raise Refusal(BAD_PAYLOAD, f"subject_ref must be {SUBJECT_REF_BYTES} bytes (a keyed hash)")
    _check_items(ltype, lic, ctx.hashing)  # the channel's suite hash
    if lic.status not in (government.LICENSE_STATUS_UNSPECIFIED, government.VALID):
        raise Refusal(BAD_PAYLOAD, "a license is anchored VALID")
    if lic.superseded_by:
        raise Refusal(BAD_PAYLOAD, "superseded_by is kept by the chain; leave it unset")
    if lic.valid_until_ms and lic.valid_until_ms <= lic.valid_from_ms:
        raise Refusal(BAD_PAYLOAD, "valid_until_ms must be 0 (no expiry) or after valid_from_ms")
    if lic.valid_until_ms and lic.valid_until_ms <= ctx.timestamp_ms:
        raise Refusal(INVALID_STATE, f"license expired at {lic.valid_until_ms} ms already")


def _store_new(state: TxState, lic: government.License) -> None:
    stored = government.License()
    stored.CopyFrom(lic)
    stored.status = government.VALID
    state.put(license_key(lic.license_id), stored)
    hk = holder_key(lic.subject_ref, lic.type_code)
    previous = state.get(hk)
    ids = (previous.decode() + "\n" if previous else "") + lic.license_id
    state.put_raw(hk, ids.encode())


def process_anchor(
    state: TxState, tx: DecodedTx, msg: government.License, ctx: BlockContext
) -> None:
    """Anchor a newly issued license.

    - license id in the documented shape (BAD_PAYLOAD), naming its type and issuer
    - the type exists (NOT_FOUND) and the signer's department defines it (NOT_ALLOWED)
    - issuer is the signer's department (NOT_ALLOWED)
    - the id is not anchored yet (ALREADY_EXISTS)
    - subject_ref is 32 bytes; at least one item commitment, codes unique, each 32
      bytes; codes among the type's items (OUT_OF_SCOPE); items_root is
      `merkle_root` of the commitments in order (BAD_PAYLOAD)
    - status unset or VALID (stored VALID); superseded_by unset
    - valid_until_ms 0 or after valid_from_ms (BAD_PAYLOAD), and not already reached at
      the block time (INVALID_STATE)
    """
    dept = signer_department(tx, ctx)
    _check_anchor(state, dept, msg, ctx)
    _store_new(state, msg)


def process_set_status(
    state: TxState, tx: DecodedTx, msg: government.SetLicenseStatus, ctx: BlockContext
) -> None:
    """Suspend, reinstate, revoke, cancel or expire a license.

    - the license exists (NOT_FOUND); the signer's department defines its type
      (NOT_ALLOWED)
    - the new status is a real status (BAD_PAYLOAD) and a reason is given
    - from the effective status at the block time: VALID → SUSPENDED; SUSPENDED →
      VALID; VALID or SUSPENDED → REVOKED, CANCELLED, EXPIRED. Any other transition,
      including one out of REVOKED, CANCELLED or EXPIRED, is INVALID_STATE
    """
    dept = signer_department(tx, ctx)
    found = _may_change(state, dept, msg.license_id)
    if msg.status not in SETTABLE:
        raise Refusal(BAD_PAYLOAD, f"status {msg.status} is not a license status")
    if not msg.reason:
        raise Refusal(BAD_PAYLOAD, "a status change must state its reason")
    current = effective_status(found, ctx.timestamp_ms)
    name = government.LicenseStatus.Name
    if current in TERMINAL:
        raise Refusal(INVALID_STATE, f"license {msg.license_id!r} is {name(current)} for good")
    if msg.status == current:
        raise Refusal(INVALID_STATE, f"license {msg.license_id!r} is {name(current)} already")
    found.status = msg.status
    state.put(license_key(msg.license_id), found)


def process_supersede(
    state: TxState, tx: DecodedTx, msg: government.Supersede, ctx: BlockContext
) -> None:
    """Replace a license by a successor (a reissue after a change of its data).

    - the old license exists (NOT_FOUND); the signer's department defines its type
      (NOT_ALLOWED)
    - its effective status is VALID or SUSPENDED (INVALID_STATE)
    - a successor is given, of the same type and for the same subject (BAD_PAYLOAD),
      and it follows every anchor rule (see `process_anchor`)
    - the successor is stored VALID; the old license becomes CANCELLED with
      superseded_by naming the successor
    """
    dept = signer_department(tx, ctx)
    old = _may_change(state, dept, msg.license_id)
    current = effective_status(old, ctx.timestamp_ms)
    if current not in (government.VALID, government.SUSPENDED):
        name = government.LicenseStatus.Name(current)
        raise Refusal(INVALID_STATE, f"license {msg.license_id!r} is {name}; cannot supersede")
    if not msg.HasField("successor"):
        raise Refusal(BAD_PAYLOAD, "supersede needs the successor license")
    new = msg.successor
    if new.type_code != old.type_code:
        raise Refusal(BAD_PAYLOAD, f"the successor must be of type {old.type_code!r}")
    if new.subject_ref != old.subject_ref:
        raise Refusal(BAD_PAYLOAD, "the successor must be for the same subject")
    _check_anchor(state, dept, new, ctx)
    _store_new(state, new)
    old.status = government.CANCELLED
    old.superseded_by = new.license_id
    state.put(license_key(old.license_id), old)


TX_TYPES = (
    TxType("license.register_type", government.LicenseType),
    TxType("license.anchor", government.License),
    TxType("license.set_status", government.SetLicenseStatus),
    TxType("license.supersede", government.Supersede),
)
ROUTES = dispatch_table(TX_TYPES, globals())


class LicenseApplication(DepartmentApplication):
    """The license channel's application (see the module docstring for rules and keys)."""

    routes = ROUTES
