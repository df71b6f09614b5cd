"""Blocks as consensus sees them: build, parse and check; txs stay opaque bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from consensus.canonical import is_canonical
from consensus.config import BLOCK_HEADER_BYTES_MAX, ConsensusConfig
from consensus.hashing import DIGEST_BYTES
from consensus.reasons import Reason
from protos import consensus_pb2 as pb


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A block with its parsed header and digest (the channel's suite hash, SHA-256 or
    SM3, of the exact header bytes: `cfg.hashing`)."""

    block: pb.Block
    header: pb.BlockHeader
    digest: bytes
    size_bytes: int

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def parent(self) -> bytes:
        return self.header.parent_hash

    @property
    def txs(self) -> Sequence[bytes]:
        return self.block.txs


def make_block(
    cfg: ConsensusConfig,
    height: int,
    view: int,
    parent: bytes,
    txs: Sequence[bytes],
    proposer: bytes,
    timestamp_ms: int,
) -> BlockInfo:
    header = pb.BlockHeader(
        channel=cfg.channel,
        height=height,
        view=view,
        parent_hash=parent,
        tx_root=cfg.hashing.merkle_root(txs),
        proposer=proposer,
        timestamp_ms=timestamp_ms,
    )
    raw = header.SerializeToString(deterministic=True)
    block = pb.Block(header=raw, txs=list(txs))
    digest = cfg.hashing.hash(raw)
    return BlockInfo(block, header, digest, len(raw) + sum(len(t) for t in txs))


def parse_block(
    block: pb.Block, cfg: ConsensusConfig, check_proposer: bool = True
) -> BlockInfo | Reason:
    """Check a block's shape: header parses, right channel, Merkle root matches, size bounds,
    and (unless the caller checks it against the set of the block's height) the proposer."""
    if is_too_large(block, cfg):
        return Reason.BLOCK_TOO_LARGE
    size = block_bytes(block)
    header = pb.BlockHeader()
    try:
        header.ParseFromString(block.header)
    except DecodeError:
        return Reason.MALFORMED
    if not is_canonical(header, block.header):
        return Reason.NON_CANONICAL
    if header.channel != cfg.channel:
        return Reason.WRONG_CHANNEL
    if len(header.parent_hash) != DIGEST_BYTES or header.height < 1:
        return Reason.BAD_BLOCK
    if check_proposer and header.proposer not in cfg.validators:
        return Reason.BAD_BLOCK
    if header.tx_root != cfg.hashing.merkle_root(block.txs):
        return Reason.BAD_BLOCK
    return BlockInfo(detached(block), header, cfg.hashing.hash(block.header), size)


def is_too_large(block: pb.Block, cfg: ConsensusConfig) -> bool:
    """Over the block limits: the check before anything else is done with a block."""
    if len(block.txs) > cfg.block_txs_max:
        return True
    return block_bytes(block) > cfg.block_bytes_max + BLOCK_HEADER_BYTES_MAX  # + header


def detached(block: pb.Block) -> pb.Block:
    """A copy of exactly what the digest and Merkle root name: the container is not signed,
    so unknown fields a sender appended must not be kept, stored or served; and a parsed
    sub-message keeps its whole parent message alive (one arena in upb), so a block kept
    as received would pin every other block of its envelope beyond every byte bound."""
    return pb.Block(header=block.header, txs=block.txs)


def block_bytes(block: pb.Block) -> int:
    """The bytes a block holds: its header and its txs (what a buffer of it pins)."""
    return len(block.header) + sum(len(t) for t in block.txs)


def named_block(
    blocks: Sequence[pb.Block], digest: bytes, cfg: ConsensusConfig
) -> BlockInfo | Reason:
    """The attached block whose header hashes to `digest`, checked by `parse_block`; the
    others are not parsed (a Byzantine sender may attach any number of them)."""
    hash_ = cfg.hashing.hash
    for block in blocks:
        if hash_(block.header) == digest:
            return parse_block(block, cfg)
    return Reason.DIGEST_MISMATCH


def index_blocks(blocks: Sequence[pb.Block], cfg: ConsensusConfig) -> dict[bytes, BlockInfo]:
    """Digest → parsed block for the well-formed blocks attached to one message."""
    out: dict[bytes, BlockInfo] = {}
    for block in blocks:
        info = parse_block(block, cfg)
        if isinstance(info, BlockInfo):
            out[info.digest] = info
    return out
