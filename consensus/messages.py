"""Signed consensus messages: build, sign, parse and check them.

A `Signed` is a message whose signature somebody has checked: the node checks the outer
message of every envelope (in batches) before the core sees it; the core checks the
messages nested inside certificates itself through `open_nested`.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from consensus.blocks import detached, is_too_large
from consensus.canonical import is_canonical
from consensus.config import ConsensusConfig
from consensus.crypto import Signer, Verifier
from consensus.reasons import Reason
from protos import consensus_pb2 as pb

KINDS = frozenset(
    {"pre_prepare", "prepare", "commit", "checkpoint", "view_change", "new_view", "status"}
)


@dataclass(frozen=True, slots=True)
class Signed:
    """A consensus message: the exact signed bytes, their signature and the parsed body."""

    sender: bytes
    body: bytes
    signature: bytes
    msg: pb.ConsensusMessage

    @property
    def kind(self) -> str:
        return self.msg.WhichOneof("kind") or ""

    @property
    def payload(self) -> Message:
        return getattr(self.msg, self.kind)

    def to_pb(self) -> pb.SignedMessage:
        return pb.SignedMessage(body=self.body, signature=self.signature)


def sign(signer: Signer, channel: str, kind: str, payload: Message) -> Signed:
    """Sign one message as `signer`; the bytes signed are the bytes that travel."""
    msg = pb.ConsensusMessage(channel=channel, sender=signer.public_key)
    getattr(msg, kind).CopyFrom(payload)
    body = msg.SerializeToString(deterministic=True)
    return Signed(signer.public_key, body, signer.sign(body), msg)


def parse_signed(
    raw: pb.SignedMessage, cfg: ConsensusConfig, senders: Container[bytes] | None = None
) -> Signed | Reason:
    """Structural checks only (no signature): parses, canonically encoded (one byte string
    per message, so a vote cannot be re-framed), right channel, a kind, and a sender in
    `senders` (default: the validators of `cfg`)."""
    msg = pb.ConsensusMessage()
    try:
        msg.ParseFromString(raw.body)
    except DecodeError:
        return Reason.MALFORMED
    if not is_canonical(msg, raw.body):
        return Reason.NON_CANONICAL
    if msg.WhichOneof("kind") not in KINDS:
        return Reason.MALFORMED
    if msg.channel != cfg.channel:
        return Reason.WRONG_CHANNEL
    if msg.sender not in (cfg.validators if senders is None else senders):
        return Reason.UNKNOWN_SENDER
    return Signed(msg.sender, raw.body, raw.signature, msg)


def open_nested(raw: pb.SignedMessage, cfg: ConsensusConfig, verifier: Verifier) -> Signed | Reason:
    """Parse and verify a message nested in a certificate (the node never saw it)."""
    signed = parse_signed(raw, cfg)
    if isinstance(signed, Reason):
        return signed
    if not verifier.verify(signed.sender, signed.body, signed.signature):
        return Reason.BAD_SIGNATURE
    return signed


def encode_envelope(message: Signed, blocks: Iterable[pb.Block] = ()) -> bytes:
    """Wire form of one message and the blocks it names."""
    return pb.Envelope(message=message.to_pb(), blocks=list(blocks)).SerializeToString()


def decode_envelope(
    data: bytes,
    cfg: ConsensusConfig,
    bytes_max: int,
    senders: Container[bytes] | None = None,
) -> tuple[Signed, tuple[pb.Block, ...]] | Reason:
    """Decode an envelope from the wire; its outer signature is still to be checked.
    `senders`: who may send (the node passes the replica's audience)."""
    if len(data) > bytes_max:
        return Reason.BLOCK_TOO_LARGE
    env = pb.Envelope()
    try:
        env.ParseFromString(data)
    except DecodeError:
        return Reason.MALFORMED
    signed = parse_signed(env.message, cfg, senders)
    if isinstance(signed, Reason):
        return signed
    return signed, tuple(env.blocks)


def useful_blocks(
    message: Signed, blocks: Sequence[pb.Block], cfg: ConsensusConfig
) -> tuple[pb.Block, ...]:
    """The attached blocks the core may read, and nothing else (a sender may attach any
    number): a PRE-PREPARE's named block if it is within the block limits, detached from
    the envelope; none for votes, checkpoints and heartbeats; all of a
    VIEW-CHANGE's or NEW-VIEW's, from which the core picks what its certificates name.
    The node queues only these and pre-verifies only their txs."""
    if message.kind in ("view_change", "new_view"):
        return tuple(blocks)
    if message.kind != "pre_prepare":
        return ()
    # Only the digest and the size here: the core parses the block (header, Merkle root)
    # once, when it judges the pre-prepare; a second Merkle pass per block cost ~5 % of a
    # node's CPU under load.
    digest = message.msg.pre_prepare.digest
    for block in blocks:
        if cfg.hashing.hash(block.header) == digest:
            return () if is_too_large(block, cfg) else (detached(block),)
    return ()


def vote(view: int, height: int, digest: bytes) -> pb.Vote:
    return pb.Vote(view=view, height=height, digest=digest)
