"""秒批 on a real testnet (four validator processes running the government applications):
agriculture sets the permit item's approval rule; the kiosk flow of the SDK
(client/hall.py, as the web kiosk runs it: plan, consent, case, one-click pull, attach,
submit) completes a case, and every validator has it approved in the very block that
holds the submit_case tx, with the rule's version and hash. A rule not met leaves the
case submitted with its failures readable by any client; a rule changed by the owning
department (the next version) is the one applied next; another department may not change it; a rule
withdrawn leaves later cases to a person.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest

from chains.service import get_rule
from client.state import ChainState
from client.txs import TxRejected
from demo.specs import ITEM, RULE, SPECS
from demo.story import SCAN, Demo
from protos import datashare_pb2 as ds
from protos import government_pb2 as government
from tests.e2e.harness import Testnet, wait_for

BUSINESS_LICENSE = SPECS[0].name  # 营业执照 business license


FAST = {"view_change_timeout_ticks": 20, "status_interval_ticks": 5}
Seeded = tuple[Testnet, Demo, dict[str, government.License]]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A running testnet with the demo's departments, licenses, item and kiosk; no rule."""
    net = Testnet(tmp_path_factory.mktemp("instant") / "net", app="government", **FAST)
    net.start_all()
    try:
        story = Demo(net.root, out=io.StringIO())
        yield net, story, story.seed()
    finally:
        net.stop_all()


@pytest.fixture(scope="module")
def net(seeded: Seeded) -> Testnet:
    return seeded[0]


@pytest.fixture(scope="module")
def demo(seeded: Seeded) -> Demo:
    return seeded[1]


def set_rule(demo: Demo, **conditions: bool) -> government.ApprovalRule:
    """Agriculture sets the item's rule; the rule as the chain keeps it (with its version)."""
    rule = government.ApprovalRule(item_code=ITEM, **conditions)
    demo.must("service", "service.set_rule", rule, demo.keys["agriculture"])
    stored = get_rule(demo.hall.state.on("service"), ITEM)
    assert stored is not None
    return stored


def kiosk_visit(demo: Demo, paper: tuple[str, ...] = ()) -> tuple[str, int]:
    """One applicant at the kiosk: identity, consent, case, the one-click pull of every
    on-chain material the company holds (but those brought on `paper`, scanned instead),
    the storage photos scanned, submit. The case number and the submitting block."""
    _, grant_id, case = demo.kiosk_session()
    plans = [p for p in demo.hall.plan(ITEM, demo.company) if p.name not in paper]
    finals = [u for u in demo.hall.pull(grant_id, case, plans) if u.final and not u.material.scan]
    assert [u.event.status for u in finals] == [ds.OBTAINED] * len(finals), finals
    assert all(u.verified for u in finals) and len(finals) == len(SPECS) - len(paper)
    scans = {SCAN: b"storage photos", **{name: b"paper copy" for name in paper}}
    return case, demo.hall.attach_and_submit(case, finals, scans)


def on_every_validator(net: Testnet, case: str, height: int) -> list[government.CaseResult | None]:
    """The case's result as each validator's own state holds it, once it has the block."""
    out = []
    for i in range(len(net.dirs)):
        wait_for(lambda i=i: net.heights("service", [i])[0] >= height, 20, f"node {i} at {height}")
        out.append(ChainState(net.stub(i)).case_result(case))
    return out


def rule_hash(rule: government.ApprovalRule) -> bytes:
    return hashlib.sha256(rule.SerializeToString(deterministic=True)).digest()


def test_a_case_meeting_the_rule_is_approved_in_the_block_that_holds_its_submission(
    net: Testnet, demo: Demo
) -> None:
    rule = set_rule(demo, **RULE)
    case, height = kiosk_visit(demo)
    decision = demo.hall.decision(case)
    assert decision is not None and decision.instant and not decision.failures
    assert decision.status == "approved" and decision.height == height
    expected = government.CaseResult(
        case_number=case,
        result="approved",
        decision=f"auto-approved by rule v{rule.version}",
        rule_version=rule.version,
        rule_hash=rule_hash(rule),
        height=height,
    )
    assert on_every_validator(net, case, height) == [expected] * 4
    # Decided by the rule: no person records a second result.
    with pytest.raises(TxRejected, match="is 'approved'"):
        demo.must(
            "service",
            "service.record_result",
            government.CaseResult(case_number=case, result="rejected"),
            demo.keys["agriculture"],
        )


def test_a_case_failing_the_rule_stays_submitted_with_its_failures_for_any_client(
    net: Testnet, demo: Demo
) -> None:
    rule = set_rule(demo, **RULE)
    case, height = kiosk_visit(demo, paper=(BUSINESS_LICENSE,))  # brought on paper
    found = ChainState(net.stub(2)).case(case)
    assert found is not None and (found.status, found.rule_version) == ("submitted", rule.version)
    assert f"{BUSINESS_LICENSE}: scanned, not pulled from its chain" in found.rule_failures
    decision = demo.hall.decision(case)
    assert decision is not None and not decision.instant and decision.height == 0
    told = {(f.material, f.en) for f in decision.failures}
    assert (BUSINESS_LICENSE, "a scanned copy, not pulled from the blockchain") in told
    assert on_every_validator(net, case, height) == [None] * 4
    # A person decides it, as without a rule.
    demo.must(
        "service",
        "service.record_result",
        government.CaseResult(case_number=case, result="approved"),
        demo.keys["agriculture"],
    )
    assert ChainState(demo.stub).case(case).status == "approved"  # type: ignore[union-attr]


def test_a_rule_changed_by_its_owner_is_the_one_applied_next(net: Testnet, demo: Demo) -> None:
    before = set_rule(demo, **RULE)
    with pytest.raises(TxRejected, match="only 'agriculture'"):
        demo.must(
            "service",
            "service.set_rule",
            government.ApprovalRule(item_code=ITEM, require_all_materials=True),
            demo.keys["market-regulation"],
        )
    # Agriculture accepts a paper business license from now on: complete is enough.
    changed = set_rule(demo, require_all_materials=True)
    assert changed.version == before.version + 1
    case, height = kiosk_visit(demo, paper=(BUSINESS_LICENSE,))
    (result, *others) = on_every_validator(net, case, height)
    assert result is not None and others == [result] * 3
    assert (result.rule_version, result.rule_hash, result.height) == (
        changed.version,
        rule_hash(changed),
        height,
    )


def test_a_withdrawn_rule_leaves_the_next_case_to_a_person(net: Testnet, demo: Demo) -> None:
    set_rule(demo, **RULE)
    demo.must(
        "service",
        "service.withdraw_rule",
        government.WithdrawRule(item_code=ITEM, reason="pilot ended"),
        demo.keys["agriculture"],
    )
    case, height = kiosk_visit(demo)  # would meet the withdrawn rule
    decision = demo.hall.decision(case)
    assert decision is not None and (decision.status, decision.rule_version) == ("submitted", 0)
    assert on_every_validator(net, case, height) == [None] * 4
    with pytest.raises(TxRejected, match="no approval rule in force"):
        demo.must(
            "service",
            "service.withdraw_rule",
            government.WithdrawRule(item_code=ITEM),
            demo.keys["agriculture"],
        )


def test_the_demo_story_ends_with_the_case_approved_in_the_block_that_completed_it(
    seeded: Seeded,
) -> None:
    """The demo's own steps: agriculture's rule, the kiosk session, the pull, step 7."""
    _, story, anchored = seeded
    version = story.publish_rule()
    _, grant_id, case = story.kiosk_session()
    story.one_click_pull(grant_id, case, anchored)
    story.finish_case(case)
    result = ChainState(story.stub).case_result(case)
    assert result is not None and result.rule_version == version
    told = story.out.getvalue()  # type: ignore[attr-defined]
    assert f"approved instantly (秒批) in block {result.height}" in told
    assert f"by rule v{version}" in told and "permit issued" in told
    assert "approves by hand" not in told
