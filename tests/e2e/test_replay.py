"""A signed tx commits once for the life of the chain, however its bytes are re-framed.

The attack this closes (issue 11): the same signed tx with a field appended to its
envelope had a new id, was ACCEPTED, committed, and rolled a kv key back to an old value.
"""

from __future__ import annotations

from client.connection import load_signing_key
from client.txs import kv_put_tx, submit, submit_and_wait
from protos import api_pb2 as api
from tests.e2e.harness import Testnet, wait_for
from tests.unit.test_canonical import encode, fields_of, varint


def reframings(raw: bytes) -> list[bytes]:
    """The same envelope framed otherwise: a field appended, fields reordered, a padded
    length, a duplicated field."""
    fields = fields_of(raw)
    return [
        raw + varint(15 << 3) + varint(1),
        encode(list(reversed(fields))),
        encode(fields, pad_len=0),
        encode([*fields, fields[0]]),
    ]


def test_a_reencoded_committed_tx_never_commits_again(testnet: Testnet) -> None:
    testnet.start_all()
    key = load_signing_key(testnet.client_key)
    chain = testnet.chain_id
    old = kv_put_tx(key, chain, "license", b"k", b"old value", nonce=1)
    new = kv_put_tx(key, chain, "license", b"k", b"new value", nonce=2)
    assert submit_and_wait(testnet.stub(0), "license", old).code == 0
    assert submit_and_wait(testnet.stub(0), "license", new).code == 0
    # Node 0 answered for the commit; node 1 must have executed the block too before it
    # can know the tx is committed (until then it would rightly admit it, and the
    # executor would refuse it as a duplicate).
    wait_for(lambda: testnet.heights("license") == [2] * 4, 10, "all nodes at height 2")

    for node in (0, 1):
        results = submit(testnet.stub(node), reframings(old))
        for result in results:
            assert result.status == api.MALFORMED, api.TxStatus.Name(result.status)
            assert result.detail.startswith("non_canonical")
        (again,) = submit(testnet.stub(node), [old])
        assert again.status == api.ALREADY_COMMITTED

    state = testnet.stub(2).GetState(api.GetStateRequest(channel="license", key=b"k"))
    assert state.value == b"new value"
    assert testnet.heights("license") == [2] * 4  # nothing re-framed ever made a block
