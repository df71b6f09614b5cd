"""Per-channel write policies: the rule itself, the executor's deterministic check, and
admission's all-or-nothing refusal of a client call."""

from __future__ import annotations

import asyncio

import nacl.signing
import pytest

from chains.kv import KvApplication
from chains.policy import ANY, PolicyError, WritePolicy, government_write_policy
from chains.tx import decode_tx, encode_tx
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from node.admission import ChannelAdmission, admit
from node.executor import NOT_PERMITTED, Executor
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from protos import kv_pb2
from tests.apps import departments, signing_key

CHAIN, CHANNEL = "govchain-test", "license"
OFFICER = signing_key(1)
KIOSK = signing_key(2)
STRANGER = signing_key(3)
DEPARTMENTS = departments(
    ("agriculture", [OFFICER], ["department"]), ("kiosk-01", [KIOSK], ["terminal"])
)
POLICY = WritePolicy.from_params(
    {"kv.delete": ["department"], ANY: ["department", "terminal"]}, DEPARTMENTS
)


def kv_tx(key: nacl.signing.SigningKey, kind: str = "kv.put", nonce: int = 1) -> bytes:
    payload = (
        kv_pb2.KvPut(key=b"k", value=b"v") if kind == "kv.put" else kv_pb2.KvDelete(key=b"k")
    ).SerializeToString()
    body = api.TxBody(chain_id=CHAIN, channel=CHANNEL, type=kind, payload=payload, nonce=nonce)
    return encode_tx(body, key)


def decoded(raw: bytes):
    return decode_tx(raw, CHAIN, 1 << 16)


def test_roles_decide_per_tx_type_with_a_default() -> None:
    assert POLICY.denies(decoded(kv_tx(OFFICER, "kv.delete"))) is None
    assert POLICY.denies(decoded(kv_tx(KIOSK, "kv.put"))) is None
    why = POLICY.denies(decoded(kv_tx(KIOSK, "kv.delete")))
    assert why is not None and "'kiosk-01'" in why and "department" in why
    unknown = POLICY.denies(decoded(kv_tx(STRANGER)))
    assert unknown is not None and "not a registered department key" in unknown


def test_no_policy_allows_everyone_and_an_open_role_allows_strangers() -> None:
    assert WritePolicy(None, DEPARTMENTS).denies(decoded(kv_tx(STRANGER))) is None
    open_policy = WritePolicy.from_params({ANY: [ANY]}, DEPARTMENTS)
    assert open_policy.denies(decoded(kv_tx(STRANGER))) is None
    closed = WritePolicy.from_params({"kv.put": ["department"]}, DEPARTMENTS)
    assert "no role may submit" in (closed.denies(decoded(kv_tx(OFFICER, "kv.delete"))) or "")


@pytest.mark.parametrize(
    "bad", [["department"], {"kv.put": "department"}, {"": ["x"]}, {"kv.put": [""]}]
)
def test_malformed_policies_are_refused(bad: object) -> None:
    with pytest.raises(PolicyError):
        WritePolicy.from_params(bad, DEPARTMENTS)


def test_gov_policies_keep_license_and_catalog_writes_to_departments() -> None:
    for channel in ("license", "catalog"):
        assert government_write_policy(channel) == {ANY: ["department"]}
    assert government_write_policy("authorization")["authorization.create_grant"] == ["terminal"]
    assert government_write_policy("kv-elsewhere") == {ANY: [ANY]}


def test_executor_refuses_a_forbidden_tx_deterministically_and_writes_nothing() -> None:
    signers = [signing_key(9 + i) for i in range(4)]
    keys = tuple(bytes(s.verify_key) for s in signers)
    cfg = ConsensusConfig(channel=CHANNEL, validators=keys)
    txs = [kv_tx(KIOSK, "kv.delete", 1), kv_tx(OFFICER, "kv.put", 2)]
    info = make_block(cfg, 1, 0, sha256(b"g"), txs, keys[0], 1000)
    executor = Executor(KvApplication(), CHAIN, CHANNEL, 1 << 16, DEPARTMENTS, POLICY)
    outcome = executor.execute(
        pb.CertifiedBlock(block=info.block), 1, sha256(b"r"), {}.get, lambda _: False
    )
    assert [r.code for r in outcome.results.results] == [NOT_PERMITTED, 0]
    assert "kiosk-01" in outcome.results.results[0].reason
    assert outcome.writes == {b"k": b"v"}


def test_a_denied_tx_stops_the_whole_client_call_but_not_gossip() -> None:
    verifier = BatchVerifier(threads=1)
    enqueued: list[list[bytes]] = []
    mempool = Mempool(100, 1 << 20)
    channel = ChannelAdmission(
        checker=NodeTxChecker(verifier, CHAIN, CHANNEL, 1 << 16),
        mempool=mempool,
        app=KvApplication(),
        next_height=lambda: 1,
        committed=lambda _: False,
        enqueue=enqueued.append,
        policy=POLICY,
    )
    good, bad = kv_tx(OFFICER, "kv.put", 5), kv_tx(KIOSK, "kv.delete", 6)
    try:
        results, admitted = asyncio.run(
            admit([good, bad], CHAIN, 1 << 16, {CHANNEL: channel}, all_or_nothing=True)
        )
        assert [r.status for r in results] == [api.TX_STATUS_UNSPECIFIED, api.PERMISSION_DENIED]
        assert admitted == {} and len(mempool) == 0 and enqueued == []
        assert verifier.verified_count == 0  # refused before any signature work
        assert channel.counts["PERMISSION_DENIED"] == 1
        # Gossip from a peer: the allowed tx gets in, the denied one is only counted.
        results, admitted = asyncio.run(admit([good, bad], CHAIN, 1 << 16, {CHANNEL: channel}))
        assert [r.status for r in results] == [api.ACCEPTED, api.PERMISSION_DENIED]
        assert admitted == {CHANNEL: [good]} and len(mempool) == 1
    finally:
        verifier.close()
