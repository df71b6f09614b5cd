"""The console's reads of the network: node statuses, blocks and txs with their decoded
content, the department registry, and signing txs for the logged-in department.

Everything here is a plain blocking SDK call (the routes run them in a worker thread).
A node that does not answer is reported as such, never hidden; a block or tx that does
not exist is None, so the page can say "not found".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from chains import authentication, authorization, catalog, license, service
from chains.governance import GOV_VALIDATORS, GOV_WRITE_POLICY
from client.connection import connect
from client.hall import Network
from client.state import ChainState
from client.txs import TxKey, TxRejected, send_message
from consensus.hashing import sha256
from protos import api_pb2 as api
from protos import consensus_pb2 as pb

READ_TIMEOUT_S = 5.0
ABSENT = (
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.INVALID_ARGUMENT,
)
PAYLOADS: dict[str, type[Message]] = {
    t.name: t.kind
    for module in (authentication, authorization, catalog, license, service)
    for t in module.TX_TYPES
}
PAYLOADS.update({GOV_VALIDATORS: pb.GovernanceTx, GOV_WRITE_POLICY: pb.GovernanceTx})


class NotFound(LookupError):
    """No such block, tx or record on the chain (the message says which)."""


@dataclass(frozen=True)
class NodeStatus:
    name: str
    address: str
    reply: api.GetStatusResponse | None
    problem: str = ""


def departments_of(genesis_dir: Path) -> dict[str, list[bytes]]:
    """Each department's registered tx keys, from the channels' genesis `departments`
    (the union over channels: every channel lists the same consortium)."""
    out: dict[str, list[bytes]] = {}
    for path in sorted(genesis_dir.glob("*.json")):
        app = json.loads(path.read_text()).get("app") or {}
        for entry in app.get("departments", []):
            keys = out.setdefault(str(entry.get("id", "")), [])
            for k in entry.get("keys", []):
                key = bytes.fromhex(k)
                if key not in keys:
                    keys.append(key)
    return out


class Ledger:
    """One department's view of the network."""

    def __init__(self, network: Network, department: str) -> None:
        self.network = network
        self.department = department
        self.stubs = {
            name: connect(address, network.tls) for name, address in network.nodes.items()
        }
        # Reads go to the department's own node when it runs one, else to the first.
        self.home = department if department in self.stubs else next(iter(self.stubs))
        self.state = ChainState.connect(network.nodes[self.home], network.tls)
        self.stub = self.stubs[self.home]
        genesis = network.genesis_dir
        self.departments = departments_of(genesis) if genesis else {}
        self.channels = sorted(p.stem for p in genesis.glob("*.json")) if genesis else []

    @classmethod
    def of_testnet(cls, root: Path, department: str) -> Ledger:
        return cls(Network.from_testnet(root), department)

    # ------------------------------------------------------------------ status

    def statuses(self) -> list[NodeStatus]:
        out = []
        for name, stub in self.stubs.items():
            address = self.network.nodes[name]
            try:
                reply = stub.GetStatus(api.GetStatusRequest(), timeout=2.0)
                out.append(NodeStatus(name, address, reply))
            except grpc.RpcError as e:
                out.append(NodeStatus(name, address, None, e.code().name))
        return out

    # ------------------------------------------------------------------ blocks and txs

    def block(self, channel: str, height: int = 0) -> api.GetBlockResponse:
        """Block `height` of the channel (0: the latest); NotFound if there is none."""
        request = api.GetBlockRequest(channel=channel, height=height)
        missing = f"no block {height or '(latest)'} on channel {channel}"
        return read_or_not_found(self.stub.GetBlock, request, missing)

    def latest_blocks(self, channel: str, count: int) -> list[api.GetBlockResponse]:
        try:
            tip = self.block(channel).height
        except NotFound:
            return []
        return [self.block(channel, h) for h in range(tip, max(0, tip - count), -1)]

    def tx(self, channel: str, tx_id: bytes) -> api.GetTransactionResponse:
        request = api.GetTransactionRequest(channel=channel, tx_id=tx_id)
        missing = f"no tx {tx_id.hex()} on channel {channel}"
        return read_or_not_found(self.stub.GetTransaction, request, missing)

    # ------------------------------------------------------------------ signing

    def send(self, key: TxKey, channel: str, tx_type: str, payload: Message) -> api.TxResult:
        """Sign as the department, submit, wait for the commit; TxRejected says why not."""
        return send_message(self.stub, self.network.chain_id, channel, tx_type, payload, key)


def read_or_not_found(call: Any, request: Message, missing: str) -> Any:
    """One read; a node's NOT_FOUND (or a height or id it cannot have) is NotFound."""
    try:
        return call(request, timeout=READ_TIMEOUT_S)
    except grpc.RpcError as e:
        if e.code() in ABSENT:
            raise NotFound(missing) from None
        raise


def decode_tx(raw: bytes) -> dict[str, Any]:
    """A tx envelope as the explorer shows it: the body's fields and the payload decoded
    by its type (bytes as hex: commitments, references and hashes, never values)."""
    envelope, body = api.TxEnvelope(), api.TxBody()
    try:
        envelope.ParseFromString(raw)
        body.ParseFromString(envelope.body)
    except DecodeError:
        return {"error": "the envelope does not parse"}
    out: dict[str, Any] = {
        "type": body.type,
        "channel": body.channel,
        "chain_id": body.chain_id,
        "nonce": body.nonce,
        "valid_until_height": body.valid_until_height,
        "signer": envelope.signer.hex(),
    }
    kind = PAYLOADS.get(body.type)
    if kind is None:
        out["payload"] = {"hex": body.payload.hex()}
        return out
    message = kind()
    try:
        message.ParseFromString(body.payload)
    except DecodeError:
        out["payload"] = {"error": "the payload does not parse", "hex": body.payload.hex()}
        return out
    out["payload"] = readable(message)
    return out


def readable(message: Message) -> dict[str, Any]:
    """A message's set fields by name: bytes as hex (commitments, references, hashes),
    enums by name, nested messages likewise."""
    return {f.name: _field_value(f, v) for f, v in message.ListFields()}


def _field_value(field: Any, value: Any) -> Any:
    if field.is_repeated:
        return [_one(field, v) for v in value]
    return _one(field, value)


def _one(field: Any, value: Any) -> Any:
    if field.type == field.TYPE_BYTES:
        return value.hex()
    if field.type == field.TYPE_MESSAGE:
        return readable(value)
    if field.type == field.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named else value
    return value


def tx_summaries(
    block: api.GetBlockResponse, hash_: Callable[[bytes], bytes] = sha256
) -> Iterator[dict[str, Any]]:
    """Each tx of a block: its id (the chain's suite `hash_` of the envelope), type, signer
    and result."""
    results = block.results.results
    for i, raw in enumerate(block.block.block.txs):
        decoded = decode_tx(raw)
        result = results[i] if i < len(results) else api.TxResult(code=0, reason="(no result)")
        yield {
            "index": i,
            "id": hash_(raw).hex(),
            "type": decoded.get("type", "?"),
            "signer": decoded.get("signer", ""),
            "code": result.code,
            "reason": result.reason,
        }


__all__ = ["Ledger", "NotFound", "TxRejected", "decode_tx", "departments_of", "tx_summaries"]
