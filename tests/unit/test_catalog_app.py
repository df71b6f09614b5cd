"""The catalog application (chains.catalog) driven directly, tx by tx, on a dict-backed
state: every acceptance rule of every tx type, each refusal code, and that a refusal
never writes. Txs are real signed envelopes decoded as the executor decodes them.

`Harness` and the department keys are shared with the license and stateful tests.
"""

from __future__ import annotations

import nacl.signing
import pytest
from google.protobuf.message import Message

from chains.base import Application, BlockContext, Outcome
from chains.catalog import (
    APPLIED,
    APPROVED,
    REJECTED,
    CatalogApplication,
    get_agreement,
    get_duty,
    get_entry,
    is_share_approved,
)
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

MARKET, CIVIL, POLICE = "market-regulation", "civil-affairs", "public-security"
KEYS = {dept: signing_key(i + 1) for i, dept in enumerate((MARKET, CIVIL, POLICE))}
OUTSIDER = signing_key(99)
DEPARTMENTS = departments(*((d, [k], ["provider", "consumer"]) for d, k in KEYS.items()))


class Harness:
    """One channel's world state as a dict, one tx per block, and a log for replays."""

    def __init__(self, app: Application, channel: str, now_ms: int = NOW_MS) -> None:
        self.app = app
        self.channel = channel
        self.now_ms = now_ms
        self.state: dict[bytes, bytes] = {}
        self.log: list[tuple[DecodedTx, BlockContext]] = []

    def get(self, k: bytes) -> bytes | None:
        return self.state.get(k)

    def apply(self, tx: DecodedTx, ctx: BlockContext) -> Outcome:
        out = self.app.apply(self, tx, ctx)
        apply_outcome(self.state, out)
        self.log.append((tx, ctx))
        return out

    def send(
        self, signer: nacl.signing.SigningKey | str, type_: str, payload: Message | bytes
    ) -> Outcome:
        key = KEYS[signer] if isinstance(signer, str) else signer
        ctx = BlockContext(len(self.log) + 1, self.now_ms, DEPARTMENTS)
        return self.apply(signed_tx(key, self.channel, type_, payload), ctx)

    def expect(
        self,
        code: int,
        signer: nacl.signing.SigningKey | str,
        type_: str,
        payload: Message | bytes,
    ) -> Outcome:
        before = dict(self.state)
        out = self.send(signer, type_, payload)
        assert out.code == code, f"expected {code}, got {out.code}: {out.reason}"
        if code != OK:
            assert self.state == before
        return out


# ------------------------------------------------------------------ fixtures and builders


def duty(code: str = "D1") -> government.RegisterDuty:
    return government.RegisterDuty(code=code, name=f"duty {code}", legal_basis="regulation 1")


def entry(code: str = "R1", provider: str = MARKET, **overrides: object) -> government.CatalogEntry:
    fields: dict = {
        "resource_code": code,
        "name": "business registrations",
        "provider": provider,
        "duties": ["D1"],
        "items": [
            government.DataItem(code="name", name="company name", type="string", sensitivity=1),
            government.DataItem(code="uscc", name="credit code", type="string", sensitivity=2),
            government.DataItem(
                code="rep", name="legal representative", type="string", sensitivity=3
            ),
        ],
        "sharing": government.CONDITIONAL,
        "sharing_conditions": "for service items of the district",
        "update_cycle": "daily",
        "source_endpoint": "https://market.example/api",
    }
    fields.update(overrides)
    return government.CatalogEntry(**fields)


def apply_share(
    code: str = "R1", items: tuple[str, ...] = ("name", "uscc")
) -> government.ApplyShare:
    return government.ApplyShare(resource_code=code, items=list(items), purpose="pesticide permit")


def decide(consumer: str = CIVIL, code: str = "R1", reason: str = "ok") -> government.DecideShare:
    return government.DecideShare(resource_code=code, consumer=consumer, reason=reason)


@pytest.fixture
def h() -> Harness:
    return Harness(CatalogApplication(), "catalog")


@pytest.fixture
def published(h: Harness) -> Harness:
    h.expect(OK, MARKET, "catalog.register_duty", duty("D1"))
    h.expect(OK, MARKET, "catalog.publish_entry", entry())
    return h


@pytest.fixture
def applied(published: Harness) -> Harness:
    published.expect(OK, CIVIL, "catalog.apply_share", apply_share())
    return published


# ------------------------------------------------------------------ front: type, signer, payload


def test_unknown_type_is_refused_at_admission_and_execution(h: Harness) -> None:
    tx = signed_tx(KEYS[MARKET], "catalog", "catalog.delete_everything", duty())
    assert "unknown type" in (CatalogApplication().check(tx) or "")
    h.expect(UNKNOWN_TYPE, MARKET, "catalog.delete_everything", duty())


def test_check_refuses_unparsable_payload_and_admits_good_ones() -> None:
    app = CatalogApplication()
    assert app.check(signed_tx(KEYS[MARKET], "catalog", "catalog.publish_entry", b"\xff\xff"))
    assert app.check(signed_tx(KEYS[MARKET], "catalog", "catalog.publish_entry", entry())) is None


def test_unparsable_payload_is_bad_payload(h: Harness) -> None:
    h.expect(BAD_PAYLOAD, MARKET, "catalog.register_duty", b"\x0a\x05ab")


def test_signer_outside_every_department_is_not_allowed(h: Harness) -> None:
    h.expect(NOT_ALLOWED, OUTSIDER, "catalog.register_duty", duty())


# ------------------------------------------------------------------ register_duty


def test_register_duty_belongs_to_the_registering_department(h: Harness) -> None:
    h.expect(OK, MARKET, "catalog.register_duty", duty("D1"))
    assert get_duty(h, MARKET, "D1") == duty("D1")
    assert get_duty(h, CIVIL, "D1") is None
    h.expect(ALREADY_EXISTS, MARKET, "catalog.register_duty", duty("D1"))
    h.expect(OK, CIVIL, "catalog.register_duty", duty("D1"))  # its own namespace


@pytest.mark.parametrize(
    "bad",
    [government.RegisterDuty(code="", name="x"), government.RegisterDuty(code="D\x001", name="x"),
     government.RegisterDuty(code="D" * 129, name="x"), government.RegisterDuty(code="D1")],
)  # fmt: skip
def test_register_duty_needs_a_code_and_a_name(h: Harness, bad: government.RegisterDuty) -> None:
    h.expect(BAD_PAYLOAD, MARKET, "catalog.register_duty", bad)


# ------------------------------------------------------------------ publish_entry


def test_publish_stores_version_one(published: Harness) -> None:
    stored = get_entry(published, "R1")
    assert stored is not None
    assert stored.version == 1 and not stored.suspended
    assert list(stored.items) == list(entry().items)
    assert get_entry(published, "R2") is None


def test_publish_existing_resource_code_already_exists(published: Harness) -> None:
    published.expect(ALREADY_EXISTS, MARKET, "catalog.publish_entry", entry())


def test_publish_for_another_provider_is_not_allowed(published: Harness) -> None:
    published.expect(NOT_ALLOWED, CIVIL, "catalog.publish_entry", entry("R2", provider=MARKET))
    published.expect(NOT_ALLOWED, MARKET, "catalog.publish_entry", entry("R2", provider=CIVIL))


def test_publish_needs_the_providers_own_registered_duties(h: Harness) -> None:
    h.expect(NOT_FOUND, MARKET, "catalog.publish_entry", entry())
    h.expect(OK, CIVIL, "catalog.register_duty", duty("D1"))
    h.expect(NOT_FOUND, MARKET, "catalog.publish_entry", entry())  # civil's D1 is not market's
    h.expect(OK, MARKET, "catalog.register_duty", duty("D1"))
    h.expect(OK, MARKET, "catalog.publish_entry", entry())


def _items(*codes: str, sensitivity: int = 1) -> list[government.DataItem]:
    return [government.DataItem(code=c, name=c, sensitivity=sensitivity) for c in codes]


BAD_ENTRIES: list[tuple[str, dict]] = [
    ("empty resource code", {"code": ""}),
    ("no name", {"name": ""}),
    ("no duties", {"duties": []}),
    ("duty listed twice", {"duties": ["D1", "D1"]}),
    ("no items", {"items": []}),
    ("repeated item code", {"items": _items("a", "a")}),
    ("empty item code", {"items": _items("")}),
    ("item without name", {"items": [government.DataItem(code="a", sensitivity=1)]}),
    ("sensitivity 0", {"items": _items("a", sensitivity=0)}),
    ("sensitivity 5", {"items": _items("a", sensitivity=5)}),
    ("sharing unset", {"sharing": government.SHARING_UNSPECIFIED}),
    ("sharing unknown", {"sharing": 7}),
    ("conditional without conditions", {"sharing_conditions": ""}),
    ("suspended set by client", {"suspended": True}),
    ("version set by client", {"version": 9}),
]


@pytest.mark.parametrize("overrides", [o for _, o in BAD_ENTRIES], ids=[n for n, _ in BAD_ENTRIES])
def test_publish_refuses_malformed_entries(h: Harness, overrides: dict) -> None:
    h.expect(OK, MARKET, "catalog.register_duty", duty("D1"))
    h.expect(BAD_PAYLOAD, MARKET, "catalog.publish_entry", entry(**overrides))


def test_unconditional_and_not_shared_need_no_conditions(h: Harness) -> None:
    h.expect(OK, MARKET, "catalog.register_duty", duty("D1"))
    plain = {"sharing_conditions": ""}
    h.expect(
        OK, MARKET, "catalog.publish_entry", entry("R1", sharing=government.UNCONDITIONAL, **plain)
    )
    h.expect(
        OK, MARKET, "catalog.publish_entry", entry("R2", sharing=government.NOT_SHARED, **plain)
    )


# ------------------------------------------------------------------ update_entry and suspend


def test_update_bumps_the_version_and_replaces_the_body(published: Harness) -> None:
    published.expect(OK, MARKET, "catalog.update_entry", entry(name="v2"))
    published.expect(OK, MARKET, "catalog.update_entry", entry(name="v3"))
    stored = get_entry(published, "R1")
    assert stored is not None and stored.version == 3 and stored.name == "v3"


def test_update_refusals(published: Harness) -> None:
    published.expect(NOT_FOUND, MARKET, "catalog.update_entry", entry("R9"))
    published.expect(NOT_ALLOWED, CIVIL, "catalog.update_entry", entry(provider=CIVIL))
    published.expect(BAD_PAYLOAD, MARKET, "catalog.update_entry", entry(items=[]))
    published.expect(NOT_FOUND, MARKET, "catalog.update_entry", entry(duties=["D2"]))
    published.expect(NOT_ALLOWED, MARKET, "catalog.update_entry", entry(provider=CIVIL))


def test_suspend_then_no_update(published: Harness) -> None:
    suspend = government.SuspendEntry(resource_code="R1", reason="source system retired")
    published.expect(NOT_ALLOWED, CIVIL, "catalog.suspend_entry", suspend)
    published.expect(OK, MARKET, "catalog.suspend_entry", suspend)
    stored = get_entry(published, "R1")
    assert stored is not None and stored.suspended and stored.version == 1
    published.expect(INVALID_STATE, MARKET, "catalog.suspend_entry", suspend)
    published.expect(INVALID_STATE, MARKET, "catalog.update_entry", entry(name="v2"))
    published.expect(ALREADY_EXISTS, MARKET, "catalog.publish_entry", entry())


def test_suspend_refusals(published: Harness) -> None:
    published.expect(
        NOT_FOUND,
        MARKET,
        "catalog.suspend_entry",
        government.SuspendEntry(resource_code="R9", reason="x"),
    )
    published.expect(
        BAD_PAYLOAD, MARKET, "catalog.suspend_entry", government.SuspendEntry(resource_code="R1")
    )


# ------------------------------------------------------------------ apply_share


def test_apply_share_records_an_applied_agreement(applied: Harness) -> None:
    agreement = get_agreement(applied, "R1", CIVIL)
    assert agreement is not None
    assert (agreement.status, list(agreement.items), agreement.consumer) == (
        APPLIED,
        ["name", "uscc"],
        CIVIL,
    )
    assert get_agreement(applied, "R1", POLICE) is None
    assert not is_share_approved(applied, "R1", CIVIL, ["name"])


def test_apply_share_refusals(published: Harness) -> None:
    p = published
    p.expect(NOT_FOUND, CIVIL, "catalog.apply_share", apply_share("R9"))
    p.expect(NOT_ALLOWED, MARKET, "catalog.apply_share", apply_share())
    p.expect(OUT_OF_SCOPE, CIVIL, "catalog.apply_share", apply_share(items=("name", "salary")))
    p.expect(BAD_PAYLOAD, CIVIL, "catalog.apply_share", apply_share(items=()))
    p.expect(BAD_PAYLOAD, CIVIL, "catalog.apply_share", apply_share(items=("name", "name")))
    p.expect(
        BAD_PAYLOAD,
        CIVIL,
        "catalog.apply_share",
        government.ApplyShare(resource_code="R1", items=["name"]),
    )
    p.expect(OK, CIVIL, "catalog.apply_share", apply_share())
    p.expect(ALREADY_EXISTS, CIVIL, "catalog.apply_share", apply_share())


def test_apply_share_on_not_shared_or_suspended_entries(published: Harness) -> None:
    p = published
    p.expect(OK, MARKET, "catalog.publish_entry", entry("R2", sharing=government.NOT_SHARED))
    p.expect(NOT_ALLOWED, CIVIL, "catalog.apply_share", apply_share("R2"))
    p.expect(
        OK, MARKET, "catalog.suspend_entry", government.SuspendEntry(resource_code="R1", reason="x")
    )
    p.expect(INVALID_STATE, CIVIL, "catalog.apply_share", apply_share("R1"))


# ------------------------------------------------------------------ approve / reject


def test_approve_share(applied: Harness) -> None:
    applied.expect(OK, MARKET, "catalog.approve_share", decide())
    agreement = get_agreement(applied, "R1", CIVIL)
    assert agreement is not None and agreement.status == APPROVED
    assert is_share_approved(applied, "R1", CIVIL, ["name", "uscc"])
    assert not is_share_approved(applied, "R1", CIVIL, ["rep"])
    applied.expect(INVALID_STATE, MARKET, "catalog.approve_share", decide())
    applied.expect(INVALID_STATE, MARKET, "catalog.reject_share", decide())
    applied.expect(ALREADY_EXISTS, CIVIL, "catalog.apply_share", apply_share())


def test_reject_share_then_apply_again(applied: Harness) -> None:
    applied.expect(BAD_PAYLOAD, MARKET, "catalog.reject_share", decide(reason=""))
    applied.expect(OK, MARKET, "catalog.reject_share", decide(reason="no legal basis"))
    agreement = get_agreement(applied, "R1", CIVIL)
    assert agreement is not None and agreement.status == REJECTED
    applied.expect(INVALID_STATE, MARKET, "catalog.approve_share", decide())
    applied.expect(OK, CIVIL, "catalog.apply_share", apply_share())
    applied.expect(OK, MARKET, "catalog.approve_share", decide())


@pytest.mark.parametrize("type_", ["catalog.approve_share", "catalog.reject_share"])
def test_decide_refusals(applied: Harness, type_: str) -> None:
    applied.expect(NOT_ALLOWED, CIVIL, type_, decide())
    applied.expect(NOT_ALLOWED, POLICE, type_, decide())
    applied.expect(NOT_FOUND, MARKET, type_, decide(consumer=POLICE))
    applied.expect(NOT_FOUND, MARKET, type_, decide(code="R9"))


def test_approve_rechecks_the_entry(applied: Harness) -> None:
    narrowed = entry(items=[government.DataItem(code="name", name="company name", sensitivity=1)])
    applied.expect(OK, MARKET, "catalog.update_entry", narrowed)
    applied.expect(OUT_OF_SCOPE, MARKET, "catalog.approve_share", decide())
    applied.expect(OK, MARKET, "catalog.update_entry", entry())
    applied.expect(
        OK, MARKET, "catalog.suspend_entry", government.SuspendEntry(resource_code="R1", reason="x")
    )
    applied.expect(INVALID_STATE, MARKET, "catalog.approve_share", decide())
    applied.expect(OK, MARKET, "catalog.reject_share", decide())
    assert not is_share_approved(applied, "R1", CIVIL, ["name"])


def test_queries_tolerate_unkeyable_identifiers(applied: Harness) -> None:
    assert get_entry(applied, "") is None
    assert get_entry(applied, "R\x001") is None
    assert get_agreement(applied, "R1", "") is None
    assert get_duty(applied, MARKET, "x" * 200) is None
