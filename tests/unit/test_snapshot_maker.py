"""The snapshot maker (node/snapshots.py) on a real ledger: what a failed build leaves on
disk. A build that fails part way (disk full, a damaged state) must not leave its
partial chunks behind: every later attempt is at another height, under another
temporary name, so each failure would keep its megabytes until a restart, on the very
disk that ran full."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from node import snapshots
from node.snapshots import SnapshotMaker
from storage.ledger import ChannelLedger
from storage.stores import MemoryStore
from tests.unit.ledger_blocks import CHANNEL, GENESIS, append, chain


def _maker(tmp_path: Path) -> tuple[SnapshotMaker, MemoryStore]:
    store = MemoryStore()
    ledger = ChannelLedger(store, CHANNEL, GENESIS)
    append(ledger, chain(3))
    return SnapshotMaker(ledger, "chain", "ed25519-sha256", tmp_path, 3, 2), store


def test_a_build_that_fails_part_way_leaves_no_partial_snapshot(monkeypatch, tmp_path) -> None:
    maker, store = _maker(tmp_path)
    write = snapshots._write

    def disk_full(path: Path, data: bytes) -> None:
        if path.name == snapshots.MANIFEST:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(path, data)

    monkeypatch.setattr(snapshots, "_write", disk_full)
    with pytest.raises(OSError, match="space"):
        maker._build(3, store.snapshot(), [])
    assert list(tmp_path.iterdir()) == [] and maker.offers() == []
    monkeypatch.setattr(snapshots, "_write", write)
    maker._build(3, store.snapshot(), [])  # room again: the next one is made
    assert [o.height for o in maker.offers()] == [3]
    assert [p.name for p in tmp_path.iterdir()] == ["3"]


def test_a_snapshot_removal_killed_part_way_is_not_offered_after_a_restart(
    monkeypatch, tmp_path
) -> None:
    """Dropping the oldest snapshot deletes its files one by one; a kill between its
    first chunk and its manifest must not leave a snapshot that a restarted node offers
    with chunks missing."""
    store = MemoryStore()
    ledger = ChannelLedger(store, CHANNEL, GENESIS)
    blocks = chain(3)
    append(ledger, blocks[:2])
    at_two = store.snapshot()
    append(ledger, blocks[2:])
    maker = SnapshotMaker(ledger, "chain", "ed25519-sha256", tmp_path, 1, 1)
    maker._build(2, at_two, [])

    rmtree = snapshots.shutil.rmtree

    def killed(path: Path, ignore_errors: bool = False) -> None:
        if not (Path(path) / snapshots.MANIFEST).is_file():  # not a snapshot: as before
            rmtree(path, ignore_errors=ignore_errors)
            return
        for chunk in sorted(Path(path).glob("chunk-*")):
            chunk.unlink()
        raise KeyboardInterrupt  # kill -9 before the manifest goes

    monkeypatch.setattr(snapshots.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        maker._build(3, store.snapshot(), [])
    monkeypatch.undo()
    restarted = SnapshotMaker(ledger, "chain", "ed25519-sha256", tmp_path, 1, 1)
    for offer in restarted.offers():
        for index in range(offer.chunks):
            assert restarted.read(offer.height, index) is not None, (offer.height, index)
    assert [o.height for o in restarted.offers()] == [3]
