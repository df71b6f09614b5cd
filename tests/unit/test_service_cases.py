"""The service-item chain (chains.service), a case from the applicant's side: opening it,
attaching materials (pulled from chain or scanned) and submitting it, each acceptance
rule on real signed txs with the pesticide permit as the fixture.
"""

from __future__ import annotations

import nacl.signing
import pytest

from chains.codes import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OUT_OF_SCOPE,
)
from chains.service import get_case
from protos import government_pb2 as government
from tests.unit.service_permit import (
    AGRICULTURE,
    BUSINESS_LICENSE,
    CHAIN_SOURCES,
    EVIDENCE,
    KIOSK,
    LEGAL_REP_ID,
    MARKET,
    PERMIT_MATERIALS,
    PREMISES,
    STORAGE_PHOTOS,
    STRANGER,
    Ledger,
    attachment,
    new_case,
    permit_item,
    permit_materials,
    status,
)

# ------------------------------------------------------------------ open_case


def test_a_terminal_opens_a_case_for_the_applicant(opened: Ledger) -> None:
    case = get_case(opened, "C-2024-0001")
    assert case == new_case(status="open")


def test_the_implementing_department_opens_a_case_at_its_counter(published: Ledger) -> None:
    published.ok(AGRICULTURE, "service.open_case", new_case("C-2", intake="counter"))
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
        ({"intake": "fax"}, "intake"),
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
