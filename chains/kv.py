"""Generic key-value application: `kv.put` and `kv.delete` on the channel's world state.

For tests and benchmarks. Any key of 1..256 bytes except those beginning with 0x00,
which are the node's (`chains.base.NODE_KEY_PREFIX`)."""

from __future__ import annotations

from google.protobuf.message import Message

from chains.base import (
    BlockContext,
    Refusal,
    TxApplication,
    TxState,
    TxType,
    dispatch_table,
    is_node_key,
)
from chains.codes import BAD_PAYLOAD, UNKNOWN_TYPE
from chains.tx import DecodedTx
from protos import kv_pb2

__all__ = ["BAD_PAYLOAD", "UNKNOWN_TYPE", "KvApplication"]

KEY_BYTES_MAX = 256
VALUE_BYTES_MAX = 16 << 10


RESERVED = "keys beginning with 0x00 are reserved for the node"


def process_put(state: TxState, tx: DecodedTx, op: kv_pb2.KvPut, ctx: BlockContext) -> None:
    if is_node_key(op.key):
        raise Refusal(BAD_PAYLOAD, RESERVED)
    if not op.key or len(op.key) > KEY_BYTES_MAX or len(op.value) > VALUE_BYTES_MAX:
        raise Refusal(BAD_PAYLOAD, "key must be 1..256 bytes, value <= 16 KiB")
    state.put_raw(op.key, op.value)


def process_delete(state: TxState, tx: DecodedTx, op: kv_pb2.KvDelete, ctx: BlockContext) -> None:
    if is_node_key(op.key):
        raise Refusal(BAD_PAYLOAD, RESERVED)
    if state.get(op.key) is None:
        raise Refusal(BAD_PAYLOAD, "no such key")
    state.put_raw(op.key, None)


TX_TYPES = (TxType("kv.put", kv_pb2.KvPut), TxType("kv.delete", kv_pb2.KvDelete))
ROUTES = dispatch_table(TX_TYPES, globals())


class KvApplication(TxApplication):
    """Admission checks only the type: a payload is parsed (and refused) in the block."""

    routes = ROUTES

    def unparsable(self, kind: type[Message], admission: bool) -> str | None:
        return None if admission else "payload does not parse"
