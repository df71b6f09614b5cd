"""认证链 — the authentication channel: terminals, and the identity checks they perform.

A department registers the terminals it operates (kiosks, service-hall desks, apps) with
their Ed25519 keys; from then on only that terminal's key may record an identity check
made on it (ID card + face at a kiosk, or an online login). A recorded check opens a
session that the authorization chain's grants name; it is valid until `expires_ms` and
only if the check succeeded. A failed check is recorded too: it is the audit of a refusal.

Every terminal has its own key, so a lost or stolen one is cut off alone: its operating
department revokes it (`revoke_terminal`, with a reason). The revocation is recorded in
the terminal's entry with the height of its block, and from that tx on (the rest of its
block and every later block) the terminal's `record_auth` is refused. Grants and pulls
it brokered live on other channels, which cannot read this one: the providing node
checks the terminal's status on its own copy of this ledger at pull time
(node/datashare_api.py, see docs/applications.md "Terminal revocation").

No personal data is stored: the person is a 32-byte `subject_ref` (a keyed hash of the ID
number, computed off chain). The terminal's clock is trusted only within
`CLOCK_SKEW_MS_MAX` of the block timestamp, so a terminal cannot backdate or postdate a
check; "now" is always the block's timestamp, never the local clock.

State layout (keys built with `chains.base.key`):

    terminal\\0<terminal_id>   Terminal     the registered terminal, as sent; status
                                         "revoked", revoked_height and revoke_reason
                                         once revoked (empty status: active)
    session\\0<session_id>     AuthRecord   one identity check, as sent by the terminal
"""

from __future__ import annotations

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
from chains.codes import ALREADY_EXISTS, INVALID_STATE, NOT_ALLOWED, NOT_FOUND
from chains.tx import DecodedTx
from crypto import SIGNATURE_SHAPES
from protos import government_pb2 as government

REGISTER_TERMINAL = "authentication.register_terminal"
RECORD_AUTH = "authentication.record_auth"
REVOKE_TERMINAL = "authentication.revoke_terminal"

CLOCK_SKEW = 110  # the record's time_ms is too far from the block timestamp

CLOCK_SKEW_MS_MAX = 5 * 60 * 1000
ID_BYTES_MAX = 128
TEXT_BYTES_MAX = 512  # location
REASON_BYTES_MAX = 2048  # a revocation's reason
REVOKED = "revoked"
KEY_BYTES = 32
KEY_LENGTHS = frozenset(key for key, _ in SIGNATURE_SHAPES.values())  # per crypto suite
REF_BYTES = 32
HASH_BYTES = 32
TERMINAL_KINDS = frozenset({"kiosk", "hall", "app"})
METHODS = frozenset({"id_card_face", "online_login"})
LEVEL_MIN = 1
LEVEL_MAX = 4

TERMINAL_PREFIX = "terminal"
SESSION_PREFIX = "session"


def terminal_key(terminal_id: str) -> bytes:
    return key(TERMINAL_PREFIX, terminal_id)


def session_key(session_id: str) -> bytes:
    return key(SESSION_PREFIX, session_id)


# ------------------------------------------------------------------ queries


def get_terminal(state: StateReader, terminal_id: str) -> government.Terminal | None:
    return read_record(state, terminal_key(terminal_id), government.Terminal)


def get_session(state: StateReader, session_id: str) -> government.AuthRecord | None:
    return read_record(state, session_key(session_id), government.AuthRecord)


def revocation(terminal: government.Terminal | None) -> str | None:
    """Why nothing the terminal signs or brokered counts any more, or None while it is
    active (an unknown terminal is not "revoked": callers refuse it on their own terms)."""
    if terminal is None or terminal.status != REVOKED:
        return None
    return (
        f"terminal {terminal.terminal_id!r} was revoked by {terminal.department!r} at "
        f"height {terminal.revoked_height}: {terminal.revoke_reason}"
    )


def session_valid(record: government.AuthRecord, now_ms: int) -> bool:
    """A session vouches for its subject only if the check succeeded and has not expired."""
    return record.success and now_ms < record.expires_ms


# ------------------------------------------------------------------ stateless shape


def id_problem(name: str, value: str) -> str | None:
    """Ids become state-key parts, which are joined by 0x00 and must stay short."""
    if not value:
        return f"{name} is empty"
    if "\x00" in value:
        return f"{name} contains a NUL character"
    if len(value.encode()) > ID_BYTES_MAX:
        return f"{name} is longer than {ID_BYTES_MAX} bytes"
    return None


def _terminal_problem(t: government.Terminal) -> str | None:
    problem = id_problem("terminal_id", t.terminal_id) or id_problem("department", t.department)
    if problem:
        return problem
    if t.kind not in TERMINAL_KINDS:
        return f"kind {t.kind!r} is not one of {sorted(TERMINAL_KINDS)}"
    if len(t.public_key) not in KEY_LENGTHS:  # a key of the chain's suite: 32 or 65 bytes
        lengths = " or ".join(str(n) for n in sorted(KEY_LENGTHS))
        return f"public_key must be {lengths} bytes, got {len(t.public_key)}"
    if len(t.location.encode()) > TEXT_BYTES_MAX:
        return f"location is longer than {TEXT_BYTES_MAX} bytes"
    if t.status or t.revoked_height or t.revoke_reason:
        return "status, revoked_height and revoke_reason are set by the chain, not the sender"
    return None


def _revoke_problem(r: government.RevokeTerminal) -> str | None:
    problem = id_problem("terminal_id", r.terminal_id)
    if problem:
        return problem
    if not r.reason.strip():
        return "reason is empty: say why the terminal is revoked"
    if len(r.reason.encode()) > REASON_BYTES_MAX:
        return f"reason is longer than {REASON_BYTES_MAX} bytes"
    return None


def _auth_problem(r: government.AuthRecord) -> str | None:
    problem = id_problem("session_id", r.session_id) or id_problem("terminal_id", r.terminal_id)
    if problem:
        return problem
    if len(r.subject_ref) != REF_BYTES:
        return f"subject_ref must be {REF_BYTES} bytes, got {len(r.subject_ref)}"
    if r.method not in METHODS:
        return f"method {r.method!r} is not one of {sorted(METHODS)}"
    if not LEVEL_MIN <= r.level <= LEVEL_MAX:
        return f"level {r.level} is outside {LEVEL_MIN}..{LEVEL_MAX}"
    if r.evidence_hash and len(r.evidence_hash) != HASH_BYTES:
        return f"evidence_hash must be empty or {HASH_BYTES} bytes"
    if r.expires_ms <= r.time_ms:
        return f"expires_ms {r.expires_ms} is not after time_ms {r.time_ms}"
    return None


TX_TYPES = (
    TxType(REGISTER_TERMINAL, government.Terminal, _terminal_problem),
    TxType(RECORD_AUTH, government.AuthRecord, _auth_problem),
    TxType(REVOKE_TERMINAL, government.RevokeTerminal, _revoke_problem),
)


# ------------------------------------------------------------------ handlers


def process_register_terminal(
    state: TxState, tx: DecodedTx, t: government.Terminal, ctx: BlockContext
) -> None:
    """A department registers a terminal it operates.

    - the signer is a key of a registered department (NOT_ALLOWED)
    - `department` is the signer's department (NOT_ALLOWED)
    - `terminal_id` is not registered yet (ALREADY_EXISTS)
    - shape: ids set, kind in kiosk/hall/app, 32-byte public_key, no status,
      revoked_height or revoke_reason (BAD_PAYLOAD)
    """
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None:
        raise Refusal(NOT_ALLOWED, "signer is not a key of a registered department")
    if t.department != dept.id:
        raise Refusal(NOT_ALLOWED, f"signer's department is {dept.id!r}, not {t.department!r}")
    if state.get(terminal_key(t.terminal_id)) is not None:
        raise Refusal(ALREADY_EXISTS, f"terminal {t.terminal_id!r} is already registered")
    state.put(terminal_key(t.terminal_id), t)


def process_record_auth(
    state: TxState, tx: DecodedTx, r: government.AuthRecord, ctx: BlockContext
) -> None:
    """A terminal records an identity check it performed (successful or not).

    - the terminal is registered (NOT_FOUND)
    - the tx is signed by that terminal's key (NOT_ALLOWED)
    - the terminal is not revoked (NOT_ALLOWED)
    - `session_id` is not recorded yet (ALREADY_EXISTS)
    - `time_ms` is within ±CLOCK_SKEW_MS_MAX of the block timestamp (CLOCK_SKEW)
    - shape: 32-byte subject_ref, method id_card_face/online_login, level 1..4,
      expires_ms > time_ms, evidence_hash empty or 32 bytes (BAD_PAYLOAD)
    """
    terminal = get_terminal(state, r.terminal_id)
    if terminal is None:
        raise Refusal(NOT_FOUND, f"terminal {r.terminal_id!r} is not registered")
    if tx.signer != terminal.public_key:
        raise Refusal(NOT_ALLOWED, f"tx is not signed by terminal {r.terminal_id!r}'s key")
    revoked = revocation(terminal)
    if revoked:
        raise Refusal(NOT_ALLOWED, f"{revoked}; it may record no identity check")
    if state.get(session_key(r.session_id)) is not None:
        raise Refusal(ALREADY_EXISTS, f"session {r.session_id!r} is already recorded")
    skew_ms = r.time_ms - ctx.timestamp_ms
    if abs(skew_ms) > CLOCK_SKEW_MS_MAX:
        raise Refusal(
            CLOCK_SKEW,
            f"time_ms is {skew_ms} ms from the block timestamp (limit ±{CLOCK_SKEW_MS_MAX})",
        )
    state.put(session_key(r.session_id), r)


def process_revoke_terminal(
    state: TxState, tx: DecodedTx, r: government.RevokeTerminal, ctx: BlockContext
) -> None:
    """The operating department revokes one of its terminals (its key is lost or stolen).

    - the signer is a key of a registered department (NOT_ALLOWED)
    - the terminal is registered (NOT_FOUND)
    - the signer's department operates the terminal (NOT_ALLOWED)
    - the terminal is not revoked yet (INVALID_STATE): the first revocation's height and
      reason stand
    - shape: terminal_id set, a non-empty reason of at most 2048 bytes (BAD_PAYLOAD)
    - the entry keeps everything it had and gains status "revoked", the block's height
      and the reason; sessions it recorded stay on chain as history
    """
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None:
        raise Refusal(NOT_ALLOWED, "signer is not a key of a registered department")
    terminal = get_terminal(state, r.terminal_id)
    if terminal is None:
        raise Refusal(NOT_FOUND, f"terminal {r.terminal_id!r} is not registered")
    if terminal.department != dept.id:
        raise Refusal(
            NOT_ALLOWED,
            f"terminal {r.terminal_id!r} is operated by {terminal.department!r}, not {dept.id!r}",
        )
    if terminal.status == REVOKED:
        raise Refusal(INVALID_STATE, f"{revocation(terminal)}; it is revoked already")
    terminal.status = REVOKED
    terminal.revoked_height = ctx.height
    terminal.revoke_reason = r.reason
    state.put(terminal_key(r.terminal_id), terminal)


ROUTES = dispatch_table(TX_TYPES, globals())


class AuthenticationApplication(TxApplication):
    """The authentication channel's application (see the module docstring)."""

    routes = ROUTES
