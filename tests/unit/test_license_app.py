"""The license application (chains.license) driven directly on a dict-backed state: type
registration, anchoring with item commitments and their Merkle root, the status
transition table, supersession, expiry by block time, and each refusal code (a refusal
never writes: `Harness.expect` checks it)."""

from __future__ import annotations

import hashlib

import pytest

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
from chains.license import (
    LicenseApplication,
    effective_status,
    find_licenses,
    get_license,
    get_type,
    is_valid,
    make_license_id,
    parse_license_id,
)
from consensus.hashing import merkle_root
from protos import government_pb2 as government
from tests.apps import signed_tx
from tests.unit.test_catalog_app import CIVIL, KEYS, MARKET, NOW_MS, OUTSIDER, POLICE, Harness

SUBJECT = hashlib.sha256(b"company 91110108MA01").digest()
OTHER_SUBJECT = hashlib.sha256(b"company 91110108MA02").digest()
DAY_MS = 86_400_000
ALL_STATUSES = [
    government.VALID,
    government.SUSPENDED,
    government.REVOKED,
    government.CANCELLED,
    government.EXPIRED,
]


def license_type(code: str = "BL", department: str = MARKET) -> government.LicenseType:
    return government.LicenseType(
        code=code,
        name="business license",
        department=department,
        holder_type="company",
        items=[
            government.DataItem(code=c, name=c, type="string", sensitivity=2)
            for c in ("name", "uscc", "rep", "address")
        ],
        catalog_resource="R1",
    )


def commitment(code: str, value: str) -> government.ItemCommitment:
    digest = hashlib.sha256(b"salt|" + code.encode() + b"|" + value.encode()).digest()
    return government.ItemCommitment(code=code, commitment=digest)


def a_license(
    serial: int = 1,
    type_code: str = "BL",
    issuer: str = MARKET,
    codes: tuple[str, ...] = ("name", "uscc", "rep"),
    **overrides: object,
) -> government.License:
    items = [commitment(c, f"value of {c} #{serial}") for c in codes]
    fields: dict = {
        "license_id": make_license_id(type_code, issuer, 2024, serial),
        "type_code": type_code,
        "issuer": issuer,
        "subject_ref": SUBJECT,
        "valid_from_ms": NOW_MS - DAY_MS,
        "valid_until_ms": NOW_MS + 365 * DAY_MS,
        "status": government.VALID,
        "items": items,
        "items_root": merkle_root([c.commitment for c in items]),
        "source_ref": "market:bl:000001",
    }
    fields.update(overrides)
    return government.License(**fields)


def status(license_id: str, to: int, reason: str = "inspection") -> government.SetLicenseStatus:
    return government.SetLicenseStatus(license_id=license_id, status=to, reason=reason)  # type: ignore[arg-type]


ID1 = make_license_id("BL", MARKET, 2024, 1)
ID2 = make_license_id("BL", MARKET, 2024, 2)


@pytest.fixture
def h() -> Harness:
    return Harness(LicenseApplication(), "license")


@pytest.fixture
def typed(h: Harness) -> Harness:
    h.expect(OK, MARKET, "license.register_type", license_type())
    return h


@pytest.fixture
def anchored(typed: Harness) -> Harness:
    typed.expect(OK, MARKET, "license.anchor", a_license())
    return typed


def stored_status(h: Harness, license_id: str = ID1) -> int:
    lic = get_license(h, license_id)
    assert lic is not None
    return lic.status


# ------------------------------------------------------------------ front and ids


def test_unknown_type_and_bad_payload() -> None:
    app = LicenseApplication()
    assert app.check(signed_tx(KEYS[MARKET], "license", "license.delete", b""))
    assert app.check(signed_tx(KEYS[MARKET], "license", "license.anchor", b"\xff"))
    assert app.check(signed_tx(KEYS[MARKET], "license", "license.anchor", a_license())) is None
    h = Harness(app, "license")
    h.expect(UNKNOWN_TYPE, MARKET, "license.delete", b"")
    h.expect(BAD_PAYLOAD, MARKET, "license.anchor", b"\xff")
    h.expect(NOT_ALLOWED, OUTSIDER, "license.register_type", license_type())


def test_license_id_shape() -> None:
    assert make_license_id("BL", MARKET, 2024, 123) == "BL-market-regulation-2024-000123"
    assert parse_license_id("BL-market-regulation-2024-000123") == (
        "BL",
        MARKET,
        "2024",
        "000123",
    )
    for bad in [
        "",
        "BL-market-regulation-2024-000123\n",
        "BL-market-regulation-24-000123",
        "B-market-regulation-2024-1",
        "BL--2024-1",
        "BL-market-regulation-2024-",
        "BL-market regulation-2024-1",
        "BL-market-regulation-２０２４-1",
        "BL-market-regulation-2024-1234567890123",
    ]:
        assert parse_license_id(bad) is None, bad


# ------------------------------------------------------------------ register_type


def test_register_type(typed: Harness) -> None:
    assert get_type(typed, "BL") == license_type()
    assert get_type(typed, "ID") is None
    typed.expect(ALREADY_EXISTS, MARKET, "license.register_type", license_type())
    typed.expect(ALREADY_EXISTS, CIVIL, "license.register_type", license_type(department=CIVIL))


@pytest.mark.parametrize(
    "overrides",
    [
        {"code": ""},
        {"code": "B"},
        {"code": "B-L"},
        {"code": "X" * 33},
        {"name": ""},
        {"holder_type": "robot"},
        {"items": []},
        {"items": [government.DataItem(code="a", name="a", sensitivity=1)] * 2},
        {"catalog_resource": "R\x001"},
    ],
)
def test_register_type_refuses_malformed_types(h: Harness, overrides: dict) -> None:
    t = license_type()
    for k, v in overrides.items():
        if k == "items":
            del t.items[:]
            t.items.extend(v)
        else:
            setattr(t, k, v)
    h.expect(BAD_PAYLOAD, MARKET, "license.register_type", t)


def test_register_type_only_for_the_signers_department(h: Harness) -> None:
    h.expect(NOT_ALLOWED, CIVIL, "license.register_type", license_type(department=MARKET))


# ------------------------------------------------------------------ anchor


def test_anchor_stores_a_valid_license_and_indexes_its_holder(anchored: Harness) -> None:
    lic = get_license(anchored, ID1)
    assert lic is not None and lic.status == government.VALID and lic.superseded_by == ""
    assert find_licenses(anchored, SUBJECT, "BL") == [ID1]
    anchored.expect(OK, MARKET, "license.anchor", a_license(2, status=0))  # unset means VALID
    assert stored_status(anchored, ID2) == government.VALID
    assert find_licenses(anchored, SUBJECT, "BL") == [ID1, ID2]
    assert find_licenses(anchored, OTHER_SUBJECT, "BL") == []
    assert get_license(anchored, "BL-nobody-2024-1") is None


def test_anchor_permission_and_existence(typed: Harness) -> None:
    t = typed
    t.expect(NOT_FOUND, MARKET, "license.anchor", a_license(type_code="ID"))
    t.expect(NOT_ALLOWED, CIVIL, "license.anchor", a_license(issuer=CIVIL))  # not its type
    t.expect(NOT_ALLOWED, MARKET, "license.anchor", a_license(issuer=CIVIL))  # not its name
    t.expect(OK, MARKET, "license.anchor", a_license())
    t.expect(ALREADY_EXISTS, MARKET, "license.anchor", a_license())


def _with_items(
    items: list[government.ItemCommitment], root: bytes | None = None
) -> government.License:
    root = merkle_root([c.commitment for c in items]) if root is None else root
    return a_license(items=items, items_root=root)


BAD_ANCHORS: list[tuple[str, government.License]] = [
    ("malformed id", a_license(license_id="BL/market/2024/1")),
    ("id of another type", a_license(license_id=make_license_id("ID", MARKET, 2024, 1))),
    ("id of another issuer", a_license(license_id=make_license_id("BL", CIVIL, 2024, 1))),
    ("short subject_ref", a_license(subject_ref=SUBJECT[:31])),
    ("no items", _with_items([])),
    ("repeated item", _with_items([commitment("name", "a"), commitment("name", "b")])),
    (
        "short commitment",
        _with_items([government.ItemCommitment(code="name", commitment=b"x" * 31)]),
    ),
    ("wrong root", _with_items([commitment("name", "a")], root=b"\x00" * 32)),
    ("status suspended", a_license(status=government.SUSPENDED)),
    ("status revoked", a_license(status=government.REVOKED)),
    ("superseded_by set", a_license(superseded_by="BL-market-regulation-2024-9")),
    ("until before from", a_license(valid_from_ms=NOW_MS, valid_until_ms=NOW_MS - 1)),
    ("until equals from", a_license(valid_from_ms=NOW_MS, valid_until_ms=NOW_MS)),
]


@pytest.mark.parametrize("lic", [x for _, x in BAD_ANCHORS], ids=[n for n, _ in BAD_ANCHORS])
def test_anchor_refuses_malformed_licenses(typed: Harness, lic: government.License) -> None:
    typed.expect(BAD_PAYLOAD, MARKET, "license.anchor", lic)


def test_anchor_root_binds_the_item_order(typed: Harness) -> None:
    lic = a_license()
    reordered = list(reversed(lic.items))
    typed.expect(BAD_PAYLOAD, MARKET, "license.anchor", _with_items(reordered, lic.items_root))
    typed.expect(OK, MARKET, "license.anchor", _with_items(reordered))


def test_anchor_items_outside_the_type_are_out_of_scope(typed: Harness) -> None:
    typed.expect(OUT_OF_SCOPE, MARKET, "license.anchor", a_license(codes=("name", "salary")))


def test_anchor_validity_window(typed: Harness) -> None:
    typed.expect(OK, MARKET, "license.anchor", a_license(1, valid_until_ms=0))  # no expiry
    typed.expect(INVALID_STATE, MARKET, "license.anchor", a_license(2, valid_until_ms=NOW_MS))


# ------------------------------------------------------------------ set_status


ALLOWED = {
    government.VALID: {
        government.SUSPENDED,
        government.REVOKED,
        government.CANCELLED,
        government.EXPIRED,
    },
    government.SUSPENDED: {
        government.VALID,
        government.REVOKED,
        government.CANCELLED,
        government.EXPIRED,
    },
    government.REVOKED: set(),
    government.CANCELLED: set(),
    government.EXPIRED: set(),
}


@pytest.mark.parametrize("start", ALL_STATUSES, ids=government.LicenseStatus.Name)
@pytest.mark.parametrize("to", ALL_STATUSES, ids=government.LicenseStatus.Name)
def test_status_transition_table(anchored: Harness, start: int, to: int) -> None:
    if start != government.VALID:
        anchored.expect(OK, MARKET, "license.set_status", status(ID1, start))
    code = OK if to in ALLOWED[start] else INVALID_STATE
    anchored.expect(code, MARKET, "license.set_status", status(ID1, to))
    assert stored_status(anchored) == (to if code == OK else start)


def test_set_status_refusals(anchored: Harness) -> None:
    a = anchored
    a.expect(NOT_FOUND, MARKET, "license.set_status", status(ID2, government.REVOKED))
    a.expect(NOT_ALLOWED, CIVIL, "license.set_status", status(ID1, government.REVOKED))
    a.expect(NOT_ALLOWED, POLICE, "license.set_status", status(ID1, government.SUSPENDED))
    a.expect(NOT_ALLOWED, OUTSIDER, "license.set_status", status(ID1, government.SUSPENDED))
    a.expect(BAD_PAYLOAD, MARKET, "license.set_status", status(ID1, 0))
    a.expect(BAD_PAYLOAD, MARKET, "license.set_status", status(ID1, 42))
    a.expect(BAD_PAYLOAD, MARKET, "license.set_status", status(ID1, government.REVOKED, reason=""))
    assert stored_status(a) == government.VALID


def test_expiry_needs_no_transaction(anchored: Harness) -> None:
    lic = get_license(anchored, ID1)
    assert lic is not None
    until = lic.valid_until_ms
    assert effective_status(lic, until - 1) == government.VALID and is_valid(lic, until - 1)
    assert effective_status(lic, until) == government.EXPIRED and not is_valid(lic, until)
    assert not is_valid(lic, lic.valid_from_ms - 1)  # not yet in force
    anchored.now_ms = until
    anchored.expect(INVALID_STATE, MARKET, "license.set_status", status(ID1, government.SUSPENDED))
    anchored.expect(INVALID_STATE, MARKET, "license.set_status", status(ID1, government.VALID))
    assert stored_status(anchored) == government.VALID  # stored as last set, reported EXPIRED


def test_suspended_license_also_expires(anchored: Harness) -> None:
    anchored.expect(OK, MARKET, "license.set_status", status(ID1, government.SUSPENDED))
    lic = get_license(anchored, ID1)
    assert lic is not None
    assert effective_status(lic, lic.valid_until_ms) == government.EXPIRED
    lic.status = government.REVOKED
    assert effective_status(lic, lic.valid_until_ms) == government.REVOKED


# ------------------------------------------------------------------ supersede


def supersede(old: str = ID1, successor: government.License | None = None) -> government.Supersede:
    msg = government.Supersede(license_id=old)
    if successor is not None:
        msg.successor.CopyFrom(successor)
    return msg


def test_supersede_cancels_the_old_and_anchors_the_new(anchored: Harness) -> None:
    anchored.expect(OK, MARKET, "license.supersede", supersede(successor=a_license(2)))
    old, new = get_license(anchored, ID1), get_license(anchored, ID2)
    assert old is not None and new is not None
    assert (old.status, old.superseded_by) == (government.CANCELLED, ID2)
    assert new.status == government.VALID
    assert find_licenses(anchored, SUBJECT, "BL") == [ID1, ID2]
    successor3 = a_license(3)
    anchored.expect(INVALID_STATE, MARKET, "license.supersede", supersede(successor=successor3))
    anchored.expect(OK, MARKET, "license.supersede", supersede(ID2, successor3))


def test_supersede_a_suspended_license(anchored: Harness) -> None:
    anchored.expect(OK, MARKET, "license.set_status", status(ID1, government.SUSPENDED))
    anchored.expect(OK, MARKET, "license.supersede", supersede(successor=a_license(2)))


def test_supersede_refusals(anchored: Harness) -> None:
    a = anchored
    new = a_license(2)
    a.expect(NOT_FOUND, MARKET, "license.supersede", supersede(ID2, a_license(3)))
    a.expect(NOT_ALLOWED, CIVIL, "license.supersede", supersede(successor=new))
    a.expect(BAD_PAYLOAD, MARKET, "license.supersede", supersede())
    a.expect(BAD_PAYLOAD, MARKET, "license.supersede", supersede(successor=a_license(2, "ID")))
    other = a_license(2, subject_ref=OTHER_SUBJECT)
    a.expect(BAD_PAYLOAD, MARKET, "license.supersede", supersede(successor=other))
    a.expect(ALREADY_EXISTS, MARKET, "license.supersede", supersede(successor=a_license(1)))
    bad_root = a_license(2, items_root=b"\x00" * 32)
    a.expect(BAD_PAYLOAD, MARKET, "license.supersede", supersede(successor=bad_root))
    a.expect(
        OUT_OF_SCOPE, MARKET, "license.supersede", supersede(successor=a_license(2, codes=("x",)))
    )
    assert stored_status(a) == government.VALID and get_license(a, ID2) is None


def test_supersede_of_a_revoked_or_expired_license(anchored: Harness) -> None:
    anchored.expect(OK, MARKET, "license.anchor", a_license(5))
    anchored.expect(OK, MARKET, "license.set_status", status(ID1, government.REVOKED))
    anchored.expect(INVALID_STATE, MARKET, "license.supersede", supersede(successor=a_license(2)))
    lic5 = get_license(anchored, make_license_id("BL", MARKET, 2024, 5))
    assert lic5 is not None
    anchored.now_ms = lic5.valid_until_ms
    late = supersede(lic5.license_id, a_license(6, valid_until_ms=lic5.valid_until_ms + DAY_MS))
    anchored.expect(INVALID_STATE, MARKET, "license.supersede", late)


def test_only_the_defining_department_touches_its_types_licenses(h: Harness) -> None:
    h.expect(OK, CIVIL, "license.register_type", license_type("MC", department=CIVIL))
    h.expect(OK, MARKET, "license.register_type", license_type())
    mc = a_license(1, "MC", CIVIL, codes=("name",))
    h.expect(NOT_ALLOWED, MARKET, "license.anchor", mc)
    h.expect(OK, CIVIL, "license.anchor", mc)
    h.expect(NOT_ALLOWED, MARKET, "license.set_status", status(mc.license_id, government.REVOKED))
    h.expect(OK, CIVIL, "license.set_status", status(mc.license_id, government.REVOKED))
