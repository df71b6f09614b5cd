"""Governance txs on the node's side (node.governance, node.executor, node.admission).

The core judges a governance tx (tests/unit/test_membership.py); here: the node hands the
core exactly the txs it may judge (right channel, decodable), flags what only it can see
(another network, a write policy that does not parse), and the executor records the
core's verdicts without judging again, stores the membership, and applies an accepted
write policy from the next tx on.
"""

from __future__ import annotations

import asyncio
import json

import nacl.signing
import pytest

from chains.base import Departments
from chains.governance import (
    GOV_VALIDATORS,
    GOV_WRITE_POLICY,
    MEMBERSHIP_KEY,
    POLICY_BYTES_MAX,
    WRITE_POLICY_KEY,
    approve,
    describe,
    json_depth,
    policy_problem,
)
from chains.kv import KvApplication
from chains.policy import WritePolicy
from chains.tx import encode_tx
from client.txs import kv_put_tx
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.membership import KIND_VALIDATORS, KIND_WRITE_POLICY, Membership, approval_bytes
from node.admission import NOT_MEMBER, ChannelAdmission, admit
from node.executor import GOVERNANCE_REFUSED, NOT_PERMITTED, OK, BlockOutcome, Executor
from node.governance import read_governance
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from tests.unit.test_executor import certify

CHAIN = "govchain-test"
CHANNEL = "license"
TX_MAX = 64 << 10
VALIDATORS = [nacl.signing.SigningKey(bytes([i]) * 32) for i in range(1, 5)]
KEYS = tuple(bytes(k.verify_key) for k in VALIDATORS)
CFG = ConsensusConfig(channel=CHANNEL, validators=KEYS)
SUBMITTER = nacl.signing.SigningKey(bytes([9]) * 32)
DEPT = nacl.signing.SigningKey(bytes([10]) * 32)


def proposal(**change: object) -> pb.GovernanceProposal:
    return pb.GovernanceProposal(chain_id=CHAIN, channel=CHANNEL, sequence=0, **change)  # type: ignore[arg-type]


def gov_tx(p: pb.GovernanceProposal, tx_type: str = GOV_VALIDATORS, approvers: int = 3) -> bytes:
    raw = p.SerializeToString(deterministic=True)
    payload = pb.GovernanceTx(
        proposal=raw, approvals=[approve(raw, k) for k in VALIDATORS[:approvers]]
    )
    body = api.TxBody(
        chain_id=CHAIN,
        channel=p.channel or CHANNEL,
        type=tx_type,
        payload=payload.SerializeToString(),
        nonce=1,
    )
    return encode_tx(body, SUBMITTER)


ADD = proposal(add_validator=pb.ValidatorAdd(public_key=b"\x07" * 32, address="10.0.0.5:7000"))


def test_ordinary_txs_are_not_governance() -> None:
    put = kv_put_tx(SUBMITTER, CHAIN, CHANNEL, b"k", b"gov.validators", nonce=1)
    assert read_governance(put, CHAIN, CHANNEL, TX_MAX) is None


def test_a_governance_tx_reaches_the_core_with_its_approvals() -> None:
    gtx = read_governance(gov_tx(ADD), CHAIN, CHANNEL, TX_MAX)
    assert gtx is not None and gtx.kind == KIND_VALIDATORS and not gtx.problem
    assert gtx.proposal == ADD.SerializeToString(deterministic=True)
    assert [k for k, _ in gtx.approvals] == list(KEYS[:3])
    key, sig = gtx.approvals[0]
    nacl.signing.VerifyKey(key).verify(approval_bytes(gtx.proposal), sig)


def test_another_channels_tx_is_left_to_the_executor() -> None:
    assert read_governance(gov_tx(ADD), CHAIN, "catalog", TX_MAX) is None


@pytest.mark.parametrize(
    ("p", "tx_type", "problem"),
    [
        (
            pb.GovernanceProposal(
                chain_id="other", channel=CHANNEL, add_validator=ADD.add_validator
            ),
            GOV_VALIDATORS,
            "network",
        ),
        (proposal(write_policy=b"{not json"), GOV_WRITE_POLICY, "write policy is invalid"),
        (
            proposal(write_policy=json.dumps({"*": "everyone"}).encode()),
            GOV_WRITE_POLICY,
            "invalid",
        ),
        (proposal(write_policy=b'{"*": ["*"]}'), GOV_VALIDATORS, "in a gov.validators tx"),
        (proposal(), GOV_VALIDATORS, "changes nothing"),
    ],
)
def test_what_only_the_node_can_see_is_a_problem(
    p: pb.GovernanceProposal, tx_type: str, problem: str
) -> None:
    gtx = read_governance(gov_tx(p, tx_type), CHAIN, CHANNEL, TX_MAX)
    assert gtx is not None and problem in gtx.problem


def _execute(
    executor: Executor, txs: list[bytes], verdicts: dict[int, str], m: Membership | None = None
) -> BlockOutcome:
    info = make_block(CFG, 1, 0, sha256(b"genesis"), txs, KEYS[0], 1000)
    return executor.execute(
        certify(info),
        1,
        b"\x00" * 32,
        lambda _k: None,
        lambda _t: False,
        verdicts,
        m,
    )


def _executor(policy: WritePolicy | None = None) -> Executor:
    departments = Departments.from_params(
        [{"id": "d", "name": "d", "keys": [bytes(DEPT.verify_key).hex()], "roles": ["department"]}]
    )
    return Executor(KvApplication(), CHAIN, CHANNEL, TX_MAX, departments, policy)


def test_the_executor_records_the_cores_verdicts_and_stores_the_membership() -> None:
    executor = _executor()
    membership = Membership.genesis(KEYS)
    txs = [gov_tx(ADD), gov_tx(ADD, approvers=1)]
    out = _execute(executor, txs, {0: "", 1: "1 approvals, 3 of 4 validators needed"}, membership)
    codes = [(r.code, r.reason) for r in out.results.results]
    assert codes == [(OK, ""), (GOVERNANCE_REFUSED, "1 approvals, 3 of 4 validators needed")]
    stored = pb.MembershipState.FromString(out.writes[MEMBERSHIP_KEY])
    assert Membership.from_pb(stored) == membership


def test_a_repeated_governance_tx_follows_the_core_but_is_indexed_once() -> None:
    raw = gov_tx(ADD)
    out = _execute(_executor(), [raw, raw], {0: "a validator change is pending", 1: ""})
    assert [r.code for r in out.results.results] == [GOVERNANCE_REFUSED, OK]
    assert out.tx_ids[1] == b"" and out.tx_ids[0] != b""


def test_an_accepted_write_policy_rules_from_the_next_tx() -> None:
    seen: list[WritePolicy] = []
    executor = _executor()
    executor.on_policy = seen.append
    rules = json.dumps({"*": ["department"]}).encode()
    anyone = kv_put_tx(SUBMITTER, CHAIN, CHANNEL, b"k", b"v", nonce=2)
    dept = kv_put_tx(DEPT, CHAIN, CHANNEL, b"k2", b"v", nonce=3)
    before = kv_put_tx(SUBMITTER, CHAIN, CHANNEL, b"k0", b"v", nonce=4)
    txs = [before, gov_tx(proposal(write_policy=rules), GOV_WRITE_POLICY), anyone, dept]
    out = _execute(executor, txs, {1: ""})
    assert [r.code for r in out.results.results] == [OK, OK, NOT_PERMITTED, OK]
    assert out.writes[WRITE_POLICY_KEY] == rules
    assert len(seen) == 1 and seen[0] is executor.policy


def _admission(member: bool) -> dict[str, ChannelAdmission]:
    verifier = BatchVerifier(threads=1)
    checker = NodeTxChecker(verifier, CHAIN, CHANNEL, TX_MAX)
    return {
        CHANNEL: ChannelAdmission(
            checker,
            Mempool(100, 1 << 20),
            KvApplication(),
            lambda: 1,
            lambda _t: False,
            lambda _txs: None,
            member=lambda: member,
        )
    }


def test_admission_checks_the_shape_of_governance_txs() -> None:
    bad = gov_tx(proposal(write_policy=b"[1]"), GOV_WRITE_POLICY)
    results, _ = asyncio.run(admit([gov_tx(ADD), bad], CHAIN, TX_MAX, _admission(True)))
    assert results[0].status == api.ACCEPTED
    assert results[1].status == api.REJECTED and "write policy" in results[1].detail


def test_an_observer_refuses_client_txs() -> None:
    results, admitted = asyncio.run(admit([gov_tx(ADD)], CHAIN, TX_MAX, _admission(False)))
    assert results[0].status == api.REJECTED and results[0].detail == NOT_MEMBER
    assert admitted == {}


def test_kinds_match_the_tx_types() -> None:
    gtx = read_governance(
        gov_tx(proposal(write_policy=b'{"*": ["*"]}'), GOV_WRITE_POLICY), CHAIN, CHANNEL, TX_MAX
    )
    assert gtx is not None and gtx.kind == KIND_WRITE_POLICY and not gtx.problem


def test_a_deeply_nested_policy_is_refused_not_a_crash() -> None:
    """A Byzantine primary could commit one: json.loads would raise RecursionError (at a
    depth that depends on the stack) inside the core's execution on every replica."""
    for raw in (b"[" * 5000, b'{"*": ' + b"[" * 50 + b"]" * 50 + b"}"):
        gtx = read_governance(
            gov_tx(proposal(write_policy=raw), GOV_WRITE_POLICY), CHAIN, CHANNEL, TX_MAX
        )
        assert gtx is not None and "nested too deeply" in gtx.problem
    assert json_depth(b'{"a": ["[[[[[{{{"], "b": ["\\"[["]}') == 2  # brackets in strings


def test_an_oversized_policy_is_refused() -> None:
    raw = json.dumps({"*": ["x" * (POLICY_BYTES_MAX + 1)]}).encode()
    assert "more than" in (policy_problem(raw) or "")


def test_the_verdict_does_not_depend_on_this_nodes_tx_size_limit() -> None:
    raw = gov_tx(ADD)
    small = NodeTxChecker(BatchVerifier(threads=1), CHAIN, CHANNEL, tx_bytes_max=100)
    gtx = small.governance(raw)
    assert gtx is not None and not gtx.problem


def test_the_summary_escapes_control_characters() -> None:
    p = proposal(add_validator=pb.ValidatorAdd(public_key=b"\x07" * 32, address="h:1\r\x1b[2K"))
    text = describe(p)
    assert "\r" not in text and "\x1b" not in text and "\\r" in text
