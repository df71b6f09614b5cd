"""秒批 (instant approval) on the service-item chain: an item's approval rule judges a case
in the tx that submits it, from the case's own record and the block context only. Met,
the case is approved in that block with the rule's version and hash recorded; not met,
it stays "submitted" for a person, with the reasons on the case. The pesticide permit is
the fixture; its chain materials are attached as the kiosk attaches a pull: with the
access record's tx id and outcome and the license's validity window.
"""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest

from chains.codes import BAD_PAYLOAD, INVALID_STATE, NOT_ALLOWED, NOT_FOUND, OK
from chains.service import get_case, get_result, get_rule, rule_in_force
from chains.service_shapes import rule_failures
from protos import government_pb2 as government
from tests.apps import NOW_MS
from tests.unit.service_permit import (
    AGRICULTURE,
    BUSINESS_LICENSE,
    CHAIN_SOURCES,
    CTX,
    KIOSK,
    LEGAL_REP_ID,
    MARKET,
    PERMIT,
    PERMIT_MATERIALS,
    PREMISES,
    STRANGER,
    Ledger,
    attachment,
    new_case,
    permit_item,
    permit_materials,
    status,
)

DAY_MS = 86_400_000
ACCESS_TX = bytes([0xAC]) * 32
STRICT = government.ApprovalRule(
    item_code=PERMIT,
    require_all_materials=True,
    require_chain_sources=True,
    require_licenses_valid=True,
)
OPTIONAL_REPORT = government.Material(name="年度报告 annual report", required=False, scan=True)


def pulled(material: government.Material, number: str, **changes: object) -> government.Attachment:
    """The attachment a kiosk commits after a granted pull (a scan for scanned materials)."""
    a = attachment(material, CHAIN_SOURCES[material.name], number)
    if a.source != "scan":
        a.access_tx_id, a.access_outcome = ACCESS_TX, "granted"
    if a.source == "chain:license":
        a.valid_from_ms, a.valid_until_ms = NOW_MS - 365 * DAY_MS, NOW_MS + 365 * DAY_MS
    for name, value in changes.items():
        setattr(a, name, value)
    return a


def with_rule(*materials: government.Material, rule: government.ApprovalRule = STRICT) -> Ledger:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    ledger.ok(AGRICULTURE, "service.publish_materials", permit_materials(*materials))
    ledger.ok(AGRICULTURE, "service.set_rule", rule)
    return ledger


FIXTURES = {"license": BUSINESS_LICENSE, "rep_id": LEGAL_REP_ID, "premises": PREMISES}


def submit(
    ledger: Ledger,
    number: str,
    changed: dict[str, object] | None = None,
    extra: tuple[government.Attachment, ...] = (),
) -> government.Case:
    """Open case `number`, attach `extra` and every permit material as pulled (those in
    `changed`, keyed by their FIXTURES name, as given) and submit it."""
    ledger.ok(KIOSK, "service.open_case", new_case(number))
    replaced = {FIXTURES[k].name: a for k, a in (changed or {}).items()}
    for a in extra:
        ledger.ok(KIOSK, "service.attach_material", a)
    for m in PERMIT_MATERIALS:
        ledger.ok(KIOSK, "service.attach_material", replaced.get(m.name, pulled(m, number)))
    ledger.ok(KIOSK, "service.submit_case", government.CaseStep(case_number=number))
    case = get_case(ledger, number)
    assert case is not None
    return case


# ------------------------------------------------------------------ the rule met


def test_a_case_meeting_the_rule_is_approved_in_the_block_that_submits_it() -> None:
    ledger = with_rule()
    case = submit(ledger, "C-1")
    assert (case.status, case.rule_version, list(case.rule_failures)) == ("approved", 1, [])
    rule = get_rule(ledger, PERMIT)
    assert rule is not None and rule.version == 1
    assert get_result(ledger, "C-1") == government.CaseResult(
        case_number="C-1",
        result="approved",
        decision="auto-approved by rule v1",
        rule_version=1,
        rule_hash=hashlib.sha256(rule.SerializeToString(deterministic=True)).digest(),
        height=CTX.height,
    )
    # Decided: no person records a second result.
    manual = government.CaseResult(case_number="C-1", result="rejected")
    assert ledger.send(AGRICULTURE, "service.record_result", manual).code != OK


def test_replaying_the_chain_on_a_fresh_state_reaches_the_same_decisions() -> None:
    ledger = with_rule(*PERMIT_MATERIALS, OPTIONAL_REPORT)
    submit(ledger, "C-1")  # the optional report missing: stays submitted
    ledger.ok(
        AGRICULTURE,
        "service.set_rule",
        government.ApprovalRule(item_code=PERMIT, require_chain_sources=True),
    )
    submit(ledger, "C-2")  # approved by v2
    replay = Ledger()
    for tx in ledger.accepted:
        assert replay.apply_tx(tx).code == OK
    assert replay.state == ledger.state
    assert (status(replay, "C-1"), status(replay, "C-2")) == ("submitted", "approved")


# ------------------------------------------------------------------ each way it fails

EXPIRED = {"valid_until_ms": NOW_MS}  # ends exactly at the block time: no longer valid
FAILURES = {
    "optional-material-missing": (
        {"skip": OPTIONAL_REPORT.name},
        "年度报告 annual report: not attached",
    ),
    "license-scanned": (
        {"license": attachment(BUSINESS_LICENSE, "scan", "C-1")},
        "营业执照 business license: scanned, not pulled from its chain",
    ),
    "catalog-scanned": (
        {"premises": attachment(PREMISES, "scan", "C-1")},
        "经营场所证明 premises certificate: scanned, not pulled from its chain",
    ),
    "license-expired": (
        {"rep_id": pulled(LEGAL_REP_ID, "C-1", **EXPIRED)},
        f"license validity ended at {NOW_MS}, block time {NOW_MS}",
    ),
    "license-not-yet-valid": (
        {"license": pulled(BUSINESS_LICENSE, "C-1", valid_from_ms=NOW_MS + 1)},
        f"license valid only from {NOW_MS + 1}",
    ),
    "no-validity-recorded": (
        {"license": pulled(BUSINESS_LICENSE, "C-1", valid_from_ms=0, valid_until_ms=0)},
        "营业执照 business license: no license validity recorded",
    ),
    "refusal-recorded": (
        {"premises": pulled(PREMISES, "C-1", access_outcome="denied")},
        "经营场所证明 premises certificate: a refusal is recorded for its pull",
    ),
    "no-access-record": (
        {"premises": pulled(PREMISES, "C-1", access_tx_id=b"", access_outcome="")},
        "no granted access record for its pull",
    ),
}


@pytest.mark.parametrize(("changes", "reason"), FAILURES.values(), ids=FAILURES.keys())
def test_a_case_failing_the_rule_stays_submitted_with_the_reason(
    changes: dict[str, object], reason: str
) -> None:
    ledger = with_rule(*PERMIT_MATERIALS, OPTIONAL_REPORT)
    # The optional report is scanned unless the case skips it.
    report = () if "skip" in changes else (attachment(OPTIONAL_REPORT, "scan", "C-1"),)
    changed = {k: v for k, v in changes.items() if k != "skip"}
    case = submit(ledger, "C-1", changed, report)
    assert (case.status, case.rule_version) == ("submitted", 1)
    # A license scanned also has no validity recorded: every failure is told.
    assert any(reason in f for f in case.rule_failures), case.rule_failures
    assert get_result(ledger, "C-1") is None
    # A person decides it as before.
    ledger.ok(
        AGRICULTURE,
        "service.record_result",
        government.CaseResult(case_number="C-1", result="approved"),
    )
    assert status(ledger, "C-1") == "approved"


# ------------------------------------------------------------------ no rule, manual approval


def test_an_item_without_a_rule_keeps_manual_approval(published: Ledger) -> None:
    case = submit(published, "C-1")
    assert (case.status, case.rule_version, list(case.rule_failures)) == ("submitted", 0, [])
    assert get_rule(published, PERMIT) is None and get_result(published, "C-1") is None


# ------------------------------------------------------------------ changing the rule


def test_a_rule_change_by_the_owner_applies_to_later_submissions() -> None:
    lenient = government.ApprovalRule(item_code=PERMIT, require_chain_sources=True)
    ledger = with_rule(rule=lenient)
    expired = {"license": pulled(BUSINESS_LICENSE, "C-2", **EXPIRED)}
    ledger.ok(KIOSK, "service.open_case", new_case("C-2"))  # opened under v1
    assert (
        submit(ledger, "C-1", {"license": pulled(BUSINESS_LICENSE, "C-1", **EXPIRED)}).status
        == "approved"
    )
    ledger.ok(AGRICULTURE, "service.set_rule", STRICT)
    rule = get_rule(ledger, PERMIT)
    assert rule is not None and (rule.version, rule.require_licenses_valid) == (2, True)
    for a in [expired["license"], *(pulled(m, "C-2") for m in PERMIT_MATERIALS[1:])]:
        ledger.ok(KIOSK, "service.attach_material", a)
    ledger.ok(KIOSK, "service.submit_case", government.CaseStep(case_number="C-2"))
    later = get_case(ledger, "C-2")
    assert later is not None and (later.status, later.rule_version) == ("submitted", 2)
    # The earlier decision stands, under the rule that made it.
    first = get_result(ledger, "C-1")
    assert first is not None and first.decision == "auto-approved by rule v1"


@pytest.mark.parametrize("signer", [MARKET, KIOSK, STRANGER], ids=["other", "terminal", "none"])
def test_only_the_implementing_department_sets_the_rule(signer: nacl.signing.SigningKey) -> None:
    ledger = with_rule()
    ledger.refused(NOT_ALLOWED, signer, "service.set_rule", STRICT)
    rule = get_rule(ledger, PERMIT)
    assert rule is not None and rule.version == 1


def test_a_rule_needs_an_item(published: Ledger) -> None:
    rule = government.ApprovalRule(item_code="no-such-item", require_all_materials=True)
    published.refused(NOT_FOUND, AGRICULTURE, "service.set_rule", rule, "no service item")


# ------------------------------------------------------------------ withdrawing the rule

WITHDRAW = government.WithdrawRule(item_code=PERMIT, reason="政策调整 policy change")


def test_a_withdrawn_rule_leaves_later_cases_to_a_person() -> None:
    ledger = with_rule()
    assert submit(ledger, "C-1").status == "approved"
    ledger.ok(AGRICULTURE, "service.withdraw_rule", WITHDRAW)
    record = get_rule(ledger, PERMIT)
    assert record == government.ApprovalRule(item_code=PERMIT, version=2, withdrawn=True)
    assert rule_in_force(ledger, PERMIT) is None
    case = submit(ledger, "C-2")  # would meet the old rule: decided by hand now
    assert (case.status, case.rule_version, list(case.rule_failures)) == ("submitted", 0, [])
    assert get_result(ledger, "C-2") is None
    first = get_result(ledger, "C-1")  # the earlier decision stands
    assert first is not None and first.rule_version == 1
    # A new rule counts on from the withdrawal, so a version names one rule for good.
    ledger.ok(AGRICULTURE, "service.set_rule", STRICT)
    assert submit(ledger, "C-3").rule_version == 3 and status(ledger, "C-3") == "approved"


@pytest.mark.parametrize("signer", [MARKET, KIOSK, STRANGER], ids=["other", "terminal", "none"])
def test_only_the_implementing_department_withdraws_the_rule(
    signer: nacl.signing.SigningKey,
) -> None:
    ledger = with_rule()
    ledger.refused(NOT_ALLOWED, signer, "service.withdraw_rule", WITHDRAW)
    assert rule_in_force(ledger, PERMIT) == get_rule(ledger, PERMIT)


def test_withdrawing_needs_a_rule_in_force(published: Ledger) -> None:
    published.refused(INVALID_STATE, AGRICULTURE, "service.withdraw_rule", WITHDRAW, "no approval")
    published.ok(AGRICULTURE, "service.set_rule", STRICT)
    published.ok(AGRICULTURE, "service.withdraw_rule", WITHDRAW)
    published.refused(INVALID_STATE, AGRICULTURE, "service.withdraw_rule", WITHDRAW, "in force")
    missing = government.WithdrawRule(item_code="no-such-item")
    published.refused(NOT_FOUND, AGRICULTURE, "service.withdraw_rule", missing, "no service item")


# ------------------------------------------------------------------ shapes

BAD = {
    "no-condition": ("service.set_rule", government.ApprovalRule(item_code=PERMIT), "condition"),
    "rule-version": (
        "service.set_rule",
        government.ApprovalRule(item_code=PERMIT, require_all_materials=True, version=3),
        "state only",
    ),
    "rule-withdrawn": (
        "service.set_rule",
        government.ApprovalRule(item_code=PERMIT, require_all_materials=True, withdrawn=True),
        "state only",
    ),
    "withdraw-no-item": ("service.withdraw_rule", government.WithdrawRule(), "item_code"),
    "withdraw-long-reason": (
        "service.withdraw_rule",
        government.WithdrawRule(item_code=PERMIT, reason="x" * 4097),
        "reason",
    ),
    "scan-with-access": (
        "service.attach_material",
        government.Attachment(
            case_number="C-1",
            material="x",
            source="scan",
            evidence_hash=ACCESS_TX,
            access_outcome="granted",
        ),
        "a scan carries no access record",
    ),
    "short-access-tx": (
        "service.attach_material",
        pulled(PREMISES, "C-1", access_tx_id=b"x"),
        "access_tx_id",
    ),
    "odd-outcome": (
        "service.attach_material",
        pulled(PREMISES, "C-1", access_outcome="maybe"),
        "outcome",
    ),
    "window": (
        "service.attach_material",
        pulled(BUSINESS_LICENSE, "C-1", valid_until_ms=NOW_MS - 365 * DAY_MS),
        "valid_until_ms",
    ),
    "result-decision": (
        "service.record_result",
        government.CaseResult(
            case_number="C-1", result="approved", decision="auto-approved by rule v9"
        ),
        "state only",
    ),
    "case-verdict": ("service.open_case", new_case("C-1", rule_failures=["x"]), "state only"),
}


@pytest.mark.parametrize(("tx_type", "msg", "part"), BAD.values(), ids=BAD.keys())
def test_malformed_rule_facts_are_refused(tx_type: str, msg: object, part: str) -> None:
    ledger = with_rule()
    ledger.ok(KIOSK, "service.open_case", new_case("C-1"))
    ledger.refused(BAD_PAYLOAD, AGRICULTURE, tx_type, msg, part)  # type: ignore[arg-type]


def test_failures_are_bounded_by_the_material_list() -> None:
    """Each material gives at most three reasons, so a case's failures stay bounded."""
    materials = permit_materials()
    case = new_case("C-1")
    case.attachments.extend(
        pulled(m, "C-1", access_outcome="denied", valid_from_ms=NOW_MS + 1)
        for m in PERMIT_MATERIALS
        if not m.scan
    )
    failures = rule_failures(STRICT, case, materials, NOW_MS)
    assert len(failures) <= 3 * len(materials.materials)
