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
