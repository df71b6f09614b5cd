"""授权链 — the authorization channel: a subject's grants, and every access made under them.

A grant lets one department (the grantee) read named data items about one subject, for a
purpose and a service case, within a time window and up to a number of uses. It is
signed at the kiosk by the terminal on the subject's behalf; this channel reads nothing
from the authentication channel, so it learns terminal keys from the consortium's
department registry: a terminal key is a key of a department whose roles contain
"terminal". The providing department records every access it serves or refuses; a
"granted" access is accepted only if the grant honours it at the block's timestamp and
then consumes one use, so the chain itself enforces minimal disclosure and max uses. A
"denied" access is the audit of a refusal and is always accepted. `access_history` answers
"who used my data, when, for what" from a per-subject index.

No personal data is stored: the subject is a 32-byte `subject_ref`.

State layout (keys built with `chains.base.key`; n is a 16-digit hex counter):

    grant\\0<grant_id>                 Grant          status active/revoked/closed/exhausted
                                                    (expiry is computed: effective_status)
    grant_issuer\\0<grant_id>          utf-8 str      department of the terminal that signed it
    access\\0<access_id>               AccessRecord   with time_ms and subject_ref filled in
    subject_accesses\\0<ref hex>       8-byte BE int  number of accesses of the subject
    subject_access\\0<ref hex>\\0<n>    utf-8 str      access_id of the subject's n-th access
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chains.authentication import HASH_BYTES, REF_BYTES, id_problem
from chains.base import (
    BlockContext,
    Refusal,
    StateReader,
    TxApplication,
    TxState,
    TxType,
    dispatch_table,
    key,
    read_record,
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
from protos import government_pb2 as government

CREATE_GRANT = "authorization.create_grant"
REVOKE_GRANT = "authorization.revoke_grant"
CLOSE_GRANT = "authorization.close_grant"
RECORD_ACCESS = "authorization.record_access"

ACTIVE = "active"
REVOKED = "revoked"
CLOSED = "closed"
EXHAUSTED = "exhausted"
GRANTED = "granted"
DENIED = "denied"
OUTCOMES = frozenset({GRANTED, DENIED})
TERMINAL_ROLE = "terminal"

GRANT_ITEMS_MAX = 256
ITEM_BYTES_MAX = 128
TEXT_BYTES_MAX = 1024  # purpose, requester
REASON_BYTES_MAX = 2048  # a denial's reason (up to ~680 Chinese characters)

GRANT_PREFIX = "grant"
ISSUER_PREFIX = "grant_issuer"
ACCESS_PREFIX = "access"
SUBJECT_COUNT_PREFIX = "subject_accesses"
SUBJECT_ENTRY_PREFIX = "subject_access"


def grant_key(grant_id: str) -> bytes:
    return key(GRANT_PREFIX, grant_id)


def issuer_key(grant_id: str) -> bytes:
    return key(ISSUER_PREFIX, grant_id)


def access_key(access_id: str) -> bytes:
    return key(ACCESS_PREFIX, access_id)


def subject_count_key(subject_ref: bytes) -> bytes:
    # hex: a raw 32-byte ref may contain the 0x00 that separates key parts
    return key(SUBJECT_COUNT_PREFIX, subject_ref.hex())


def subject_entry_key(subject_ref: bytes, n: int) -> bytes:
    return key(SUBJECT_ENTRY_PREFIX, subject_ref.hex(), f"{n:016x}")


# ------------------------------------------------------------------ queries


def get_grant(state: StateReader, grant_id: str) -> government.Grant | None:
    return read_record(state, grant_key(grant_id), government.Grant)


def get_grant_issuer(state: StateReader, grant_id: str) -> str | None:
    """The department whose terminal signed the grant (it may revoke it)."""
    raw = state.get(issuer_key(grant_id))
    return None if raw is None else raw.decode()


def get_access(state: StateReader, access_id: str) -> government.AccessRecord | None:
    return read_record(state, access_key(access_id), government.AccessRecord)


def _access_count(read: Callable[[bytes], bytes | None], subject_ref: bytes) -> int:
    raw = read(subject_count_key(subject_ref))
    return 0 if raw is None else int.from_bytes(raw, "big")


def access_history(state: StateReader, subject_ref: bytes) -> list[government.AccessRecord]:
    """Every access (granted and denied) about the subject, in commit order."""
    out = []
    for n in range(_access_count(state.get, subject_ref)):
        access_id = state.get(subject_entry_key(subject_ref, n))
        assert access_id is not None, "subject index entry missing"
        record = get_access(state, access_id.decode())
        assert record is not None, "indexed access missing"
        out.append(record)
    return out


def grant_refusal(
    grant: government.Grant, requester: str, items: Iterable[str], now_ms: int
) -> tuple[int, str] | None:
    """Why the grant does not let `requester` read `items` at `now_ms`, with the code."""
    wanted = list(items)
    if grant.status != ACTIVE:
        return INVALID_STATE, f"grant {grant.grant_id!r} is {grant.status}"
    if now_ms < grant.valid_from_ms:
        return INVALID_STATE, f"grant {grant.grant_id!r} is not valid before {grant.valid_from_ms}"
    if now_ms >= grant.valid_until_ms:
        return INVALID_STATE, f"grant {grant.grant_id!r} expired at {grant.valid_until_ms}"
    if grant.uses >= grant.max_uses:
        return INVALID_STATE, f"grant {grant.grant_id!r} is exhausted ({grant.max_uses} uses)"
    if requester != grant.grantee:
        return NOT_ALLOWED, f"requester {requester!r} is not the grantee {grant.grantee!r}"
    if not wanted:
        return BAD_PAYLOAD, "no items requested"
    outside = sorted(set(wanted) - set(grant.items))
    if outside:
        return OUT_OF_SCOPE, f"items outside the grant: {', '.join(outside)}"
    return None


def effective_status(grant: government.Grant, now_ms: int) -> str:
    """The stored status, or "expired"/"pending" for an active grant outside its window.

    No tx marks a grant expired: time is the block timestamp, so expiry is computed.
    """
    if grant.status == ACTIVE and now_ms >= grant.valid_until_ms:
        return "expired"
    if grant.status == ACTIVE and now_ms < grant.valid_from_ms:
        return "pending"
    return grant.status


def check_grant(
    grant: government.Grant, requester: str, items: Iterable[str], now_ms: int
) -> str | None:
    """The refusal reason, or None if the grant honours this access now (before release)."""
    refusal = grant_refusal(grant, requester, items, now_ms)
    return None if refusal is None else refusal[1]


# ------------------------------------------------------------------ stateless shape


def _items_problem(items: Iterable[str]) -> str | None:
    for item in items:
        if len(item.encode()) > ITEM_BYTES_MAX:
            return f"item {item[:32]!r}… is longer than {ITEM_BYTES_MAX} bytes"
    return None


def _grant_problem(g: government.Grant) -> str | None:
    problem = id_problem("grant_id", g.grant_id) or id_problem("grantee", g.grantee)
    if problem:
        return problem
    if len(g.subject_ref) != REF_BYTES:
        return f"subject_ref must be {REF_BYTES} bytes, got {len(g.subject_ref)}"
    if not g.items:
        return "items is empty"
    if len(g.items) > GRANT_ITEMS_MAX:
        return f"more than {GRANT_ITEMS_MAX} items"
    if len(set(g.items)) != len(g.items):
        return "items repeat"
    for item in g.items:
        parts = item.split("/")
        if len(parts) != 2 or not all(parts):
            return f"item {item!r} is not of the form resource/item"
    problem = _items_problem(g.items)
    if problem:
        return problem
    if g.valid_until_ms <= g.valid_from_ms:
        return f"valid_until_ms {g.valid_until_ms} is not after valid_from_ms {g.valid_from_ms}"
    if g.max_uses < 1:
        return "max_uses must be at least 1"
    if g.legal_basis not in (government.CONSENT, government.STATUTORY_DUTY):
        return "legal_basis must be CONSENT or STATUTORY_DUTY"
    if g.legal_basis == government.CONSENT and len(g.consent_text_hash) != HASH_BYTES:
        return f"consent_text_hash must be {HASH_BYTES} bytes under CONSENT"
    if len(g.purpose.encode()) > TEXT_BYTES_MAX:
        return f"purpose is longer than {TEXT_BYTES_MAX} bytes"
    return None


def _revoke_problem(r: government.RevokeGrant) -> str | None:
    if len(r.reason.encode()) > REASON_BYTES_MAX:
        return f"reason is longer than {REASON_BYTES_MAX} bytes"
    return id_problem("grant_id", r.grant_id)


def _close_problem(c: government.CloseGrant) -> str | None:
    return id_problem("grant_id", c.grant_id)


def _access_problem(a: government.AccessRecord) -> str | None:
    problem = (
        id_problem("access_id", a.access_id)
        or id_problem("grant_id", a.grant_id)
        or id_problem("provider", a.provider)
    )
    if problem:
        return problem
    if len(a.requester.encode()) > TEXT_BYTES_MAX:
        return f"requester is longer than {TEXT_BYTES_MAX} bytes"
    if a.outcome not in OUTCOMES:
        return f"outcome {a.outcome!r} is not one of {sorted(OUTCOMES)}"
    if len(a.items) > GRANT_ITEMS_MAX:
        return f"more than {GRANT_ITEMS_MAX} items"
    problem = _items_problem(a.items)
    if problem:
        return problem
    for name in ("request_hash", "response_hash"):
        if getattr(a, name) and len(getattr(a, name)) != HASH_BYTES:
            return f"{name} must be empty or {HASH_BYTES} bytes"
    if len(a.reason.encode()) > REASON_BYTES_MAX:
        return f"reason is longer than {REASON_BYTES_MAX} bytes"
    return None


TX_TYPES = (
    TxType(CREATE_GRANT, government.Grant, _grant_problem),
    TxType(REVOKE_GRANT, government.RevokeGrant, _revoke_problem),
    TxType(CLOSE_GRANT, government.CloseGrant, _close_problem),
    TxType(RECORD_ACCESS, government.AccessRecord, _access_problem),
)


# ------------------------------------------------------------------ handlers


def process_create_grant(
    state: TxState, tx: DecodedTx, g: government.Grant, ctx: BlockContext
) -> None:
    """A kiosk terminal records the subject's grant on their behalf.

    - the signer is a key of a department with the "terminal" role (NOT_ALLOWED)
    - `grant_id` is not used yet (ALREADY_EXISTS)
    - the grantee is a registered department (NOT_FOUND)
    - shape: 32-byte subject_ref, 1..256 unique "resource/item" items,
      valid_until_ms > valid_from_ms, max_uses >= 1, legal_basis set, a 32-byte
      consent_text_hash under CONSENT (BAD_PAYLOAD)
    - stored with uses 0 and status "active" whatever the payload says; the signer's
      department is kept as the issuer, which may revoke it
    """
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None or TERMINAL_ROLE not in dept.roles:
        raise Refusal(NOT_ALLOWED, "signer is not a terminal key of a registered department")
    if state.get(grant_key(g.grant_id)) is not None:
        raise Refusal(ALREADY_EXISTS, f"grant {g.grant_id!r} already exists")
    if g.grantee not in ctx.departments.by_id:
        raise Refusal(NOT_FOUND, f"grantee {g.grantee!r} is not a registered department")
    g.uses = 0
    g.status = ACTIVE
    state.put(grant_key(g.grant_id), g)
    state.put_raw(issuer_key(g.grant_id), dept.id.encode())


def _end_grant(
    state: TxState,
    tx: DecodedTx,
    ctx: BlockContext,
    grant_id: str,
    enders: Callable[[government.Grant], tuple[str | None, ...]],
    status: str,
) -> None:
    """Shared rules of revoke and close: the grant exists, the signer's department is one
    of `enders(grant)`, and the grant is active; it then takes `status`."""
    dept = ctx.departments.of_signer(tx.signer)
    signer = "" if dept is None else dept.id
    grant = state.read(grant_key(grant_id), government.Grant)
    if grant is None:
        raise Refusal(NOT_FOUND, f"grant {grant_id!r} does not exist")
    if not signer or signer not in enders(grant):
        raise Refusal(NOT_ALLOWED, f"department {signer!r} may not end grant {grant_id!r}")
    if grant.status != ACTIVE:
        raise Refusal(INVALID_STATE, f"grant {grant_id!r} is {grant.status}, not active")
    grant.status = status
    state.put(grant_key(grant.grant_id), grant)


def process_revoke_grant(
    state: TxState, tx: DecodedTx, r: government.RevokeGrant, ctx: BlockContext
) -> None:
    """The subject (through the issuing terminal's department) or the grantee revokes.

    - the grant exists (NOT_FOUND)
    - the signer's department is the grant's issuer or its grantee (NOT_ALLOWED)
    - the grant is active (INVALID_STATE)
    """
    issuer = get_grant_issuer(state, r.grant_id)
    _end_grant(state, tx, ctx, r.grant_id, lambda g: (issuer, g.grantee), REVOKED)


def process_close_grant(
    state: TxState, tx: DecodedTx, c: government.CloseGrant, ctx: BlockContext
) -> None:
    """The grantee closes a grant it no longer needs (its case is done).

    - the grant exists (NOT_FOUND)
    - the signer's department is the grantee (NOT_ALLOWED)
    - the grant is active (INVALID_STATE)
    """
    _end_grant(state, tx, ctx, c.grant_id, lambda g: (g.grantee,), CLOSED)


def process_record_access(
    state: TxState, tx: DecodedTx, a: government.AccessRecord, ctx: BlockContext
) -> None:
    """The providing department records an access it served or refused.

    - the signer is a key of a registered department, and `provider` is it (NOT_ALLOWED)
    - `access_id` is not used yet (ALREADY_EXISTS)
    - the grant exists (NOT_FOUND), except for "denied": a pull refused because its
      grant does not exist is still audited, kept by access id (no subject is known,
      so it is in no subject's history)
    - "denied" is always accepted (any reason: it audits a refusal) and uses nothing
    - "granted" only if, at the block timestamp, the grant is active, in its window and
      below max uses (INVALID_STATE), the requester is the grantee (NOT_ALLOWED), and
      the items are a non-empty subset of the grant's (OUT_OF_SCOPE); it then uses
      one use, and the grant becomes "exhausted" at max uses
    - stored with time_ms = block timestamp and the grant's subject_ref, and appended
      to the subject's access history
    """
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None:
        raise Refusal(NOT_ALLOWED, "signer is not a key of a registered department")
    if a.provider != dept.id:
        raise Refusal(NOT_ALLOWED, f"signer's department is {dept.id!r}, not {a.provider!r}")
    if state.get(access_key(a.access_id)) is not None:
        raise Refusal(ALREADY_EXISTS, f"access {a.access_id!r} is already recorded")
    grant = state.read(grant_key(a.grant_id), government.Grant)
    if grant is None:
        if a.outcome != DENIED:
            raise Refusal(NOT_FOUND, f"grant {a.grant_id!r} does not exist")
        a.time_ms = ctx.timestamp_ms
        state.put(access_key(a.access_id), a)
        return
    if a.outcome == GRANTED:
        refusal = grant_refusal(grant, a.requester, a.items, ctx.timestamp_ms)
        if refusal is not None:
            raise Refusal(*refusal)
        grant.uses += 1
        if grant.uses >= grant.max_uses:
            grant.status = EXHAUSTED
        state.put(grant_key(grant.grant_id), grant)
    a.time_ms = ctx.timestamp_ms
    a.subject_ref = grant.subject_ref
    state.put(access_key(a.access_id), a)
    n = _access_count(state.get, grant.subject_ref)
    state.put_raw(subject_entry_key(grant.subject_ref, n), a.access_id.encode())
    state.put_raw(subject_count_key(grant.subject_ref), (n + 1).to_bytes(8, "big"))


ROUTES = dispatch_table(TX_TYPES, globals())


class AuthorizationApplication(TxApplication):
    """The authorization channel's application (see the module docstring)."""

    routes = ROUTES
