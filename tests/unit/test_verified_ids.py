"""Verified tx ids are memory held per tx: each must be forgotten once its tx is settled,
or a node that lags (and catches up by block sync) grows without bound."""

from __future__ import annotations

import asyncio

import nacl.signing

from chains.kv import KvApplication
from client.txs import kv_put_tx
from node.admission import ChannelAdmission, admit
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api

CHAIN, CHANNEL = "govchain-test", "license"
KEY = nacl.signing.SigningKey(bytes([7] * 32))


def test_preverify_skips_txs_committed_recently() -> None:
    verifier = BatchVerifier(threads=1)
    checker = NodeTxChecker(verifier, CHAIN, CHANNEL, 1 << 16)
    txs = [kv_put_tx(KEY, CHAIN, CHANNEL, b"k%d" % i, b"v", nonce=i) for i in range(5)]
    try:
        checker.committed_recently = lambda _tid: True
        asyncio.run(checker.preverify(txs))
        assert len(checker.verified_ids) == 0 and verifier.verified_count == 0
        checker.committed_recently = lambda _tid: False
        asyncio.run(checker.preverify(txs))
        assert len(checker.verified_ids) == 5 and verifier.verified_count == 5
    finally:
        verifier.close()


def test_a_tx_committed_while_it_was_verified_leaves_no_id_behind() -> None:
    verifier = BatchVerifier(threads=1)
    checker = NodeTxChecker(verifier, CHAIN, CHANNEL, 1 << 16)
    calls: dict[bytes, int] = {}

    def committed(tid: bytes) -> bool:  # not yet at the first check, committed at the second
        calls[tid] = calls.get(tid, 0) + 1
        return calls[tid] > 1

    channel = ChannelAdmission(
        checker=checker,
        mempool=Mempool(100, 1 << 20),
        app=KvApplication(),
        # Its block commits while the signature is checked: the tip moves with it.
        next_height=lambda: 1 + verifier.verified_count,
        committed=committed,
        enqueue=lambda _txs: None,
    )
    tx = kv_put_tx(KEY, CHAIN, CHANNEL, b"k", b"v", nonce=1)
    try:
        results, admitted = asyncio.run(admit([tx], CHAIN, 1 << 16, {CHANNEL: channel}))
        assert [r.status for r in results] == [api.ALREADY_COMMITTED]
        assert admitted == {} and verifier.verified_count == 1
        assert len(checker.verified_ids) == 0
    finally:
        verifier.close()
