"""The words a kiosk and a console show for a case's 秒批 decision (client/approval.py):
every failure the service chain can write (chains/service_shapes.rule_failures) is
explained in Chinese and English, with its material, and never falls back to the
chain's raw wording; a failure the client does not know is still shown as written."""

from __future__ import annotations

import pytest

from chains.service_shapes import rule_failures
from client.approval import FIXED, Decision, day, explain
from protos import government_pb2 as government
from tests.apps import NOW_MS
from tests.unit.test_service_instant_approval import ACCESS_TX, STRICT

LICENSE = government.Material(name="营业执照 business license", required=True)
LICENSE.license_type = "BL01"
LICENSE.items.append("BL01/name")
OPTIONAL = government.Material(name="年度报告 annual report", scan=True)
MATERIALS = government.Materials(item_code="P", materials=[LICENSE, OPTIONAL])


def license_attachment(**fields: object) -> government.Attachment:
    a = government.Attachment(case_number="C", material=LICENSE.name, source="chain:license")
    for name, value in fields.items():
        setattr(a, name, value)
    return a


WRITTEN = {
    "missing-and-scanned": license_attachment(source="scan"),
    "denied": license_attachment(access_tx_id=ACCESS_TX, access_outcome="denied"),
    "not-yet": license_attachment(
        access_tx_id=ACCESS_TX, access_outcome="granted", valid_from_ms=NOW_MS + 86_400_000
    ),
    "ended": license_attachment(
        access_tx_id=ACCESS_TX, access_outcome="granted", valid_from_ms=1, valid_until_ms=NOW_MS
    ),
}


@pytest.mark.parametrize("attached", WRITTEN.values(), ids=WRITTEN.keys())
def test_every_failure_the_chain_writes_is_told_in_plain_words(
    attached: government.Attachment,
) -> None:
    case = government.Case(case_number="C", attachments=[attached])
    failures = rule_failures(STRICT, case, MATERIALS, NOW_MS)
    assert failures
    for written in failures:
        told = explain(written)
        assert told.material in (LICENSE.name, OPTIONAL.name), written
        assert told.zh != "不符合审批规则" and "block time" not in told.en, written


def test_validity_is_told_as_a_date_and_every_fixed_reason_has_both_languages() -> None:
    told = explain(f"{LICENSE.name}: license validity ended at {NOW_MS}, block time {NOW_MS}")
    assert day(NOW_MS) in told.zh and told.en == f"the license expired on {day(NOW_MS)}"
    assert all(zh and en for zh, en in FIXED.values())


def test_an_unknown_failure_is_shown_as_the_chain_wrote_it() -> None:
    told = explain("x: something new")
    assert (told.material, told.en) == ("x", "something new")


def test_only_a_rule_approval_counts_as_instant() -> None:
    by_hand = government.CaseResult(case_number="C", result="approved")
    by_rule = government.CaseResult(case_number="C", result="approved", rule_version=2, height=9)
    assert not Decision("C", "approved", 0, (), by_hand).instant
    decided = Decision("C", "approved", 2, (), by_rule)
    assert decided.instant and decided.height == 9
