"""Txs and blocks as JSON, and a tx's inclusion checked on the server.

A tx comes with its Merkle proof, its block's header and commit certificate, and the
verdict of the same checks `govchain verify-evidence` runs on a bundle (the tx decodes
and is signed, its id, the header, the proof reaches the header's tx_root, the header's
hash, the validator set, a quorum of valid commits): the tx is put into the bundle
layout and `client.evidence_verify.verify_evidence` judges it, so the server and the
offline tool can never disagree. The access-record check, which needs the pull request,
is left out. The validator set is the channel's membership at the tx's height if
governance ever changed it, else the genesis file when the gateway has it, else the set
the node reports (and the verdict says which).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message

from chains.registry import APPLICATIONS
from chains.tx import tx_id
from client.evidence import FORMAT, LAYOUT, VERSION, validator_set
from client.evidence_verify import verify_evidence
from client.state import ChainState
from protos import api_pb2 as api
from protos import consensus_pb2 as pb

SKIPPED = frozenset({"format", "access record"})  # not a bundle's claim: a plain tx


def tx_view(
    state: ChainState,
    chain_id: str,
    channel: str,
    tx: api.GetTransactionResponse,
    block: api.GetBlockResponse,
    genesis_dir: Path | None,
) -> dict[str, Any]:
    """The JSON of a committed tx with its proof, certificate and verification."""
    envelope, body = api.TxEnvelope(), api.TxBody()
    envelope.ParseFromString(tx.tx)
    body.ParseFromString(envelope.body)
    commits = [{"body": c.body.hex(), "signature": c.signature.hex()} for c in block.block.commits]
    proof = {
        "index": tx.proof.index,
        "leaf_count": tx.proof.leaf_count,
        "siblings": [s.hex() for s in tx.proof.siblings],
    }
    bundle = {
        "format": FORMAT,
        "version": VERSION,
        "chain_id": chain_id,
        "channel": channel,
        "claim": dict.fromkeys(LAYOUT["claim"], ""),
        "pull_request": "",
        "tx": {
            "id": tx_id(tx.tx).hex(),
            "envelope": tx.tx.hex(),
            "height": tx.height,
            "index": tx.index,
            "result_code": tx.result.code,
            "result_reason": tx.result.reason,
        },
        "proof": proof,
        "block": {"header": tx.block_header.hex(), "hash": block.hash.hex(), "commits": commits},
        "validators": validator_set(state, channel, tx.height, genesis_dir),
    }
    checks = [c for c in verify_evidence(bundle) if c.name not in SKIPPED]
    return {
        "channel": channel,
        "tx_id": bundle["tx"]["id"],
        "type": body.type,
        "signer": envelope.signer.hex(),
        "payload": decode_payload(channel, body),
        "envelope": tx.tx.hex(),
        "height": tx.height,
        "index": tx.index,
        "result_code": tx.result.code,
        "result_reason": tx.result.reason,
        "proof": proof,
        "block_header": tx.block_header.hex(),
        "block_hash": block.hash.hex(),
        "commits": commits,
        "verification": {
            "verified": bool(checks) and all(c.ok for c in checks),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        },
    }


def decode_payload(channel: str, body: api.TxBody) -> dict[str, Any] | None:
    """The payload as JSON (bytes as hex) when the channel's application knows its type."""
    module = APPLICATIONS.get(channel)
    if module is None:
        return None
    route = importlib.import_module(module[0]).ROUTES.get(body.type)
    if route is None:
        return None
    payload: Message = route.tx_type.kind()
    try:
        payload.ParseFromString(body.payload)
    except DecodeError:
        return None
    return message_json(payload)


def message_json(message: Message) -> dict[str, Any]:
    """A message as JSON with proto field names and bytes as hex (not base64)."""
    out = MessageToDict(message, preserving_proto_field_name=True)
    for f, value in message.ListFields():
        if f.type == f.TYPE_BYTES:
            out[f.name] = [v.hex() for v in value] if f.is_repeated else value.hex()
    return out


def block_view(channel: str, block: api.GetBlockResponse) -> dict[str, Any]:
    """A block's header fields, its txs (id, type, result) and its commit certificate."""
    header = pb.BlockHeader()
    header.ParseFromString(block.block.block.header)
    results = block.results.results
    txs = []
    for i, raw in enumerate(block.block.block.txs):
        envelope, body = api.TxEnvelope(), api.TxBody()
        try:
            envelope.ParseFromString(raw)
            body.ParseFromString(envelope.body)
        except DecodeError:
            pass
        result = results[i] if i < len(results) else api.TxResult()
        txs.append(
            {
                "tx_id": tx_id(raw).hex(),
                "type": body.type,
                "result_code": result.code,
                "result_reason": result.reason,
            }
        )
    return {
        "channel": channel,
        "height": block.height,
        "hash": block.hash.hex(),
        "view": header.view,
        "parent_hash": header.parent_hash.hex(),
        "tx_root": header.tx_root.hex(),
        "proposer": header.proposer.hex(),
        "timestamp_ms": header.timestamp_ms,
        "state_root": block.results.state_root.hex(),
        "txs": txs,
        "commits": [
            {"body": c.body.hex(), "signature": c.signature.hex()} for c in block.block.commits
        ],
    }
