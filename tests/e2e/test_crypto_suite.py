"""A chain on the national (国密) suite: a 4-node testnet of real processes made with
`testnet init --crypto-suite sm2-sm3` (SM2 validator keys in genesis, in the peers'
configs and in the TLS certificates' names; SM2-signed votes and hellos) commits kv txs
signed with SM2 keys, by the SDK and by `govchain tx send`, and refuses an Ed25519-signed
tx on that channel. Its hashes are SM3: tx ids, block digests, and the Merkle proof
GetTransaction serves, which verifies with SM3 against the block's tx root.
"""

from __future__ import annotations

from pathlib import Path

import nacl.signing

from client.connection import load_signing_key
from client.txs import kv_put_tx, submit, wait_committed
from consensus.hashing import sha256, verify_merkle_proof
from crypto import SuiteSigner, suite_by_name
from node.config import load_genesis
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from tests.e2e.harness import Testnet, cli

CHANNEL = "license"
SM2 = suite_by_name("sm2-sm3")


def check_sm3_proofs(net: Testnet, txs: list[bytes], results: list) -> None:
    """Ids are SM3 of the envelope, and each served proof verifies with SM3 (not SHA-256)
    against the tx root of a block whose SM3 digest the chain knows by height."""
    stub = net.stub(3)
    for raw, r in zip(txs, results, strict=True):
        assert r.tx_id == SM2.hash(raw) != sha256(raw)
        found = stub.GetTransaction(api.GetTransactionRequest(channel=CHANNEL, tx_id=r.tx_id))
        header = pb.BlockHeader.FromString(found.block_header)
        p = found.proof
        args = (found.tx, p.index, p.leaf_count, list(p.siblings), header.tx_root)
        assert SM2.verify_merkle_proof(*args)
        assert not verify_merkle_proof(*args)
        block = stub.GetBlock(api.GetBlockRequest(channel=CHANNEL, height=found.height))
        assert block.hash == SM2.hash(found.block_header)


def test_an_sm2_chain_commits_sm2_signed_txs_and_refuses_ed25519_ones(tmp_path: Path) -> None:
    net = Testnet(
        tmp_path / "net",
        channels=(CHANNEL,),
        crypto_suite="sm2-sm3",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    try:
        genesis = load_genesis(net.root / "genesis" / f"{CHANNEL}.json", net.chain_id, CHANNEL)
        assert genesis.crypto_suite == "sm2-sm3"
        assert {len(key) for _, key in genesis.validators} == {65}
        net.start_all()
        key = load_signing_key(net.client_key, suite="sm2-sm3")
        assert isinstance(key, SuiteSigner)
        txs = [kv_put_tx(key, net.chain_id, CHANNEL, b"k%d" % i, b"v", nonce=i) for i in range(20)]
        results = submit(net.stub(1), txs)
        assert [r.status for r in results] == [api.ACCEPTED] * 20
        for node in range(4):
            for r in results:
                wait_committed(net.stub(node), CHANNEL, r.tx_id, timeout_s=30)
        check_sm3_proofs(net, txs, results)
        args = ["tx", "send", "--node", net.address(2), "--tls", str(net.root / "tls")]
        args += ["--channel", CHANNEL, "--key-file", str(net.client_key)]
        args += ["--chain-id", net.chain_id, "--key", "by-cli", "--value", "v"]
        assert cli([*args, "--crypto-suite", "sm2-sm3"]) == 0  # ACCEPTED
        ed25519 = nacl.signing.SigningKey(bytes.fromhex(net.client_key.read_text()))
        foreign = kv_put_tx(ed25519, net.chain_id, CHANNEL, b"ed", b"v", nonce=99)
        (refused,) = submit(net.stub(0), [foreign])
        assert refused.status in (api.BAD_SIGNATURE, api.MALFORMED)
    finally:
        net.stop_all()
