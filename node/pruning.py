"""The background pruner of one channel: after commits, delete old blocks in bounded batches.

A node with `retain_blocks = R` (node config, 0 = keep all) keeps the blocks above
`min(tip − R, stable checkpoint − 1)` (storage/pruning.py says why that bound). The task
wakes when the channel commits, prunes at most `PRUNE_BATCH_BLOCKS` per write and yields
to the event loop between writes, so a node turning pruning on over a long chain never
stalls consensus. It runs on the loop, not in a thread: each prune write is one small
LevelDB batch, and the reads that follow it (`GetBlock`, `FetchBlocks`) then always see
the base and the blocks in step.

LevelDB gives a deleted block's disk back only when compaction reaches its files, so
every COMPACT_EVERY_BLOCKS pruned heights the pruner compacts exactly that key range, on
a thread (LevelDB does the work without the GIL); without it a pruned store stayed as
large as a full one.

A pruned height answers `NOT_FOUND` with `pruned: … lowest retained height L` to
clients (`GetBlock`, `GetTransaction`, `StreamBlocks`) and to peers (`FetchBlocks`); a
peer further behind than every validator's retention needs an archive
(`govchain archive`, docs/operations.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from storage.pruning import compact_pruned, prune, prune_limit

if TYPE_CHECKING:
    from storage.ledger import ChannelLedger

log = structlog.get_logger("pruning")

PRUNE_BATCH_BLOCKS = 256
COMPACT_EVERY_BLOCKS = 1024  # pruned blocks whose disk is given back in one compaction


async def prune_forever(
    ledger: ChannelLedger,
    committed: asyncio.Condition,
    retain_blocks: int,
    floor: Callable[[], int | None] = lambda: None,
) -> None:
    """Prune as far as the rule allows, then wait for the next commit; forever. `floor`
    is the oldest snapshot offered (node/snapshots.py): blocks above it stay, so a
    joiner that installs it can block-sync from there."""
    uncompacted = ledger.pruned_height() + 1  # the first pruned height not yet compacted
    while True:
        target = prune_limit(ledger, retain_blocks)
        oldest = floor()
        if oldest is not None:
            target = min(target, oldest)
        while ledger.pruned_height() < target:
            gone = prune(ledger, target, PRUNE_BATCH_BLOCKS)
            log.info(
                "pruned",
                channel=ledger.channel,
                blocks=gone,
                lowest_retained=ledger.pruned_height() + 1,
            )
            await asyncio.sleep(0)  # yield between bounded batches, not a wait for anything
        base = ledger.pruned_height()
        if base - uncompacted + 1 >= COMPACT_EVERY_BLOCKS:  # on a thread: LevelDB's own work
            await asyncio.to_thread(compact_pruned, ledger, uncompacted, base)
            log.info("compacted", channel=ledger.channel, heights=f"{uncompacted}-{base}")
            uncompacted = base + 1
        height = ledger.tip().height
        async with committed:
            await committed.wait_for(lambda h=height: ledger.tip().height > h)
