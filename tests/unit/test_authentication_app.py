"""The authentication application (chains.authentication), driven directly with real signed
txs over a dict-backed state: each acceptance rule of register_terminal and record_auth
has an accepted case and a case for each refusal code, and a refusal writes nothing."""

from __future__ import annotations

import nacl.signing
import pytest
from google.protobuf.message import Message

from chains.authentication import (
    CLOCK_SKEW,
    CLOCK_SKEW_MS_MAX,
    RECORD_AUTH,
    REGISTER_TERMINAL,
    AuthenticationApplication,
    get_session,
    get_terminal,
    session_valid,
)
from chains.base import BlockContext, Outcome
from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, NOT_ALLOWED, NOT_FOUND, OK, UNKNOWN_TYPE
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import NOW_MS, apply_outcome, departments, signed_tx, signing_key

CHANNEL = "authentication"
MINUTE_MS = 60_000

CENTER = signing_key(1)  # service-center department key
POLICE = signing_key(2)  # public-security department key
KIOSK = signing_key(3)  # a kiosk's own key
STRANGER = signing_key(4)  # no department
DEPARTMENTS = departments(("service-center", [CENTER], ["hall"]), ("public-security", [POLICE], []))
SUBJECT = bytes(range(32))


def signed(key: nacl.signing.SigningKey, type_: str, msg: Message | bytes) -> DecodedTx:
    return signed_tx(key, CHANNEL, type_, msg)


def ctx(now_ms: int = NOW_MS) -> BlockContext:
    return BlockContext(height=1, timestamp_ms=now_ms, departments=DEPARTMENTS)


def run(state: dict, tx: DecodedTx, now_ms: int = NOW_MS) -> Outcome:
    """Apply like the executor: writes only on success; a refusal must carry none."""
    return apply_outcome(state, AuthenticationApplication().apply(state, tx, ctx(now_ms)))


def terminal(**over) -> government.Terminal:
    t = government.Terminal(
        terminal_id="kiosk-haidian-01",
        kind="kiosk",
        department="service-center",
        public_key=bytes(KIOSK.verify_key),
        location="Haidian service hall",
    )
    for name, value in over.items():
        setattr(t, name, value)
    return t


def auth(**over) -> government.AuthRecord:
    r = government.AuthRecord(
        session_id="s-1",
        subject_ref=SUBJECT,
        method="id_card_face",
        terminal_id="kiosk-haidian-01",
        level=3,
        success=True,
        evidence_hash=b"\x07" * 32,
        time_ms=NOW_MS,
        expires_ms=NOW_MS + 30 * MINUTE_MS,
    )
    for name, value in over.items():
        setattr(r, name, value)
    return r


@pytest.fixture
def state() -> dict:
    """A state with the kiosk registered."""
    s: dict = {}
    assert run(s, signed(CENTER, REGISTER_TERMINAL, terminal())).code == OK
    return s


# ------------------------------------------------------------------ register_terminal


def test_register_terminal_is_stored_as_sent(state: dict) -> None:
    assert get_terminal(state, "kiosk-haidian-01") == terminal()
    assert get_terminal(state, "nope") is None


def test_register_terminal_needs_a_department_key() -> None:
    out = run({}, signed(STRANGER, REGISTER_TERMINAL, terminal()))
    assert out.code == NOT_ALLOWED


def test_register_terminal_only_for_the_signers_department() -> None:
    out = run({}, signed(POLICE, REGISTER_TERMINAL, terminal()))
    assert out.code == NOT_ALLOWED
    assert "public-security" in out.reason


def test_register_terminal_twice_is_refused(state: dict) -> None:
    out = run(state, signed(CENTER, REGISTER_TERMINAL, terminal(location="elsewhere")))
    assert out.code == ALREADY_EXISTS
    assert get_terminal(state, "kiosk-haidian-01").location == "Haidian service hall"


@pytest.mark.parametrize(
    "over",
    [
        {"public_key": b"\x01" * 31},
        {"public_key": b""},
        {"terminal_id": ""},
        {"terminal_id": "a\x00b"},
        {"terminal_id": "x" * 129},
        {"kind": "atm"},
        {"department": ""},
    ],
)
def test_register_terminal_shape(over: dict) -> None:
    out = run({}, signed(CENTER, REGISTER_TERMINAL, terminal(**over)))
    assert out.code == BAD_PAYLOAD


# ------------------------------------------------------------------ record_auth


def test_record_auth_opens_a_session(state: dict) -> None:
    assert run(state, signed(KIOSK, RECORD_AUTH, auth())).code == OK
    session = get_session(state, "s-1")
    assert session == auth()
    assert session_valid(session, NOW_MS)
    assert session_valid(session, NOW_MS + 30 * MINUTE_MS - 1)
    assert not session_valid(session, NOW_MS + 30 * MINUTE_MS)
    assert get_session(state, "s-2") is None


def test_a_failed_check_is_recorded_but_never_valid(state: dict) -> None:
    assert run(state, signed(KIOSK, RECORD_AUTH, auth(success=False))).code == OK
    assert not session_valid(get_session(state, "s-1"), NOW_MS)


def test_online_login_without_evidence_is_accepted(state: dict) -> None:
    record = auth(method="online_login", evidence_hash=b"", level=1)
    assert run(state, signed(KIOSK, RECORD_AUTH, record)).code == OK


@pytest.mark.parametrize("signer", [CENTER, POLICE, STRANGER])
def test_record_auth_only_by_the_terminals_key(state: dict, signer) -> None:
    assert run(state, signed(signer, RECORD_AUTH, auth())).code == NOT_ALLOWED
    assert get_session(state, "s-1") is None


def test_record_auth_on_an_unknown_terminal(state: dict) -> None:
    out = run(state, signed(KIOSK, RECORD_AUTH, auth(terminal_id="kiosk-99")))
    assert out.code == NOT_FOUND


def test_record_auth_session_ids_are_unique(state: dict) -> None:
    assert run(state, signed(KIOSK, RECORD_AUTH, auth())).code == OK
    again = auth(subject_ref=b"\x09" * 32)
    assert run(state, signed(KIOSK, RECORD_AUTH, again)).code == ALREADY_EXISTS
    assert get_session(state, "s-1").subject_ref == SUBJECT


@pytest.mark.parametrize(
    "over",
    [
        {"subject_ref": b"\x01" * 31},
        {"subject_ref": b""},
        {"method": "password"},
        {"level": 0},
        {"level": 5},
        {"expires_ms": NOW_MS},
        {"expires_ms": NOW_MS - 1},
        {"evidence_hash": b"\x01" * 5},
        {"session_id": ""},
        {"terminal_id": ""},
    ],
)
def test_record_auth_shape(state: dict, over: dict) -> None:
    assert run(state, signed(KIOSK, RECORD_AUTH, auth(**over))).code == BAD_PAYLOAD


@pytest.mark.parametrize("skew_ms", [-CLOCK_SKEW_MS_MAX, 0, CLOCK_SKEW_MS_MAX])
def test_record_auth_time_within_the_skew_is_accepted(state: dict, skew_ms: int) -> None:
    record = auth(time_ms=NOW_MS + skew_ms, expires_ms=NOW_MS + 60 * MINUTE_MS)
    assert run(state, signed(KIOSK, RECORD_AUTH, record)).code == OK


@pytest.mark.parametrize("skew_ms", [-CLOCK_SKEW_MS_MAX - 1, CLOCK_SKEW_MS_MAX + 1, -NOW_MS])
def test_record_auth_cannot_backdate_or_postdate(state: dict, skew_ms: int) -> None:
    record = auth(time_ms=NOW_MS + skew_ms, expires_ms=NOW_MS + 60 * MINUTE_MS)
    out = run(state, signed(KIOSK, RECORD_AUTH, record))
    assert out.code == CLOCK_SKEW
    assert get_session(state, "s-1") is None


# ------------------------------------------------------------------ dispatch and admission


def test_unknown_type_is_refused(state: dict) -> None:
    tx = signed(CENTER, "authentication.delete_everything", terminal())
    assert run(state, tx).code == UNKNOWN_TYPE
    assert AuthenticationApplication().check(tx) is not None


def test_unparsable_payload_is_refused(state: dict) -> None:
    tx = signed(KIOSK, RECORD_AUTH, b"\x0a\x05ab")  # a length-5 field with 2 bytes
    assert run(state, tx).code == BAD_PAYLOAD
    assert AuthenticationApplication().check(tx) is not None


def test_check_admits_well_formed_txs_and_refuses_bad_shapes() -> None:
    app = AuthenticationApplication()
    assert app.check(signed(CENTER, REGISTER_TERMINAL, terminal())) is None
    assert app.check(signed(KIOSK, RECORD_AUTH, auth())) is None
    assert "level" in app.check(signed(KIOSK, RECORD_AUTH, auth(level=9)))
