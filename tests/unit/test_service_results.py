"""The service-item chain (chains.service), a case from the department's side after
submission: its stages and its result (an approval names the issued permit), each
acceptance rule on real signed txs with the pesticide permit as the fixture.
"""

from __future__ import annotations

import nacl.signing
import pytest

from chains.codes import BAD_PAYLOAD, INVALID_STATE, NOT_ALLOWED, NOT_FOUND
from chains.service import (
    get_case,
    get_result,
)
from chains.service_shapes import STAGES_MAX
from protos import government_pb2 as government
from tests.unit.service_permit import (
    AGRICULTURE,
    KIOSK,
    MARKET,
    STRANGER,
    Ledger,
    status,
)

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
