"""Pruning gives the disk back (storage/pruning.py `compact_pruned`): on a real LevelDB, a
pruned and compacted range of large blocks leaves the store much smaller, and the blocks
kept are still read."""

from __future__ import annotations

import os
from pathlib import Path

from storage.ledger import BLOCK_PREFIX, ChannelLedger, height_key
from storage.pruning import compact_pruned
from storage.stores import LevelDBStore


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def test_compacting_a_pruned_range_gives_its_disk_back(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    try:
        for height in range(1, 401):  # 400 blocks of 64 KiB (random: no compression)
            store.write([(BLOCK_PREFIX + height_key(height), os.urandom(64 << 10))], sync=False)
        store.compact(b"\x00", b"\xff")
        full = _bytes(tmp_path / "db")
        store.write([], [BLOCK_PREFIX + height_key(h) for h in range(1, 351)])
        assert _bytes(tmp_path / "db") >= full * 0.9  # deleted, not yet given back
        compact_pruned(ChannelLedger(store, "license", b""), 1, 350)
        assert _bytes(tmp_path / "db") < full * 0.4
        assert store.get(BLOCK_PREFIX + height_key(400)) is not None
    finally:
        store.close()


def test_the_pruner_compacts_each_run_of_pruned_heights_once(monkeypatch) -> None:
    import asyncio
    import time

    from consensus.persisted import CheckpointRecord
    from node import pruning
    from storage.ledger import RESULTS_PREFIX
    from storage.stores import MemoryStore
    from tests.unit.ledger_blocks import CHANNEL, GENESIS, append, chain, checkpoint_cert

    monkeypatch.setattr(pruning, "COMPACT_EVERY_BLOCKS", 10)
    ledger = ChannelLedger(MemoryStore(), CHANNEL, GENESIS)
    blocks = chain(100)
    stable = CheckpointRecord(checkpoint_cert(96, blocks[95].info.digest, b""))
    append(ledger, blocks, (stable,))
    calls: list[tuple[bytes, bytes]] = []
    monkeypatch.setattr(ledger.store, "compact", lambda a, b: calls.append((a, b)))

    async def run() -> None:
        task = asyncio.create_task(pruning.prune_forever(ledger, asyncio.Condition(), 64))
        deadline = time.monotonic() + 10
        while not calls[1:] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert ledger.pruned_height() == 36  # tip 100 − 64
    assert calls == [
        (BLOCK_PREFIX + height_key(1), BLOCK_PREFIX + height_key(37)),
        (RESULTS_PREFIX + height_key(1), RESULTS_PREFIX + height_key(37)),
    ]
