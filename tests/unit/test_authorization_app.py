"""The authorization application (chains.authorization), driven directly with real signed
txs over a dict-backed state: each acceptance rule of create/revoke/close grant and
record_access has an accepted case and a case for each refusal code, a refusal writes
nothing, and the access history lists a subject's accesses in commit order."""

from __future__ import annotations

import nacl.signing
import pytest
from google.protobuf.message import Message

from chains.authorization import (
    CLOSE_GRANT,
    CREATE_GRANT,
    RECORD_ACCESS,
    REVOKE_GRANT,
    AuthorizationApplication,
    access_history,
    check_grant,
    effective_status,
    get_access,
    get_grant,
    get_grant_issuer,
    grant_refusal,
)
from chains.base import BlockContext, Outcome
from chains.codes import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OK,
    OUT_OF_SCOPE,
    UNKNOWN_TYPE,
)
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import NOW_MS, apply_outcome, departments, signed_tx, signing_key

CHANNEL = "authorization"
HOUR_MS = 3_600_000


KIOSK = signing_key(1)  # a kiosk terminal of the service center
CENTER = signing_key(2)  # the service center's own (non-terminal) key, same department
MARKET = signing_key(3)  # market regulation: the grantee, requester of the materials
AGRI = signing_key(4)  # agriculture: a provider
POLICE = signing_key(5)  # public security: another provider
STRANGER = signing_key(6)  # no department


DEPARTMENTS = departments(
    ("service-center", [KIOSK, CENTER], ["terminal"]),
    ("market", [MARKET], ["provider"]),
    ("agriculture", [AGRI], ["provider"]),
    ("public-security", [POLICE], ["provider"]),
)
SUBJECT = bytes(range(32))
OTHER_SUBJECT = b"\x00" * 31 + b"\x01"  # NULs in a ref must not break the subject index
ITEMS = ["business_license/name", "business_license/credit_code", "id_card/name"]


def signed(key: nacl.signing.SigningKey, type_: str, msg: Message | bytes) -> DecodedTx:
    return signed_tx(key, CHANNEL, type_, msg)


def run(state: dict, tx: DecodedTx, now_ms: int = NOW_MS) -> Outcome:
    """Apply like the executor: writes only on success; a refusal must carry none."""
    ctx = BlockContext(height=1, timestamp_ms=now_ms, departments=DEPARTMENTS)
    return apply_outcome(state, AuthorizationApplication().apply(state, tx, ctx))


def grant(**over) -> government.Grant:
    g = government.Grant(
        grant_id="g-1",
        subject_ref=SUBJECT,
        auth_session="s-1",
        grantee="market",
        service_item="pesticide-permit-first",
        case_number="case-1",
        purpose="first-time pesticide business permit",
        legal_basis=government.CONSENT,
        items=ITEMS,
        valid_from_ms=NOW_MS - HOUR_MS,
        valid_until_ms=NOW_MS + HOUR_MS,
        max_uses=2,
        consent_text_hash=b"\x05" * 32,
        terminal_id="kiosk-haidian-01",
    )
    for name, value in over.items():
        if isinstance(value, list):
            g.ClearField(name)
            getattr(g, name).extend(value)
        else:
            setattr(g, name, value)
    return g


def access(**over) -> government.AccessRecord:
    a = government.AccessRecord(
        access_id="a-1",
        grant_id="g-1",
        requester="market",
        provider="agriculture",
        items=ITEMS[:2],
        request_hash=b"\x01" * 32,
        response_hash=b"\x02" * 32,
        outcome="granted",
    )
    for name, value in over.items():
        if isinstance(value, list):
            a.ClearField(name)
            getattr(a, name).extend(value)
        else:
            setattr(a, name, value)
    return a


@pytest.fixture
def state() -> dict:
    """A state holding grant g-1 (2 uses) for SUBJECT, created by the kiosk."""
    s: dict = {}
    assert run(s, signed(KIOSK, CREATE_GRANT, grant())).code == OK
    return s


def record(state: dict, now_ms: int = NOW_MS, signer=AGRI, **over) -> Outcome:
    return run(state, signed(signer, RECORD_ACCESS, access(**over)), now_ms)


# ------------------------------------------------------------------ create_grant


def test_create_grant_stores_an_active_unused_grant() -> None:
    s: dict = {}
    sent = grant(uses=7, status="revoked")
    assert run(s, signed(KIOSK, CREATE_GRANT, sent)).code == OK
    stored = get_grant(s, "g-1")
    assert stored.uses == 0 and stored.status == "active"
    assert stored == grant(uses=0, status="active")
    assert get_grant_issuer(s, "g-1") == "service-center"
    assert get_grant(s, "g-2") is None


def test_statutory_duty_needs_no_consent_hash() -> None:
    g = grant(legal_basis=government.STATUTORY_DUTY, consent_text_hash=b"")
    assert run({}, signed(KIOSK, CREATE_GRANT, g)).code == OK


@pytest.mark.parametrize("signer", [MARKET, AGRI, STRANGER])
def test_create_grant_only_by_a_terminal_key(signer) -> None:
    s: dict = {}
    assert run(s, signed(signer, CREATE_GRANT, grant())).code == NOT_ALLOWED
    assert s == {}


def test_create_grant_ids_are_unique(state: dict) -> None:
    out = run(state, signed(KIOSK, CREATE_GRANT, grant(grantee="agriculture")))
    assert out.code == ALREADY_EXISTS
    assert get_grant(state, "g-1").grantee == "market"


def test_create_grant_grantee_must_be_registered() -> None:
    assert run({}, signed(KIOSK, CREATE_GRANT, grant(grantee="tax"))).code == NOT_FOUND


@pytest.mark.parametrize(
    "over",
    [
        {"grant_id": ""},
        {"grant_id": "g\x00"},
        {"subject_ref": b"\x01" * 31},
        {"subject_ref": b""},
        {"grantee": ""},
        {"items": []},
        {"items": ["a/b", "a/b"]},
        {"items": ["ab"]},
        {"items": ["a/b/c"]},
        {"items": ["/b"]},
        {"items": ["a/"]},
        {"valid_until_ms": NOW_MS - HOUR_MS},
        {"valid_until_ms": NOW_MS - 2 * HOUR_MS},
        {"max_uses": 0},
        {"legal_basis": government.LEGAL_BASIS_UNSPECIFIED},
        {"consent_text_hash": b""},
        {"consent_text_hash": b"\x01" * 31},
    ],
)
def test_create_grant_shape(over: dict) -> None:
    assert run({}, signed(KIOSK, CREATE_GRANT, grant(**over))).code == BAD_PAYLOAD


# ------------------------------------------------------------------ revoke_grant / close_grant


@pytest.mark.parametrize("signer", [KIOSK, CENTER, MARKET])
def test_revoke_by_the_issuing_department_or_the_grantee(state: dict, signer) -> None:
    assert (
        run(state, signed(signer, REVOKE_GRANT, government.RevokeGrant(grant_id="g-1"))).code == OK
    )
    assert get_grant(state, "g-1").status == "revoked"


@pytest.mark.parametrize("signer", [AGRI, STRANGER])
def test_revoke_by_anyone_else_is_refused(state: dict, signer) -> None:
    out = run(state, signed(signer, REVOKE_GRANT, government.RevokeGrant(grant_id="g-1")))
    assert out.code == NOT_ALLOWED
    assert get_grant(state, "g-1").status == "active"


def test_revoke_needs_an_existing_active_grant(state: dict) -> None:
    missing = government.RevokeGrant(grant_id="g-9")
    assert run(state, signed(MARKET, REVOKE_GRANT, missing)).code == NOT_FOUND
    revoke = government.RevokeGrant(grant_id="g-1", reason="changed my mind")
    assert run(state, signed(MARKET, REVOKE_GRANT, revoke)).code == OK
    assert run(state, signed(MARKET, REVOKE_GRANT, revoke)).code == INVALID_STATE


def test_close_by_the_grantee_only(state: dict) -> None:
    close = government.CloseGrant(grant_id="g-1")
    for signer in (KIOSK, CENTER, AGRI, STRANGER):
        assert run(state, signed(signer, CLOSE_GRANT, close)).code == NOT_ALLOWED
    assert run(state, signed(MARKET, CLOSE_GRANT, close)).code == OK
    assert get_grant(state, "g-1").status == "closed"


def test_close_needs_an_existing_active_grant(state: dict) -> None:
    missing = government.CloseGrant(grant_id="g-9")
    assert run(state, signed(MARKET, CLOSE_GRANT, missing)).code == NOT_FOUND
    assert (
        run(state, signed(MARKET, REVOKE_GRANT, government.RevokeGrant(grant_id="g-1"))).code == 0
    )
    close = government.CloseGrant(grant_id="g-1")
    assert run(state, signed(MARKET, CLOSE_GRANT, close)).code == INVALID_STATE
    assert get_grant(state, "g-1").status == "revoked"


def test_an_ended_grant_cannot_be_ended_again(state: dict) -> None:
    assert run(state, signed(MARKET, CLOSE_GRANT, government.CloseGrant(grant_id="g-1"))).code == 0
    out = run(state, signed(KIOSK, REVOKE_GRANT, government.RevokeGrant(grant_id="g-1")))
    assert out.code == INVALID_STATE


# ------------------------------------------------------------------ record_access


def test_granted_access_uses_the_grant_until_exhausted(state: dict) -> None:
    assert record(state, access_id="a-1").code == OK
    assert get_grant(state, "g-1").uses == 1
    assert get_grant(state, "g-1").status == "active"
    assert record(state, access_id="a-2", items=["id_card/name"]).code == OK
    assert get_grant(state, "g-1").uses == 2
    assert get_grant(state, "g-1").status == "exhausted"
    out = record(state, access_id="a-3")
    assert out.code == INVALID_STATE and "exhausted" in out.reason
    assert get_grant(state, "g-1").uses == 2


def test_access_is_stored_with_block_time_and_the_grants_subject(state: dict) -> None:
    assert record(state, time_ms=5, subject_ref=b"\x09" * 32).code == OK
    stored = get_access(state, "a-1")
    assert stored.time_ms == NOW_MS
    assert stored.subject_ref == SUBJECT
    assert stored.items == ITEMS[:2] and stored.outcome == "granted"


def test_denied_access_is_always_recorded_and_uses_nothing(state: dict) -> None:
    denied = {"outcome": "denied", "reason": "wrong requester key"}
    assert record(state, access_id="a-1", requester="tax", items=["x/y"], **denied).code == OK
    assert (
        run(state, signed(MARKET, REVOKE_GRANT, government.RevokeGrant(grant_id="g-1"))).code == 0
    )
    assert record(state, access_id="a-2", now_ms=NOW_MS + 9 * HOUR_MS, **denied).code == OK
    assert record(state, access_id="a-3", items=[], **denied).code == OK
    assert get_grant(state, "g-1").uses == 0
    assert [a.access_id for a in access_history(state, SUBJECT)] == ["a-1", "a-2", "a-3"]


def test_a_denial_may_carry_a_long_chinese_reason(state: dict) -> None:
    reason = "授权已过期" * 100  # 500 characters, 1,500 bytes: what node/datashare_api.py sends
    assert record(state, outcome="denied", reason=reason).code == OK
    assert get_access(state, "a-1").reason == reason


@pytest.mark.parametrize(
    "now_ms", [NOW_MS - HOUR_MS - 1, NOW_MS + HOUR_MS, NOW_MS + HOUR_MS + 1, 0]
)
def test_granted_outside_the_window_is_refused(state: dict, now_ms: int) -> None:
    assert record(state, now_ms=now_ms).code == INVALID_STATE
    assert get_grant(state, "g-1").uses == 0


@pytest.mark.parametrize("now_ms", [NOW_MS - HOUR_MS, NOW_MS + HOUR_MS - 1])
def test_granted_at_the_window_edges_is_accepted(state: dict, now_ms: int) -> None:
    assert record(state, now_ms=now_ms).code == OK


@pytest.mark.parametrize(
    "ending", [(REVOKE_GRANT, government.RevokeGrant), (CLOSE_GRANT, government.CloseGrant)]
)
def test_granted_on_an_ended_grant_is_refused(state: dict, ending) -> None:
    type_, kind = ending
    assert run(state, signed(MARKET, type_, kind(grant_id="g-1"))).code == OK
    out = record(state)
    assert out.code == INVALID_STATE
    assert get_access(state, "a-1") is None


def test_granted_only_to_the_grantee(state: dict) -> None:
    out = record(state, requester="public-security")
    assert out.code == NOT_ALLOWED and "grantee" in out.reason


def test_granted_only_within_the_granted_items(state: dict) -> None:
    out = record(state, items=["business_license/name", "household/address"])
    assert out.code == OUT_OF_SCOPE and "household/address" in out.reason
    assert record(state, items=[]).code == BAD_PAYLOAD


@pytest.mark.parametrize(
    ("signer", "provider"),
    [(STRANGER, "agriculture"), (POLICE, "agriculture"), (KIOSK, "agriculture")],
)
def test_access_is_recorded_only_by_the_provider(state: dict, signer, provider) -> None:
    assert record(state, signer=signer, provider=provider).code == NOT_ALLOWED


def test_access_ids_are_unique(state: dict) -> None:
    assert record(state).code == OK
    assert record(state, outcome="denied").code == ALREADY_EXISTS
    assert get_grant(state, "g-1").uses == 1


def test_granted_access_needs_an_existing_grant_but_a_denial_is_audited_anyway(
    state: dict,
) -> None:
    assert record(state, grant_id="g-9").code == NOT_FOUND
    assert record(state, grant_id="g-9", outcome="denied").code == OK


@pytest.mark.parametrize(
    "over",
    [
        {"outcome": "maybe"},
        {"outcome": ""},
        {"access_id": ""},
        {"grant_id": ""},
        {"provider": ""},
        {"request_hash": b"\x01"},
        {"response_hash": b"\x01" * 33},
        {"reason": "x" * 2049},
        {"items": ["x" * 129]},
    ],
)
def test_access_shape(state: dict, over: dict) -> None:
    assert record(state, **over).code == BAD_PAYLOAD


# ------------------------------------------------------------------ queries


def test_access_history_per_subject_in_commit_order(state: dict) -> None:
    other = grant(grant_id="g-2", subject_ref=OTHER_SUBJECT, max_uses=5)
    assert run(state, signed(KIOSK, CREATE_GRANT, other)).code == OK
    assert record(state, access_id="a-1").code == OK
    assert record(state, access_id="b-1", grant_id="g-2", outcome="denied").code == OK
    assert record(state, access_id="a-2", signer=POLICE, provider="public-security").code == OK
    assert record(state, access_id="a-3").code == INVALID_STATE  # exhausted: not listed
    assert record(state, access_id="b-2", grant_id="g-2").code == OK
    assert [a.access_id for a in access_history(state, SUBJECT)] == ["a-1", "a-2"]
    assert [a.access_id for a in access_history(state, OTHER_SUBJECT)] == ["b-1", "b-2"]
    assert access_history(state, b"\x03" * 32) == []
    assert access_history(state, SUBJECT)[1].provider == "public-security"


def test_check_grant_gives_the_same_verdict_as_record_access(state: dict) -> None:
    g = get_grant(state, "g-1")
    assert check_grant(g, "market", ITEMS[:1], NOW_MS) is None
    assert "grantee" in check_grant(g, "agriculture", ITEMS[:1], NOW_MS)
    assert "outside" in check_grant(g, "market", ["x/y"], NOW_MS)
    assert "expired" in check_grant(g, "market", ITEMS[:1], NOW_MS + HOUR_MS)
    assert "not valid before" in check_grant(g, "market", ITEMS[:1], 0)
    assert grant_refusal(g, "market", ["x/y"], NOW_MS)[0] == OUT_OF_SCOPE
    g.uses = g.max_uses
    assert grant_refusal(g, "market", ITEMS[:1], NOW_MS)[0] == INVALID_STATE
    g.uses, g.status = 0, "revoked"
    assert "revoked" in check_grant(g, "market", ITEMS[:1], NOW_MS)


# ------------------------------------------------------------------ dispatch and admission


def test_unknown_type_is_refused(state: dict) -> None:
    tx = signed(KIOSK, "authorization.extend_grant", grant())
    assert run(state, tx).code == UNKNOWN_TYPE
    assert AuthorizationApplication().check(tx) is not None


def test_unparsable_payload_is_refused(state: dict) -> None:
    tx = signed(KIOSK, CREATE_GRANT, b"\x0a\x05ab")
    assert run(state, tx).code == BAD_PAYLOAD
    assert AuthorizationApplication().check(tx) is not None


def test_check_admits_well_formed_txs_and_refuses_bad_shapes() -> None:
    app = AuthorizationApplication()
    assert app.check(signed(KIOSK, CREATE_GRANT, grant())) is None
    assert app.check(signed(AGRI, RECORD_ACCESS, access())) is None
    assert app.check(signed(MARKET, CLOSE_GRANT, government.CloseGrant(grant_id="g"))) is None
    assert app.check(signed(MARKET, REVOKE_GRANT, government.RevokeGrant(grant_id="g"))) is None
    assert "max_uses" in app.check(signed(KIOSK, CREATE_GRANT, grant(max_uses=0)))
    assert "grant_id" in app.check(signed(MARKET, CLOSE_GRANT, government.CloseGrant()))


def test_effective_status_computes_expiry(state: dict) -> None:
    g = get_grant(state, "g-1")
    assert effective_status(g, NOW_MS) == "active"
    assert effective_status(g, NOW_MS - HOUR_MS - 1) == "pending"
    assert effective_status(g, NOW_MS + HOUR_MS) == "expired"
    g.status = "revoked"
    assert effective_status(g, NOW_MS + HOUR_MS) == "revoked"
