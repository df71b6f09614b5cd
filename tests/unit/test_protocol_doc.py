"""docs/protocol.md's worked examples are what the code computes: a client written in
another language can be checked against them, so they must never drift."""

from __future__ import annotations

from pathlib import Path

import nacl.signing

from chains.tx import decode_tx, encode_tx
from consensus.hashing import (
    merkle_proof,
    merkle_root,
    merkle_tree_hash,
    sha256,
    verify_merkle_proof,
)
from protos import api_pb2 as api
from protos import kv_pb2

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def example(name: str) -> dict[str, list[str]]:
    """The `label: hex …` lines of the ```text block that starts with `name`."""
    text = DOC.read_text()
    block = text[text.index(f"```text\n{name}\n") :]
    block = block[len(f"```text\n{name}\n") : block.index("\n```")]
    out: dict[str, list[str]] = {}
    for line in block.splitlines():
        label, _, values = line.partition(":")
        out[label.strip()] = values.split()
    return out


def test_the_worked_merkle_example_is_what_the_code_computes() -> None:
    ex = example("merkle-example")
    leaves = [b"tx0", b"tx1", b"tx2"]
    hashed = [sha256(b"\x00" + leaf) for leaf in leaves]
    assert [ex[f"leaf {i}"][0] for i in range(3)] == [h.hex() for h in hashed]
    assert ex["N(0,1)"] == [sha256(b"\x01" + hashed[0] + hashed[1]).hex()]
    assert ex["tree"] == [merkle_tree_hash(leaves).hex()]
    root = merkle_root(leaves)
    assert ex["root"] == [root.hex()]
    assert ex["empty"] == [merkle_root([]).hex()]
    for i in (0, 2):
        proof = [bytes.fromhex(h) for h in ex[f"proof {i}"]]
        assert proof == merkle_proof(leaves, i)
        assert verify_merkle_proof(leaves[i], i, 3, proof, root)


def test_the_worked_tx_example_is_what_the_code_computes() -> None:
    ex = example("tx-example")
    key = nacl.signing.SigningKey(bytes(range(32)))
    body = api.TxBody(
        chain_id="govchain-0",
        channel="license",
        type="kv.put",
        payload=kv_pb2.KvPut(key=b"k", value=b"v").SerializeToString(deterministic=True),
        nonce=7,
        valid_until_height=1000,
    )
    raw = encode_tx(body, key)
    tx = decode_tx(raw, "govchain-0", 1 << 16)
    assert ex["body"] == [tx.body_bytes.hex()]
    assert ex["signer"] == [tx.signer.hex()]
    assert ex["signature"] == [tx.signature.hex()]
    assert ex["envelope"] == [raw.hex()]
    assert ex["tx id"] == [tx.tx_id.hex()] == [sha256(raw).hex()]
    key.verify_key.verify(tx.body_bytes, tx.signature)
