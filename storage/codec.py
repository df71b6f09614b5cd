"""Consensus records to and from the bytes stored for them (protos/storage.proto).

The core's records are Python values; on disk they are protobuf messages. Blocks and
signed votes inside them are stored as the exact protobuf messages the core holds, so
the signed bytes of every vote survive a restart unchanged ("sign bytes, store bytes").
A view of -1 means "nothing accepted / prepared" (the core's own convention), and a
missing block is an unset field, so `decode(encode(r)) == r` for every record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from consensus.certificates import CheckpointCert
from consensus.persisted import CheckpointRecord, SlotRecord, ViewRecord
from protos import consensus_pb2 as cpb
from protos import storage_pb2 as spb
from storage.stores import StorageError

M = TypeVar("M", bound=Message)


def _parse(message: M, data: bytes, what: str) -> M:
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise StorageError(f"stored {what} does not decode: {exc}") from exc
    return message


def _block_or_none(state: spb.SlotState, field: str) -> cpb.Block | None:
    if not state.HasField(field):
        return None
    block = cpb.Block()
    block.CopyFrom(getattr(state, field))  # detached from the state message
    return block


def _copies(raws: Iterable[cpb.SignedMessage]) -> tuple[cpb.SignedMessage, ...]:
    out = []
    for raw in raws:
        copy = cpb.SignedMessage()
        copy.CopyFrom(raw)
        out.append(copy)
    return tuple(out)


# ------------------------------------------------------------------ view


def encode_view(record: ViewRecord) -> bytes:
    return spb.ViewState(view=record.view, active=record.active).SerializeToString(
        deterministic=True
    )


def decode_view(data: bytes) -> ViewRecord:
    state = _parse(spb.ViewState(), data, "view state")
    return ViewRecord(view=state.view, active=state.active)


# ------------------------------------------------------------------ slot


def encode_slot(record: SlotRecord) -> bytes:
    state = spb.SlotState(
        height=record.height,
        accepted_view=record.accepted_view,
        prepared_view=record.prepared_view,
        prepared_votes=list(record.prepared_votes),
    )
    if record.accepted is not None:
        state.accepted.CopyFrom(record.accepted)
    if record.prepared is not None:
        state.prepared.CopyFrom(record.prepared)
    return state.SerializeToString(deterministic=True)


def decode_slot(data: bytes) -> SlotRecord:
    state = _parse(spb.SlotState(), data, "slot state")
    return SlotRecord(
        height=state.height,
        accepted_view=state.accepted_view,
        accepted=_block_or_none(state, "accepted"),
        prepared_view=state.prepared_view,
        prepared=_block_or_none(state, "prepared"),
        prepared_votes=_copies(state.prepared_votes),
    )


# ------------------------------------------------------------------ checkpoint


def encode_checkpoint(cert: CheckpointCert) -> bytes:
    state = spb.CheckpointState(
        height=cert.height,
        block_hash=cert.block_hash,
        state_root=cert.state_root,
        proof=list(cert.proof),
    )
    return state.SerializeToString(deterministic=True)


def decode_checkpoint(data: bytes) -> CheckpointCert:
    state = _parse(spb.CheckpointState(), data, "checkpoint state")
    return CheckpointCert(
        height=state.height,
        block_hash=state.block_hash,
        state_root=state.state_root,
        proof=_copies(state.proof),
    )


def encode_checkpoint_record(record: CheckpointRecord) -> bytes:
    return encode_checkpoint(record.checkpoint)


def decode_checkpoint_record(data: bytes) -> CheckpointRecord:
    return CheckpointRecord(decode_checkpoint(data))
