"""Pruning one channel's ledger: delete old blocks and their results, keep what the node needs.

What goes: the `b:` (certified block) and `r:` (results) records at and below the new
prune base. What stays: the tip, the world state, the consensus records, the digest
index `h:` (so a lookup by hash can say "pruned" rather than "unknown") and the tx index
`t:` — the executor's replay protection looks every committed tx id up in it for the
life of the chain (docs/node.md), so it is never pruned. The base record `m:base` keeps
the last pruned block's height, digest and state root, which the integrity check and an
archive link the retained chain to.

The rule (`prune_limit`): never above `tip − retain_blocks`, and never at or above the
stable checkpoint: the core reads the blocks above it after a restart (recent tx ids,
executed checkpoints), and a lagging peer catches up from there.

Why the write goes straight to the store, outside `LedgerBatch`: a batch's checks (its
parent, its staged tip, its slot prune scan) never read the records pruning deletes, so
a pruning write cannot make an open batch stale and need not bump the ledger's
generation. It is still one atomic, synced write: a crash leaves the old base with all
its blocks, or the new base without them.
"""

from __future__ import annotations

from protos import storage_pb2
from storage.codec import decode_checkpoint
from storage.ledger import (
    BASE_KEY,
    BLOCK_PREFIX,
    CHECKPOINT_KEY,
    RESULTS_PREFIX,
    ChannelLedger,
    CorruptLedger,
    height_key,
)

RETAIN_BLOCKS_MIN = 64  # at least runtime.RECENT_TX_BLOCKS: the core's replay window at restart


def prune_limit(ledger: ChannelLedger, retain_blocks: int) -> int:
    """The highest height that may be pruned now (0: none): at most `retain_blocks` below
    the tip, and below the stable checkpoint."""
    if retain_blocks < RETAIN_BLOCKS_MIN:
        raise ValueError(f"retain_blocks must be at least {RETAIN_BLOCKS_MIN}")
    raw = ledger.store.get(CHECKPOINT_KEY)
    stable = 0 if raw is None else decode_checkpoint(raw).height
    return max(0, min(ledger.tip().height - retain_blocks, stable - 1))


def compact_pruned(ledger: ChannelLedger, first: int, last: int) -> None:
    """Give back the disk of pruned heights first..last (blocks and results): LevelDB
    frees a deleted key's space only when compaction reaches it, so without this a
    pruned store was no smaller (docs/benchmark.md, "Disk per 1,000,000 txs")."""
    for prefix in (BLOCK_PREFIX, RESULTS_PREFIX):
        ledger.store.compact(prefix + height_key(first), prefix + height_key(last + 1))


def prune(ledger: ChannelLedger, up_to: int, max_blocks: int) -> int:
    """Prune the blocks above the base up to `up_to`, at most `max_blocks` of them, in one
    atomic write; return how many went. Never the tip."""
    base = ledger.base()
    last = min(up_to, base.height + max_blocks, ledger.tip().height - 1)
    if last <= base.height:
        return 0
    certified, results = ledger.block(last), ledger.results(last)
    if certified is None or results is None:
        raise CorruptLedger(ledger.channel, last, "block or results to prune missing")
    new_base = storage_pb2.Tip(
        height=last,
        hash=ledger.hashing.hash(certified.block.header),
        state_root=results.state_root,
    )
    deletes: list[bytes] = []
    for height in range(base.height + 1, last + 1):
        key = height_key(height)
        deletes += [BLOCK_PREFIX + key, RESULTS_PREFIX + key]
    ledger.store.write([(BASE_KEY, new_base.SerializeToString(deterministic=True))], deletes)
    return last - base.height
