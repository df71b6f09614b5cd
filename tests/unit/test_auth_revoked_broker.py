"""The provider's terminal check at pull time (node/datashare_api.py): a grant is void once
a terminal that brokered it is revoked on the provider's own authentication ledger —
the terminal that recorded its identity check, the one it names, or the genesis
"terminal" entry whose key signed it. Over a dict standing for the committed ledger."""

from __future__ import annotations

from types import SimpleNamespace

from chains.authentication import REVOKED, terminal_key
from chains.base import Department
from node.datashare_api import revoked_broker, revoked_identity
from protos import government_pb2 as government

KIOSK_KEY = b"\x01" * 32
OTHER_KEY = b"\x02" * 32


def ledger(*terminals: government.Terminal) -> SimpleNamespace:
    stored = {terminal_key(t.terminal_id): t.SerializeToString() for t in terminals}
    return SimpleNamespace(get=stored.get)


def kiosk(terminal_id: str, key: bytes = KIOSK_KEY, revoked: bool = False) -> government.Terminal:
    t = government.Terminal(
        terminal_id=terminal_id, kind="kiosk", department="agriculture", public_key=key
    )
    if revoked:
        t.status, t.revoked_height, t.revoke_reason = REVOKED, 42, "stolen"
    return t


def genesis_terminal(dept_id: str, key: bytes = KIOSK_KEY) -> Department:
    return Department(dept_id, dept_id, frozenset({key}), frozenset({"terminal"}))


SESSION = government.AuthRecord(session_id="S1", terminal_id="k-01", success=True)
GRANT = government.Grant(grant_id="G1", auth_session="S1", terminal_id="k-02")


def test_active_terminals_void_nothing() -> None:
    state = ledger(kiosk("k-01"), kiosk("k-02", OTHER_KEY), kiosk("broker"))
    assert revoked_broker(state, GRANT, SESSION, genesis_terminal("broker")) is None


def test_the_session_terminal_revoked_voids_the_grant() -> None:
    state = ledger(kiosk("k-01", revoked=True), kiosk("k-02", OTHER_KEY))
    why = revoked_broker(state, GRANT, SESSION, None)
    assert "'k-01' was revoked by 'agriculture' at height 42: stolen" in why
    assert "recorded the grant's identity check" in why


def test_the_named_terminal_revoked_voids_the_grant() -> None:
    state = ledger(kiosk("k-01"), kiosk("k-02", OTHER_KEY, revoked=True))
    assert "is named in the grant" in revoked_broker(state, GRANT, SESSION, None)


def test_the_signing_genesis_terminal_revoked_voids_the_grant() -> None:
    state = ledger(kiosk("k-01"), kiosk("k-02", OTHER_KEY), kiosk("broker", revoked=True))
    why = revoked_broker(state, GRANT, SESSION, genesis_terminal("broker"))
    assert "signed the grant" in why


def test_a_department_is_a_revoked_identity_only_with_the_same_key() -> None:
    """A department cannot be cut off by someone registering and revoking a terminal
    that merely borrows its id: the terminal must carry one of the department's keys."""
    state = ledger(kiosk("broker", key=OTHER_KEY, revoked=True))
    assert revoked_identity(state, genesis_terminal("broker")) is None
    assert revoked_identity(state, None) is None
    state = ledger(kiosk("broker", revoked=True))
    assert "height 42" in revoked_identity(state, genesis_terminal("broker"))
