"""A channel's crypto suite decides its hashes too (issue 14 §1, the hashing half): on an
`sm2-sm3` channel block digests, tx roots, Merkle proofs, tx ids, the genesis hash and
state roots are SM3 (the suite handed to the core as `ConsensusConfig.hashing`), and on
`ed25519-sha256` they stay SHA-256 computed by the very functions they always were.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from chains.kv import KvApplication
from chains.tx import decode_tx, suite_hashing, tx_id
from client.txs import kv_put_tx
from consensus.blocks import BlockInfo, make_block, parse_block
from consensus.config import ConsensusConfig
from consensus.hashing import SHA256, merkle_root, sha256
from consensus.messages import sign, useful_blocks, vote
from consensus.reasons import Reason
from crypto import SuiteSigner, suite_by_name
from node.config import load_genesis, make_genesis
from node.executor import Executor, state_root
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import consensus_pb2 as pb
from sim.crypto import make_signers
from storage.ledger import ChannelLedger
from storage.stores import MemoryStore

CHAIN = "govchain-test"
CHANNEL = "license"
SM2 = suite_by_name("sm2-sm3")
ED = suite_by_name("ed25519-sha256")
SIGNERS = make_signers(4, suite="sm2-sm3")
KEYS = tuple(s.public_key for s in SIGNERS)
SM3_CFG = ConsensusConfig(channel=CHANNEL, validators=KEYS, hashing=SM2)
CLIENT = SuiteSigner.from_seed(SM2, bytes(range(32)))


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def put(nonce: int) -> bytes:
    return kv_put_tx(CLIENT, CHAIN, CHANNEL, b"k%d" % nonce, b"v", nonce=nonce)


def sm3_block(height: int = 1, parent: bytes = bytes(32)) -> BlockInfo:
    txs = [put(height * 10 + i) for i in range(3)]
    return make_block(SM3_CFG, height, 0, parent, txs, KEYS[0], 1000 * height)


def test_the_default_hashing_is_sha256_by_the_same_functions() -> None:
    assert suite_hashing(None) is SHA256 and suite_hashing(ED) is SHA256
    assert SHA256.hash is sha256 and SHA256.merkle_root is merkle_root
    assert ConsensusConfig(channel=CHANNEL, validators=KEYS).hashing is SHA256
    assert suite_hashing(SM2) is SM2


def test_an_sm2_channel_block_is_named_by_sm3_and_carries_an_sm3_tx_root() -> None:
    info = sm3_block()
    assert info.digest == sm3(info.block.header)
    assert info.header.tx_root == SM2.merkle_root(list(info.txs))
    assert info.header.tx_root != merkle_root(list(info.txs))
    parsed = parse_block(info.block, SM3_CFG)
    assert isinstance(parsed, BlockInfo) and parsed.digest == info.digest


def test_a_sha256_block_is_refused_on_an_sm3_channel_and_the_reverse() -> None:
    sha_cfg = ConsensusConfig(channel=CHANNEL, validators=KEYS)
    sha_block = make_block(sha_cfg, 1, 0, bytes(32), [put(1)], KEYS[0], 1000).block
    assert parse_block(sha_block, SM3_CFG) == Reason.BAD_BLOCK
    assert parse_block(sm3_block().block, sha_cfg) == Reason.BAD_BLOCK


def test_a_pre_prepare_names_its_block_by_the_sm3_digest() -> None:
    info = sm3_block()
    message = sign(SIGNERS[0], CHANNEL, "pre_prepare", vote(0, 1, info.digest))
    assert useful_blocks(message, [info.block], SM3_CFG) == (info.block,)
    sha_cfg = ConsensusConfig(channel=CHANNEL, validators=KEYS)
    assert useful_blocks(message, [info.block], sha_cfg) == ()


def test_tx_ids_are_the_suite_hash_of_the_envelope() -> None:
    raw = put(1)
    assert tx_id(raw) == sha256(raw)
    assert tx_id(raw, SM2.hash) == sm3(raw)
    assert decode_tx(raw, CHAIN, 4096, SM2).tx_id == sm3(raw)
    assert decode_tx(raw, CHAIN, 4096).tx_id == sha256(raw)  # no suite: SHA-256
    verifier = BatchVerifier(threads=1, suite=SM2)
    try:
        checker = NodeTxChecker(verifier, CHAIN, CHANNEL, 4096)
        assert checker.tx_id(raw) == sm3(raw)
        assert checker.verify_txs([raw]) == [True]
        assert sm3(raw) in checker.verified_ids
        assert asyncio.run(checker.verify_decoded([checker.decode(raw)])) == [True]
    finally:
        verifier.close()


def test_the_genesis_of_an_sm2_chain_hashes_with_sm3(tmp_path: Path) -> None:
    raw = make_genesis(CHAIN, CHANNEL, [("a", KEYS[0])], {}, crypto_suite="sm2-sm3")
    path = tmp_path / f"{CHANNEL}.json"
    path.write_bytes(raw)
    genesis = load_genesis(path, CHAIN, CHANNEL)
    assert genesis.hash == sm3(genesis.raw)
    cfg = genesis.consensus_config()
    assert cfg.hashing is SM2 and cfg.genesis_hash == sm3(genesis.raw)
    ed_raw = json.loads(raw)
    del ed_raw["crypto_suite"]
    ed_raw["validators"][0]["public_key"] = "11" * 32
    path.write_text(json.dumps(ed_raw))
    default = load_genesis(path, CHAIN, CHANNEL)
    assert default.hash == sha256(default.raw)
    assert default.consensus_config().hashing is SHA256


def test_state_roots_chain_with_the_suite_hash() -> None:
    writes = {b"k": b"v", b"gone": None}
    assert state_root(bytes(32), 3, writes) == state_root(bytes(32), 3, writes, sha256)
    assert state_root(bytes(32), 3, writes, SM2.hash) != state_root(bytes(32), 3, writes)


@pytest.mark.parametrize("full", [False, True])
def test_an_sm3_ledger_stores_indexes_and_checks_sm3_blocks(full: bool) -> None:
    genesis = sm3(b"genesis")
    ledger = ChannelLedger(MemoryStore(), CHANNEL, genesis, SM2)
    executor = Executor(KvApplication(), CHAIN, CHANNEL, 4096, hashing=SM2)
    parent = genesis
    for height in (1, 2):
        info = sm3_block(height, parent)
        certified = pb.CertifiedBlock(block=info.block)
        out = executor.execute(
            certified, height, ledger.tip().state_root, ledger.get_state, lambda _t: False
        )
        assert out.tx_ids == [sm3(t) for t in info.txs]
        batch = ledger.batch()
        batch.add_block(height, certified, info.digest, out.results, out.writes, out.tx_ids)
        ledger.commit(batch)
        parent = info.digest
    assert ledger.block_hash(1) == sm3(ledger.block(1).block.header)
    assert ledger.tx_location(sm3(info.txs[1])) == (2, 1)  # SM2 signs anew: not put(21)
    ledger.verify_integrity(full=full)
    sha_ledger = ChannelLedger(ledger.store, CHANNEL, genesis)
    with pytest.raises(Exception, match="not indexed"):
        sha_ledger.verify_integrity(full=full)


def test_an_sm2_department_key_gives_one_sidecar_sealing_key_every_time() -> None:
    """SM2 signs anew each time, so the sealing key cannot come from a signature: it is
    the suite's keyed hash under the private key, the same for the same key."""
    from sources.sealing import sealing_key

    again = SuiteSigner.from_seed(SM2, bytes(range(32)))
    assert sealing_key(CLIENT) == sealing_key(again)
    assert sealing_key(CLIENT) != sealing_key(SuiteSigner.from_seed(SM2, bytes(32)))


# ------------------------------------------------------------------ privacy (chains/privacy.py)


def test_privacy_on_sm2_is_hmac_sm3_sm3_commitments_and_sm2_sealing() -> None:
    from chains.privacy import SealError, commit_item, items_root, open_sealed, seal_to
    from chains.privacy import subject_ref as ref

    key = b"k" * 32
    message = b"govchain-subject|91350100M000100Y"
    assert ref(key, "91350100m000100y ", SM2) == hmac.new(key, message, "sm3").digest()
    assert ref(key, "91350100M000100Y") == hmac.new(key, message, hashlib.sha256).digest()
    assert ref(key, "91350100M000100Y", ED) == ref(key, "91350100M000100Y")
    field = b"\x00\x00\x00\x01s\x00\x00\x00\x05scope\x00\x00\x00\x01v"
    assert commit_item(b"s", "scope", b"v", SM2) == sm3(b"\x00" + field)
    assert commit_item(b"s", "scope", b"v") == sha256(b"\x00" + field)
    commitments = [sm3(b"a"), sm3(b"b")]
    assert items_root(commitments, SM2) == SM2.merkle_root(commitments)
    assert items_root(commitments) == merkle_root(commitments)
    sealed = seal_to(CLIENT.public_key, b"salt+value", SM2)
    assert open_sealed(CLIENT, sealed) == b"salt+value"
    with pytest.raises(SealError):
        open_sealed(SuiteSigner.from_seed(SM2, bytes(32)), sealed)


def test_the_license_app_checks_an_items_root_with_the_channel_hash() -> None:
    from chains.base import BlockContext, Departments
    from chains.license import _check_items
    from chains.privacy import items_root
    from protos import government_pb2 as government

    ltype = government.LicenseType(code="t", items=[government.DataItem(code="scope")])
    lic = government.License(items=[government.ItemCommitment(code="scope", commitment=sm3(b"x"))])
    lic.items_root = items_root([sm3(b"x")], SM2)
    _check_items(ltype, lic, SM2)  # accepted
    with pytest.raises(Exception, match="items_root"):
        _check_items(ltype, lic)
    assert BlockContext(1, 0, Departments()).hashing is SHA256


# ------------------------------------------------------------------ evidence bundles


def test_a_bundle_naming_an_unknown_suite_is_not_a_bundle_and_a_genesis_must_agree(
    tmp_path: Path,
) -> None:
    """A default bundle names no suite (it stays as it was); one naming a suite nobody
    knows fails `format`; a bundle's suite must be the one its included genesis names."""
    from client.evidence_verify import verify_evidence
    from tests.unit.test_evidence import KEYS as ED_KEYS
    from tests.unit.test_evidence import Node, collect

    genesis = {
        "chain_id": "govchain-test",
        "channel": "authorization",
        "validators": [{"node_id": f"n{i}", "public_key": k.hex()} for i, k in enumerate(ED_KEYS)],
    }
    (tmp_path / "authorization.json").write_text(json.dumps(genesis))
    bundle = collect(Node(), tmp_path)
    assert "crypto_suite" not in bundle
    assert all(c.ok for c in verify_evidence(bundle))
    (check,) = verify_evidence({**bundle, "crypto_suite": "rot13"})
    assert check.name == "format" and not check.ok and "rot13" in check.detail
    genesis["crypto_suite"] = "sm2-sm3"
    bundle["validators"]["genesis"] = json.dumps(genesis)
    failed = {c.name: c.detail for c in verify_evidence(bundle) if not c.ok}
    assert "names suite sm2-sm3" in failed["validator set"]
