"""Generic key-value application: `kv.put` and `kv.delete` on the channel's world state."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from chains.base import BAD_PAYLOAD, UNKNOWN_TYPE, BlockContext, Outcome, StateReader
from chains.tx import DecodedTx
from protos import kv_pb2

KEY_BYTES_MAX = 256
VALUE_BYTES_MAX = 16 << 10


class KvApplication:
    def check(self, tx: DecodedTx) -> str | None:
        if tx.body.type not in ("kv.put", "kv.delete"):
            return f"unknown type {tx.body.type!r}"
        return None

    def apply(self, state: StateReader, tx: DecodedTx, ctx: BlockContext) -> Outcome:
        try:
            if tx.body.type == "kv.put":
                op = kv_pb2.KvPut.FromString(tx.body.payload)
                if not op.key or len(op.key) > KEY_BYTES_MAX or len(op.value) > VALUE_BYTES_MAX:
                    return Outcome(BAD_PAYLOAD, "key must be 1..256 bytes, value <= 16 KiB")
                return Outcome(writes={op.key: op.value})
            if tx.body.type == "kv.delete":
                op = kv_pb2.KvDelete.FromString(tx.body.payload)
                if state.get(op.key) is None:
                    return Outcome(BAD_PAYLOAD, "no such key")
                return Outcome(writes={op.key: None})
        except DecodeError:
            return Outcome(BAD_PAYLOAD, "payload does not parse")
        return Outcome(UNKNOWN_TYPE, f"unknown type {tx.body.type!r}")
