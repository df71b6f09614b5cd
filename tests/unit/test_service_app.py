"""The service-item chain (chains.service): the whole permit flow, then the rules of what
the implementing department publishes (the item and its materials), and what every tx
type shares (unknown types, unparsable payloads, `check`, deterministic state). A case's
rules are in test_service_cases.py and test_service_results.py; all on real signed txs,
with the first-time pesticide business permit (首次申请农药经营许可) as the fixture.
"""

from __future__ import annotations

import nacl.signing
import pytest

from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, NOT_ALLOWED, NOT_FOUND, UNKNOWN_TYPE
from chains.service import (
    get_case,
    get_item,
    get_materials,
    get_materials_version,
    get_result,
    required_items,
)
from protos import government_pb2 as government
from tests.unit.service_permit import (
    AGRICULTURE,
    APP,
    APPLICANT,
    BUSINESS_LICENSE,
    CHAIN_SOURCES,
    KIOSK,
    LEGAL_REP_ID,
    MARKET,
    PERMIT,
    PERMIT_MATERIALS,
    PREMISES,
    STORAGE_PHOTOS,
    STRANGER,
    Ledger,
    attachment,
    make_tx,
    new_case,
    permit_item,
    permit_materials,
)

# ------------------------------------------------------------------ the whole flow


def test_first_time_pesticide_permit_at_a_kiosk_from_publication_to_permit(
    published: Ledger,
) -> None:
    ledger = published
    ledger.ok(KIOSK, "service.open_case", new_case())
    for m in PERMIT_MATERIALS:
        ledger.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    ledger.ok(KIOSK, "service.submit_case", government.CaseStep(case_number="C-2024-0001"))
    for stage in ("accepted", "reviewed"):
        step = government.CaseStep(case_number="C-2024-0001", stage=stage, note="ok")
        ledger.ok(AGRICULTURE, "service.record_stage", step)
    result = government.CaseResult(
        case_number="C-2024-0001", result="approved", license_id="11110108MA01-NYJY-2024-0001"
    )
    ledger.ok(AGRICULTURE, "service.record_result", result)

    case = get_case(ledger, "C-2024-0001")
    assert case is not None
    assert case.status == "approved"
    assert list(case.stages) == ["accepted", "reviewed"]
    assert [(a.material, a.source) for a in case.attachments] == list(CHAIN_SOURCES.items())
    assert case.applicant_ref == APPLICANT
    assert get_result(ledger, "C-2024-0001") == result


# ------------------------------------------------------------------ publish_item


def test_publish_item_by_its_department_is_stored(published: Ledger) -> None:
    assert get_item(published, PERMIT) == permit_item()
    assert get_item(published, "no-such-item") is None


def test_publish_item_by_a_key_of_no_department_is_not_allowed() -> None:
    Ledger().refused(
        NOT_ALLOWED, STRANGER, "service.publish_item", permit_item(), "is no department"
    )


def test_publish_item_for_another_department_is_not_allowed() -> None:
    item = permit_item(department="agriculture")
    Ledger().refused(NOT_ALLOWED, MARKET, "service.publish_item", item, "signer is")


def test_publish_item_twice_is_refused_and_the_first_stays(published: Ledger) -> None:
    again = permit_item(name="another name")
    published.refused(ALREADY_EXISTS, AGRICULTURE, "service.publish_item", again, PERMIT)
    assert get_item(published, PERMIT) == permit_item()


@pytest.mark.parametrize(
    ("changes", "part"),
    [
        ({"code": ""}, "code is empty"),
        ({"code": "a\x00b"}, "non-printable"),
        ({"code": "x" * 65}, "longer than 64"),
        ({"name": ""}, "name is empty"),
        ({"name": "   "}, "name is empty"),
        ({"time_limit_days": 0}, "time_limit_days"),
        ({"department": ""}, "department is empty"),
        ({"legal_basis": "x" * 4097}, "legal_basis"),
    ],
)
def test_publish_item_with_a_bad_shape_is_a_bad_payload(changes: dict, part: str) -> None:
    item = permit_item(**changes)
    Ledger().refused(BAD_PAYLOAD, AGRICULTURE, "service.publish_item", item, part)
    assert APP.check(make_tx(AGRICULTURE, "service.publish_item", item)) is not None


# ------------------------------------------------------------------ publish_materials


def test_publish_materials_stores_the_list_and_the_items_a_grant_may_ask_for(
    published: Ledger,
) -> None:
    assert get_materials(published, PERMIT) == permit_materials()
    assert get_materials_version(published, PERMIT) == 1
    assert required_items(published, PERMIT) == {
        *BUSINESS_LICENSE.items,
        *LEGAL_REP_ID.items,
        *PREMISES.items,
    }


def test_republishing_materials_replaces_the_list_and_bumps_the_version(
    published: Ledger,
) -> None:
    published.ok(
        AGRICULTURE, "service.publish_materials", permit_materials(BUSINESS_LICENSE, STORAGE_PHOTOS)
    )
    assert [m.name for m in get_materials(published, PERMIT).materials] == [  # type: ignore[union-attr]
        BUSINESS_LICENSE.name,
        STORAGE_PHOTOS.name,
    ]
    assert get_materials_version(published, PERMIT) == 2
    assert required_items(published, PERMIT) == set(BUSINESS_LICENSE.items)


def test_an_item_without_materials_requires_no_items() -> None:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    assert get_materials(ledger, PERMIT) is None
    assert get_materials_version(ledger, PERMIT) == 0
    assert required_items(ledger, PERMIT) == set()


def test_publish_materials_for_an_unknown_item_is_not_found() -> None:
    msg = government.Materials(item_code="no-such-item", materials=PERMIT_MATERIALS)
    Ledger().refused(NOT_FOUND, AGRICULTURE, "service.publish_materials", msg, "no-such-item")


@pytest.mark.parametrize("signer", [MARKET, KIOSK, STRANGER], ids=["other", "terminal", "none"])
def test_only_the_implementing_department_publishes_materials(
    signer: nacl.signing.SigningKey,
) -> None:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    ledger.refused(NOT_ALLOWED, signer, "service.publish_materials", permit_materials())


def _material(**fields: object) -> government.Material:
    return government.Material(name="m", required=True, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("materials", "part"),
    [
        ([], "no materials"),
        ([_material(scan=True)] * 65, "more than 64"),
        ([_material(scan=True), _material(scan=True)], "duplicate material names"),
        ([government.Material(name="", scan=True)], "material name is empty"),
        ([_material()], "exactly one of"),
        ([_material(scan=True, license_type="resident-id", items=["resident-id/name"])], "exactly"),
        ([_material(license_type="t", catalog_items=["r"], items=["t/x"])], "exactly one of"),
        ([_material(license_type="resident-id")], "must list the data items"),
        ([_material(catalog_items=["housing-registry"])], "must list the data items"),
        ([_material(scan=True, items=["resident-id/name"])], "lists no data items"),
        ([_material(license_type="resident-id", items=["name"])], "not 'type_or_resource/"),
        ([_material(license_type="resident-id", items=["resident-id/"])], "is empty"),
        ([_material(license_type="resident-id", items=["/name"])], "is empty"),
        ([_material(license_type="resident-id", items=["x/name"])], "not of license type"),
        (
            [_material(license_type="resident-id", items=["resident-id/a", "resident-id/a"])],
            "duplicate data items",
        ),
        ([_material(catalog_items=["r", "r"], items=["r/a"])], "duplicate catalog items"),
        ([_material(catalog_items=[""], items=["r/a"])], "is empty"),
        ([_material(license_type="a\x00b", items=["a\x00b/x"])], "non-printable"),
    ],
)
def test_publish_materials_with_a_bad_shape_is_a_bad_payload(
    materials: list[government.Material], part: str
) -> None:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    msg = government.Materials(item_code=PERMIT, materials=materials)
    ledger.refused(BAD_PAYLOAD, AGRICULTURE, "service.publish_materials", msg, part)
    assert get_materials(ledger, PERMIT) is None


# ------------------------------------------------------------------ types, payloads, check


def test_an_unknown_type_is_refused_by_check_and_apply() -> None:
    tx = make_tx(AGRICULTURE, "service.delete_item", permit_item())
    assert APP.check(tx) == "unknown type 'service.delete_item'"
    out = Ledger().apply_tx(tx)
    assert out.code == UNKNOWN_TYPE


def test_an_unparsable_payload_is_a_bad_payload() -> None:
    tx = make_tx(AGRICULTURE, "service.publish_item", None, payload=b"\x0a\x05ab")
    assert APP.check(tx) == "payload does not parse"
    out = Ledger().apply_tx(tx)
    assert (out.code, out.reason) == (BAD_PAYLOAD, "payload is not a ServiceItem")


def test_check_admits_well_formed_txs_whatever_the_state() -> None:
    tx = make_tx(KIOSK, "service.open_case", new_case(item_code="not-published-yet"))
    assert APP.check(tx) is None
    assert APP.check(make_tx(AGRICULTURE, "service.publish_materials", permit_materials())) is None


def test_state_is_written_deterministically(submitted: Ledger) -> None:
    """Records are stored in protobuf's deterministic encoding: equal on every validator."""
    case = get_case(submitted, "C-2024-0001")
    assert case is not None
    assert submitted.state[b"case\x00C-2024-0001"] == case.SerializeToString(deterministic=True)
    assert set(k.split(b"\x00")[0] for k in submitted.state) == {
        b"item",
        b"materials",
        b"materials-version",
        b"case",
    }
