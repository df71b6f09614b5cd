"""The startup check of one channel's stored layout (`ChannelLedger.verify_integrity`).

Moved out of ledger.py when pruning came: a pruned ledger starts at its prune base (the
`m:base` record: the last pruned block's height, digest and state root), so the chain
is checked from the block above it, linked to that digest, instead of from genesis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from protos import api_pb2
from protos import consensus_pb2 as cpb

if TYPE_CHECKING:
    from storage.ledger import ChannelLedger


def verify_layout(ledger: ChannelLedger, full: bool = False) -> None:
    """Check the stored chain's layout; raise CorruptLedger at the first problem.

    Every block from the prune base + 1 to the tip must be present, carry its own height
    and channel, name the previous block's digest (the base's for the first) as parent,
    be indexed under its digest (which pins an altered or swapped block to its own height
    rather than to its child's), and have results; no block may remain at or below the
    base; the tip must name the last block and its state root. `full` also checks every
    block's txs against its header's Merkle root. Whether a block's commit certificate is
    valid is the protocol's question, not the layout's: the node asks the core
    (node/integrity.py, consensus/certificates.py).
    """
    from storage.ledger import BLOCK_PREFIX, HEIGHT_BYTES, CorruptLedger, _height_in

    tip, base = ledger.tip(), ledger.base()
    prev_digest, expected = base.hash, base.height + 1
    last_state_root = base.state_root if base.height else None
    for key, raw in ledger.store.iterate(BLOCK_PREFIX):
        height = _height_in(key, BLOCK_PREFIX)
        if len(key) != len(BLOCK_PREFIX) + HEIGHT_BYTES:
            raise CorruptLedger(ledger.channel, height, f"malformed block key {key.hex()}")
        if height > tip.height:
            raise CorruptLedger(ledger.channel, height, f"block beyond the tip {tip.height}")
        if height <= base.height:
            raise CorruptLedger(
                ledger.channel, height, f"block at or below the prune base {base.height}"
            )
        if height != expected:
            raise CorruptLedger(ledger.channel, expected, "block missing")
        prev_digest = _check_link(ledger, height, raw, prev_digest, full)
        results: api_pb2.BlockResults | None = ledger.results(height)
        if results is None:
            raise CorruptLedger(ledger.channel, height, "results missing")
        last_state_root = results.state_root
        expected += 1
    if expected <= tip.height:
        raise CorruptLedger(ledger.channel, expected, "block missing")
    if tip.hash != prev_digest:
        what = f"tip hash {tip.hash.hex()} is not the last block's {prev_digest.hex()}"
        raise CorruptLedger(ledger.channel, tip.height, what)
    if last_state_root is not None and last_state_root != tip.state_root:
        raise CorruptLedger(ledger.channel, tip.height, "tip state root is not the block's")
    if full and tip.state_sum:
        _check_state_sum(ledger, tip.height, tip.state_sum)


def _check_state_sum(ledger: ChannelLedger, height: int, recorded: bytes) -> None:
    from storage.ledger import CorruptLedger
    from storage.snapshot import store_entries, sum_entry
    from storage.state_sum import element, to_bytes

    total = 0
    for key, value in store_entries(ledger.store):
        total += element(ledger.hashing, sum_entry(key, value))
    if to_bytes(total) != recorded:
        what = "the world state and tx index do not sum to the tip's state sum (altered)"
        raise CorruptLedger(ledger.channel, height, what)


def _check_link(
    ledger: ChannelLedger, height: int, raw: bytes, prev_digest: bytes, full: bool
) -> bytes:
    """One block against its key, its parent and the digest index; returns its digest."""
    from storage.ledger import HASH_PREFIX, CorruptLedger, height_key

    channel = ledger.channel
    certified = ledger._parse_block(height, raw)
    header = cpb.BlockHeader()
    try:
        header.ParseFromString(certified.block.header)
    except DecodeError as exc:
        raise CorruptLedger(channel, height, "header does not decode") from exc
    if header.height != height:
        raise CorruptLedger(channel, height, f"header says height {header.height}")
    if header.channel != channel:
        raise CorruptLedger(channel, height, f"block of channel {header.channel!r}")
    if header.parent_hash != prev_digest:
        what = f"parent {header.parent_hash.hex()} is not block {height - 1}'s digest"
        raise CorruptLedger(channel, height, what)
    digest = ledger.hashing.hash(certified.block.header)
    if ledger.store.get(HASH_PREFIX + digest) != height_key(height):
        what = f"digest {digest.hex()} is not indexed at this height (altered or replaced)"
        raise CorruptLedger(channel, height, what)
    if full and header.tx_root != ledger.hashing.merkle_root(certified.block.txs):
        raise CorruptLedger(channel, height, "txs do not match the header's tx root")
    return digest
