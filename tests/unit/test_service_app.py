"""The service-item chain (chains.service): every acceptance rule of every tx type, on
real signed txs, with the first-time pesticide business permit (首次申请农药经营许可) as
the fixture. The `Ledger` helper applies accepted writes to a dict and asserts that a
refused tx writes nothing, so every refusal test also checks "no writes".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.signing
import pytest
from google.protobuf.message import Message

from chains.base import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OK,
    OUT_OF_SCOPE,
    UNKNOWN_TYPE,
    BlockContext,
    Outcome,
)
from chains.service import (
    ServiceApplication,
    get_case,
    get_item,
    get_materials,
    get_materials_version,
    get_result,
    required_items,
)
from chains.service_shapes import STAGES_MAX
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import NOW_MS, apply_outcome, departments, signed_tx, signing_key

CHANNEL = "service"

AGRICULTURE = signing_key(1)  # implements the permit
MARKET = signing_key(2)  # another department
KIOSK = signing_key(3)  # the service centre's kiosks
STRANGER = signing_key(9)  # in no department


DEPARTMENTS = departments(
    ("agriculture", [AGRICULTURE], ["issuer"]),
    ("market-regulation", [MARKET], ["issuer"]),
    ("service-center", [KIOSK], ["terminal"]),
)
CTX = BlockContext(height=7, timestamp_ms=NOW_MS, departments=DEPARTMENTS)
APP = ServiceApplication()

PERMIT = "pesticide-business-permit-first"
APPLICANT = bytes(range(32))  # a keyed hash of the company's credit code, never the code
EVIDENCE = bytes([0xE5]) * 32


def make_tx(
    signer: nacl.signing.SigningKey, tx_type: str, msg: Message | None, payload: bytes = b""
) -> DecodedTx:
    return signed_tx(signer, CHANNEL, tx_type, msg if msg is not None else payload)


@dataclass
class Ledger:
    """A dict-backed world state that applies accepted txs as the executor would."""

    state: dict[bytes, bytes] = field(default_factory=dict)
    accepted: list[DecodedTx] = field(default_factory=list)

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def apply_tx(self, tx: DecodedTx) -> Outcome:
        out = apply_outcome(self.state, APP.apply(self, tx, CTX))
        if out.code == OK:
            self.accepted.append(tx)
        return out

    def send(self, signer: nacl.signing.SigningKey, tx_type: str, msg: Message) -> Outcome:
        return self.apply_tx(make_tx(signer, tx_type, msg))

    def ok(self, signer: nacl.signing.SigningKey, tx_type: str, msg: Message) -> None:
        out = self.send(signer, tx_type, msg)
        assert out.code == OK, out.reason

    def refused(
        self, code: int, signer: nacl.signing.SigningKey, tx_type: str, msg: Message, part: str = ""
    ) -> Outcome:
        before = dict(self.state)
        out = self.send(signer, tx_type, msg)
        assert (out.code, part in out.reason) == (code, True), (out.code, out.reason)
        assert self.state == before
        return out


# ------------------------------------------------------------------ the pesticide permit


def permit_item(**changes: object) -> government.ServiceItem:
    fields: dict[str, object] = {
        "code": PERMIT,
        "name": "首次申请农药经营许可",
        "department": "agriculture",
        "legal_basis": "《农药管理条例》第二十四条、《农药经营许可管理办法》",
        "acceptance_conditions": "有农药经营场所和仓储场所，有熟悉农药管理规定的经营人员",
        "time_limit_days": 20,
    }
    fields.update(changes)
    return government.ServiceItem(**fields)  # type: ignore[arg-type]


BUSINESS_LICENSE = government.Material(
    name="营业执照 business license",
    required=True,
    license_type="business-license",
    items=[
        "business-license/name",
        "business-license/legal_representative",
        "business-license/registered_capital",
        "business-license/unified_social_credit_code",
    ],
)
LEGAL_REP_ID = government.Material(
    name="法定代表人身份证 legal representative's ID",
    required=True,
    license_type="resident-id",
    items=["resident-id/name", "resident-id/id_number"],
)
PREMISES = government.Material(
    name="经营场所证明 premises certificate",
    required=True,
    catalog_items=["housing-registry"],
    items=["housing-registry/address", "housing-registry/area", "housing-registry/owner"],
)
STORAGE_PHOTOS = government.Material(
    name="农药仓储场所照片 pesticide storage photos", required=True, scan=True
)
PERMIT_MATERIALS = [BUSINESS_LICENSE, LEGAL_REP_ID, PREMISES, STORAGE_PHOTOS]


def permit_materials(*materials: government.Material) -> government.Materials:
    return government.Materials(item_code=PERMIT, materials=list(materials or PERMIT_MATERIALS))


def new_case(number: str = "C-2024-0001", **changes: object) -> government.Case:
    fields: dict[str, object] = {
        "case_number": number,
        "item_code": PERMIT,
        "applicant_ref": APPLICANT,
        "channel": "kiosk",
    }
    fields.update(changes)
    return government.Case(**fields)  # type: ignore[arg-type]


def attachment(
    material: government.Material, source: str, number: str = "C-2024-0001"
) -> government.Attachment:
    return government.Attachment(
        case_number=number, material=material.name, source=source, evidence_hash=EVIDENCE
    )


CHAIN_SOURCES = {
    BUSINESS_LICENSE.name: "chain:license",
    LEGAL_REP_ID.name: "chain:license",
    PREMISES.name: "chain:catalog",
    STORAGE_PHOTOS.name: "scan",
}


@pytest.fixture
def published() -> Ledger:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    ledger.ok(AGRICULTURE, "service.publish_materials", permit_materials())
    return ledger


@pytest.fixture
def opened(published: Ledger) -> Ledger:
    published.ok(KIOSK, "service.open_case", new_case())
    return published


@pytest.fixture
def submitted(opened: Ledger) -> Ledger:
    for m in PERMIT_MATERIALS:
        opened.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    opened.ok(KIOSK, "service.submit_case", government.CaseStep(case_number="C-2024-0001"))
    return opened


def status(ledger: Ledger, number: str = "C-2024-0001") -> str:
    case = get_case(ledger, number)
    assert case is not None
    return case.status


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


# ------------------------------------------------------------------ open_case


def test_a_terminal_opens_a_case_for_the_applicant(opened: Ledger) -> None:
    case = get_case(opened, "C-2024-0001")
    assert case == new_case(status="open")


def test_the_implementing_department_opens_a_case_at_its_counter(published: Ledger) -> None:
    published.ok(AGRICULTURE, "service.open_case", new_case("C-2", channel="counter"))
    assert status(published, "C-2") == "open"


@pytest.mark.parametrize("signer", [MARKET, STRANGER], ids=["other", "none"])
def test_other_departments_may_not_open_cases(
    published: Ledger, signer: nacl.signing.SigningKey
) -> None:
    published.refused(NOT_ALLOWED, signer, "service.open_case", new_case())
    assert get_case(published, "C-2024-0001") is None


def test_a_case_number_is_used_once(opened: Ledger) -> None:
    opened.refused(ALREADY_EXISTS, KIOSK, "service.open_case", new_case(), "C-2024-0001")


def test_a_case_for_an_unknown_item_is_not_found(published: Ledger) -> None:
    case = new_case(item_code="no-such-item")
    published.refused(NOT_FOUND, KIOSK, "service.open_case", case, "no-such-item")


def test_a_case_needs_published_materials() -> None:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    ledger.refused(INVALID_STATE, KIOSK, "service.open_case", new_case(), "no published materials")


@pytest.mark.parametrize(
    ("changes", "part"),
    [
        ({"applicant_ref": b"\x01" * 31}, "32 bytes"),
        ({"applicant_ref": b""}, "32 bytes"),
        ({"channel": "fax"}, "channel"),
        ({"case_number": ""}, "case_number is empty"),
        ({"item_code": ""}, "item_code is empty"),
        ({"status": "approved"}, "state only"),
        ({"stages": ["accepted"]}, "state only"),
    ],
)
def test_a_case_with_a_bad_shape_is_a_bad_payload(
    published: Ledger, changes: dict, part: str
) -> None:
    published.refused(BAD_PAYLOAD, KIOSK, "service.open_case", new_case(**changes), part)


# ------------------------------------------------------------------ attach_material


def test_chain_pulls_and_scans_are_attached(opened: Ledger) -> None:
    for m in PERMIT_MATERIALS:
        opened.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    case = get_case(opened, "C-2024-0001")
    assert case is not None
    assert [a.source for a in case.attachments] == list(CHAIN_SOURCES.values())
    assert all(a.evidence_hash == EVIDENCE for a in case.attachments)


@pytest.mark.parametrize("material", PERMIT_MATERIALS, ids=lambda m: m.name.split()[0])
def test_a_scan_is_accepted_for_any_material(opened: Ledger, material: government.Material) -> None:
    opened.ok(KIOSK, "service.attach_material", attachment(material, "scan"))


def test_the_implementing_department_attaches_at_its_counter(opened: Ledger) -> None:
    opened.ok(AGRICULTURE, "service.attach_material", attachment(STORAGE_PHOTOS, "scan"))


def test_reattaching_a_material_replaces_its_attachment_in_place(opened: Ledger) -> None:
    opened.ok(KIOSK, "service.attach_material", attachment(BUSINESS_LICENSE, "scan"))
    opened.ok(KIOSK, "service.attach_material", attachment(STORAGE_PHOTOS, "scan"))
    again = attachment(BUSINESS_LICENSE, "chain:license")
    again.evidence_hash = b"\x07" * 32
    opened.ok(KIOSK, "service.attach_material", again)
    case = get_case(opened, "C-2024-0001")
    assert case is not None
    assert list(case.attachments) == [again, attachment(STORAGE_PHOTOS, "scan")]


@pytest.mark.parametrize(
    ("material", "source"),
    [
        (BUSINESS_LICENSE, "chain:catalog"),
        (PREMISES, "chain:license"),
        (STORAGE_PHOTOS, "chain:license"),
        (STORAGE_PHOTOS, "chain:catalog"),
    ],
)
def test_a_chain_source_must_be_the_one_that_fulfils_the_material(
    opened: Ledger, material: government.Material, source: str
) -> None:
    msg = attachment(material, source)
    opened.refused(OUT_OF_SCOPE, KIOSK, "service.attach_material", msg, "may come from")


@pytest.mark.parametrize(
    ("changes", "part"),
    [
        ({"source": "chain:authorization"}, "source"),
        ({"source": ""}, "source"),
        ({"evidence_hash": b"\x01" * 33}, "evidence_hash"),
        ({"material": ""}, "material is empty"),
        ({"case_number": ""}, "case_number is empty"),
    ],
)
def test_an_attachment_with_a_bad_shape_is_a_bad_payload(
    opened: Ledger, changes: dict, part: str
) -> None:
    msg = attachment(BUSINESS_LICENSE, "chain:license")
    for name, value in changes.items():
        setattr(msg, name, value)
    opened.refused(BAD_PAYLOAD, KIOSK, "service.attach_material", msg, part)


def test_attaching_to_an_unknown_case_is_not_found(opened: Ledger) -> None:
    msg = attachment(STORAGE_PHOTOS, "scan", number="C-9")
    opened.refused(NOT_FOUND, KIOSK, "service.attach_material", msg, "no case 'C-9'")


def test_attaching_a_material_the_item_does_not_need_is_not_found(opened: Ledger) -> None:
    msg = attachment(government.Material(name="marriage certificate"), "scan")
    opened.refused(NOT_FOUND, KIOSK, "service.attach_material", msg, "marriage certificate")


@pytest.mark.parametrize("signer", [MARKET, STRANGER], ids=["other", "none"])
def test_other_departments_may_not_attach(opened: Ledger, signer: nacl.signing.SigningKey) -> None:
    msg = attachment(STORAGE_PHOTOS, "scan")
    opened.refused(NOT_ALLOWED, signer, "service.attach_material", msg)


def test_nothing_is_attached_after_submission(submitted: Ledger) -> None:
    msg = attachment(STORAGE_PHOTOS, "scan")
    submitted.refused(INVALID_STATE, KIOSK, "service.attach_material", msg, "'submitted'")


# ------------------------------------------------------------------ submit_case


def test_submission_lists_every_missing_required_material(opened: Ledger) -> None:
    opened.ok(KIOSK, "service.attach_material", attachment(BUSINESS_LICENSE, "chain:license"))
    out = opened.refused(
        INVALID_STATE, KIOSK, "service.submit_case", government.CaseStep(case_number="C-2024-0001")
    )
    for m in (LEGAL_REP_ID, PREMISES, STORAGE_PHOTOS):
        assert m.name in out.reason
    assert BUSINESS_LICENSE.name not in out.reason
    assert status(opened) == "open"


def test_submission_with_everything_attached_is_accepted(submitted: Ledger) -> None:
    assert status(submitted) == "submitted"


def test_optional_materials_need_no_attachment(published: Ledger) -> None:
    optional = government.Material()
    optional.CopyFrom(STORAGE_PHOTOS)
    optional.required = False
    materials = permit_materials(BUSINESS_LICENSE, LEGAL_REP_ID, PREMISES, optional)
    published.ok(AGRICULTURE, "service.publish_materials", materials)
    published.ok(KIOSK, "service.open_case", new_case())
    for m in (BUSINESS_LICENSE, LEGAL_REP_ID, PREMISES):
        published.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    published.ok(KIOSK, "service.submit_case", government.CaseStep(case_number="C-2024-0001"))


def test_submission_checks_the_materials_list_current_at_submission(opened: Ledger) -> None:
    for m in PERMIT_MATERIALS:
        opened.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    pledge = government.Material(name="安全承诺书 safety pledge", required=True, scan=True)
    opened.ok(AGRICULTURE, "service.publish_materials", permit_materials(*PERMIT_MATERIALS, pledge))
    step = government.CaseStep(case_number="C-2024-0001")
    opened.refused(INVALID_STATE, KIOSK, "service.submit_case", step, "safety pledge")


def test_a_case_is_submitted_once(submitted: Ledger) -> None:
    step = government.CaseStep(case_number="C-2024-0001")
    submitted.refused(INVALID_STATE, KIOSK, "service.submit_case", step, "is 'submitted'")


def test_submitting_an_unknown_case_is_not_found(opened: Ledger) -> None:
    opened.refused(NOT_FOUND, KIOSK, "service.submit_case", government.CaseStep(case_number="C-9"))


@pytest.mark.parametrize("signer", [MARKET, STRANGER], ids=["other", "none"])
def test_other_departments_may_not_submit(opened: Ledger, signer: nacl.signing.SigningKey) -> None:
    opened.refused(
        NOT_ALLOWED, signer, "service.submit_case", government.CaseStep(case_number="C-2024-0001")
    )


def test_submit_takes_no_other_stage(opened: Ledger) -> None:
    step = government.CaseStep(case_number="C-2024-0001", stage="approved")
    opened.refused(BAD_PAYLOAD, KIOSK, "service.submit_case", step, "no stage")


# ------------------------------------------------------------------ record_stage


def test_stages_are_appended_after_submission(submitted: Ledger) -> None:
    for stage in ("accepted", "site-inspection", "reviewed"):
        submitted.ok(
            AGRICULTURE,
            "service.record_stage",
            government.CaseStep(case_number="C-2024-0001", stage=stage),
        )
    case = get_case(submitted, "C-2024-0001")
    assert case is not None
    assert (case.status, list(case.stages)) == (
        "submitted",
        ["accepted", "site-inspection", "reviewed"],
    )


def test_no_stage_before_submission(opened: Ledger) -> None:
    step = government.CaseStep(case_number="C-2024-0001", stage="accepted")
    opened.refused(INVALID_STATE, AGRICULTURE, "service.record_stage", step, "is 'open'")


def test_no_stage_after_the_result(submitted: Ledger) -> None:
    result = government.CaseResult(case_number="C-2024-0001", result="rejected")
    submitted.ok(AGRICULTURE, "service.record_result", result)
    step = government.CaseStep(case_number="C-2024-0001", stage="reviewed")
    submitted.refused(INVALID_STATE, AGRICULTURE, "service.record_stage", step, "'rejected'")


@pytest.mark.parametrize("signer", [KIOSK, MARKET, STRANGER], ids=["terminal", "other", "none"])
def test_only_the_implementing_department_records_stages(
    submitted: Ledger, signer: nacl.signing.SigningKey
) -> None:
    step = government.CaseStep(case_number="C-2024-0001", stage="accepted")
    submitted.refused(NOT_ALLOWED, signer, "service.record_stage", step)


@pytest.mark.parametrize("stage", ["", "open", "submitted", "approved", "rejected", "x" * 65])
def test_a_stage_needs_a_name_that_is_no_status(submitted: Ledger, stage: str) -> None:
    step = government.CaseStep(case_number="C-2024-0001", stage=stage)
    submitted.refused(BAD_PAYLOAD, AGRICULTURE, "service.record_stage", step, "stage")


def test_stages_are_bounded(submitted: Ledger) -> None:
    for i in range(STAGES_MAX):
        submitted.ok(
            AGRICULTURE,
            "service.record_stage",
            government.CaseStep(case_number="C-2024-0001", stage=f"s{i}"),
        )
    step = government.CaseStep(case_number="C-2024-0001", stage="one-too-many")
    submitted.refused(INVALID_STATE, AGRICULTURE, "service.record_stage", step, str(STAGES_MAX))


def test_a_stage_for_an_unknown_case_is_not_found(submitted: Ledger) -> None:
    step = government.CaseStep(case_number="C-9", stage="accepted")
    submitted.refused(NOT_FOUND, AGRICULTURE, "service.record_stage", step)


# ------------------------------------------------------------------ record_result


def test_an_approval_issues_the_permit(submitted: Ledger) -> None:
    result = government.CaseResult(
        case_number="C-2024-0001", result="approved", license_id="NYJY-0001"
    )
    submitted.ok(AGRICULTURE, "service.record_result", result)
    assert status(submitted) == "approved"
    assert get_result(submitted, "C-2024-0001") == result


def test_a_rejection_is_recorded(submitted: Ledger) -> None:
    result = government.CaseResult(case_number="C-2024-0001", result="rejected")
    submitted.ok(AGRICULTURE, "service.record_result", result)
    assert status(submitted) == "rejected"
    assert get_result(submitted, "C-2024-0001") == result


def test_a_result_is_recorded_once(submitted: Ledger) -> None:
    first = government.CaseResult(case_number="C-2024-0001", result="rejected")
    submitted.ok(AGRICULTURE, "service.record_result", first)
    second = government.CaseResult(
        case_number="C-2024-0001", result="approved", license_id="NYJY-0001"
    )
    submitted.refused(INVALID_STATE, AGRICULTURE, "service.record_result", second, "'rejected'")
    assert get_result(submitted, "C-2024-0001") == first


def test_no_result_before_submission(opened: Ledger) -> None:
    result = government.CaseResult(case_number="C-2024-0001", result="approved")
    opened.refused(INVALID_STATE, AGRICULTURE, "service.record_result", result, "is 'open'")
    assert get_result(opened, "C-2024-0001") is None


@pytest.mark.parametrize("signer", [KIOSK, MARKET, STRANGER], ids=["terminal", "other", "none"])
def test_only_the_implementing_department_records_the_result(
    submitted: Ledger, signer: nacl.signing.SigningKey
) -> None:
    result = government.CaseResult(case_number="C-2024-0001", result="approved")
    submitted.refused(NOT_ALLOWED, signer, "service.record_result", result)


def test_a_result_for_an_unknown_case_is_not_found(submitted: Ledger) -> None:
    result = government.CaseResult(case_number="C-9", result="approved")
    submitted.refused(NOT_FOUND, AGRICULTURE, "service.record_result", result, "C-9")


@pytest.mark.parametrize(
    ("result", "part"),
    [
        (government.CaseResult(case_number="C-2024-0001", result="maybe"), "result 'maybe'"),
        (government.CaseResult(case_number="C-2024-0001", result=""), "result ''"),
        (
            government.CaseResult(case_number="C-2024-0001", result="rejected", license_id="L"),
            "license",
        ),
        (
            government.CaseResult(case_number="C-2024-0001", result="approved", license_id="\x00"),
            "print",
        ),
    ],
)
def test_a_result_with_a_bad_shape_is_a_bad_payload(
    submitted: Ledger, result: government.CaseResult, part: str
) -> None:
    submitted.refused(BAD_PAYLOAD, AGRICULTURE, "service.record_result", result, part)


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
