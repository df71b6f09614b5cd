"""authentication.revoke_terminal: who may revoke, what a revoked terminal can no longer do,
and at which height it takes effect. Over a dict-backed state, like the executor."""

from __future__ import annotations

import pytest

from chains.authentication import (
    RECORD_AUTH,
    REGISTER_TERMINAL,
    REVOKE_TERMINAL,
    REVOKED,
    AuthenticationApplication,
    get_session,
    get_terminal,
    revocation,
)
from chains.base import BlockContext, Outcome
from chains.codes import BAD_PAYLOAD, INVALID_STATE, NOT_ALLOWED, NOT_FOUND, OK
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import NOW_MS, apply_outcome, signing_key
from tests.unit.test_authentication_app import (
    CENTER,
    DEPARTMENTS,
    KIOSK,
    POLICE,
    STRANGER,
    auth,
    signed,
    terminal,
)

OTHER_KIOSK = signing_key(5)  # a second kiosk of the same department, with its own key
TID = "kiosk-haidian-01"


def run_at(state: dict, tx: DecodedTx, height: int) -> Outcome:
    ctx = BlockContext(height=height, timestamp_ms=NOW_MS, departments=DEPARTMENTS)
    return apply_outcome(state, AuthenticationApplication().apply(state, tx, ctx))


def revoke(
    terminal_id: str = TID, reason: str = "kiosk stolen from the hall"
) -> government.RevokeTerminal:
    return government.RevokeTerminal(terminal_id=terminal_id, reason=reason)


@pytest.fixture
def two_kiosks() -> dict:
    """Two kiosks of the service centre registered at height 1, each with its own key."""
    s: dict = {}
    assert run_at(s, signed(CENTER, REGISTER_TERMINAL, terminal()), 1).code == OK
    second = terminal(terminal_id="kiosk-haidian-02", public_key=bytes(OTHER_KIOSK.verify_key))
    assert run_at(s, signed(CENTER, REGISTER_TERMINAL, second), 1).code == OK
    return s


def test_the_operating_department_revokes_with_its_height_and_reason(two_kiosks) -> None:
    assert revocation(get_terminal(two_kiosks, TID)) is None
    assert run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke()), 7).code == OK
    t = get_terminal(two_kiosks, TID)
    assert (t.status, t.revoked_height, t.revoke_reason) == (
        REVOKED,
        7,
        "kiosk stolen from the hall",
    )
    assert t.public_key == bytes(KIOSK.verify_key), "the entry keeps what it had"
    why = revocation(t)
    assert "kiosk-haidian-01" in why and "height 7" in why and "stolen" in why


@pytest.mark.parametrize(
    ("signer", "code", "words"),
    [
        (POLICE, NOT_ALLOWED, "operated by 'service-center'"),  # another department
        (STRANGER, NOT_ALLOWED, "not a key of a registered department"),
        (KIOSK, NOT_ALLOWED, "not a key of a registered department"),  # not itself either
    ],
)
def test_only_the_operating_department_may_revoke(two_kiosks, signer, code, words) -> None:
    out = run_at(two_kiosks, signed(signer, REVOKE_TERMINAL, revoke()), 7)
    assert (out.code, words in out.reason) == (code, True)
    assert revocation(get_terminal(two_kiosks, TID)) is None


def test_revoking_an_unknown_or_revoked_terminal_is_refused(two_kiosks) -> None:
    assert run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke("nope")), 7).code == NOT_FOUND
    assert run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke()), 7).code == OK
    again = run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke(reason="later")), 9)
    assert again.code == INVALID_STATE
    assert get_terminal(two_kiosks, TID).revoked_height == 7, "the first revocation stands"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2049])
def test_a_revocation_needs_a_reason(two_kiosks, reason: str) -> None:
    tx = signed(CENTER, REVOKE_TERMINAL, revoke(reason=reason))
    assert AuthenticationApplication().check(tx) is not None
    assert run_at(two_kiosks, tx, 7).code == BAD_PAYLOAD


@pytest.mark.parametrize(
    "over",
    [{"status": REVOKED}, {"status": "active"}, {"revoked_height": 3}, {"revoke_reason": "x"}],
)
def test_a_registration_cannot_set_the_revocation_fields(over: dict) -> None:
    out = run_at({}, signed(CENTER, REGISTER_TERMINAL, terminal(**over)), 1)
    assert out.code == BAD_PAYLOAD


def test_height_semantics_sessions_before_stand_none_after(two_kiosks) -> None:
    """Revoked at height 7: the session recorded at 6 stays on chain; a record_auth later
    in block 7 (after the revocation) and in block 8 is refused; the other kiosk of the
    same department goes on recording."""
    assert run_at(two_kiosks, signed(KIOSK, RECORD_AUTH, auth(session_id="s-6")), 6).code == OK
    assert run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke()), 7).code == OK
    for height, sid in ((7, "s-7"), (8, "s-8")):
        out = run_at(two_kiosks, signed(KIOSK, RECORD_AUTH, auth(session_id=sid)), height)
        assert out.code == NOT_ALLOWED
        assert "revoked" in out.reason and "height 7" in out.reason
        assert get_session(two_kiosks, sid) is None
    assert get_session(two_kiosks, "s-6") is not None, "history is kept"
    other = auth(session_id="s-9", terminal_id="kiosk-haidian-02")
    assert run_at(two_kiosks, signed(OTHER_KIOSK, RECORD_AUTH, other), 8).code == OK


def test_a_revoked_key_cannot_speak_for_another_terminal(two_kiosks) -> None:
    """The thief's key is bound to its terminal: naming the other kiosk does not help."""
    assert run_at(two_kiosks, signed(CENTER, REVOKE_TERMINAL, revoke()), 7).code == OK
    forged = auth(session_id="s-x", terminal_id="kiosk-haidian-02")
    out = run_at(two_kiosks, signed(KIOSK, RECORD_AUTH, forged), 8)
    assert out.code == NOT_ALLOWED and "not signed by terminal" in out.reason
