"""Serving pruned heights from an archive (node/archive_serving.py): blocks read on demand
by seek with a bounded offset cache, fetch answers bounded as the ledger's, and an archive
that is tampered, of another chain or short of the prune base refused at startup with
its path and reason."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import node.archive_serving as serving
from client.archive import ArchiveError, read_manifest
from consensus.hashing import SHA256
from node.archive_serving import ArchiveReader, block_event, open_archive
from node.config import ConfigError, load_config
from protos import storage_pb2
from tests.unit.test_archive import CHANNEL, COUNT, GENESIS, archived, chain
from tests.unit.test_node_config import toml, write

GENESIS_INFO = SimpleNamespace(channel=CHANNEL, raw=GENESIS)


class FakeLedger:
    """What the archive reader reads of a ledger: its base, tip and digests, and the
    blocks it kept (heights above `base`)."""

    def __init__(self, events: list, base: int, tip: int) -> None:
        self.events, self.hashing = {e.height: e for e in events}, SHA256
        self._base, self._tip = base, tip

    def base(self) -> storage_pb2.Tip:
        digest = self.events[self._base].hash if self._base else b"genesis"
        return storage_pb2.Tip(height=self._base, hash=digest)

    def tip(self) -> storage_pb2.Tip:
        return storage_pb2.Tip(height=self._tip, hash=self.events[self._tip].hash)

    def pruned_height(self) -> int:
        return self._base

    def block_hash(self, height: int) -> bytes:
        return self.events[height].hash

    def block(self, height: int):
        return self.events[height].block if self._base < height <= self._tip else None

    def results(self, height: int):
        return self.events[height].results if self._base < height <= self._tip else None


def served(tmp_path: Path, events: list | None = None) -> tuple[Path, list]:
    events = events or chain()
    out = archived(tmp_path / "archives", events)  # <tmp>/archives/archive
    return out.rename(out.parent / CHANNEL), events


def reader(directory: Path) -> ArchiveReader:
    return ArchiveReader(directory, read_manifest(directory), SHA256)


def test_every_height_is_read_as_archived_and_none_outside(tmp_path: Path) -> None:
    directory, events = served(tmp_path)
    archive = reader(directory)
    for e in events:  # across the chunk boundaries (chunks of 4)
        assert archive.event(e.height) == e
    assert archive.event(0) is None and archive.event(COUNT + 1) is None


def test_only_a_few_chunk_indexes_stay_in_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(serving, "INDEX_CHUNKS_MAX", 2)
    archive = reader(served(tmp_path)[0])
    for height in range(1, COUNT + 1):
        archive.event(height)
    assert len(archive._offsets) == 2


def test_a_fetch_answer_is_bounded_and_stops_at_the_archive_end(tmp_path: Path) -> None:
    directory, events = served(tmp_path)
    archive = reader(directory)
    assert archive.blocks(2, 100, 3, 10**6) == [e.block for e in events[1:4]]
    assert archive.blocks(8, 100, 50, 10**6) == [e.block for e in events[7:]]
    one = events[0].block.ByteSize()
    assert archive.blocks(1, 100, 50, one + 8) == [events[0].block]  # the first one always
    assert archive.blocks(COUNT + 1, COUNT + 5, 5, 10**6) == []


def test_a_file_changed_under_the_node_is_refused_not_served(tmp_path: Path) -> None:
    directory, _ = served(tmp_path)
    archive = reader(directory)
    chunk = directory / read_manifest(directory)["chunks"][0]["file"]
    data = bytearray(chunk.read_bytes())
    data[-40] ^= 1  # inside block 4's record
    chunk.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=chunk.name):
        archive.event(4)


def test_the_ledger_answers_first_and_the_archive_only_pruned_heights(tmp_path: Path) -> None:
    directory, events = served(tmp_path, chain()[:6])
    ledger = FakeLedger(chain(), base=6, tip=COUNT)
    archive = open_archive(directory.parent, GENESIS_INFO, ledger)  # type: ignore[arg-type]
    assert archive is not None
    assert block_event(ledger, archive, 3) == events[2]  # pruned, archived
    assert block_event(ledger, archive, 8).block == ledger.block(8)  # retained
    assert block_event(ledger, None, 3) is None  # pruned, no archive


def test_an_archive_reaching_into_the_retained_chain_links(tmp_path: Path) -> None:
    directory, _ = served(tmp_path)
    events = chain(COUNT + 2)  # the ledger's chain runs on past the archive
    for base, tip in [(0, 6), (4, 8), (4, COUNT), (COUNT, COUNT + 2)]:
        ledger = FakeLedger(events, base=base, tip=tip)
        assert open_archive(directory.parent, GENESIS_INFO, ledger) is not None  # type: ignore[arg-type]


def test_no_archive_for_the_channel_serves_none(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    ledger = FakeLedger(chain(), base=4, tip=COUNT)
    assert open_archive(tmp_path, GENESIS_INFO, ledger) is None  # type: ignore[arg-type]
    assert open_archive(None, GENESIS_INFO, ledger) is None  # type: ignore[arg-type]


def startup_error(directory: Path, ledger: FakeLedger) -> str:
    with pytest.raises(ConfigError) as err:
        open_archive(directory.parent, GENESIS_INFO, ledger)  # type: ignore[arg-type]
    assert str(directory) in str(err.value)
    return str(err.value)


def test_a_tampered_archive_stops_startup(tmp_path: Path) -> None:
    events = chain()
    events[2].block.block.txs[0] = b"forged"
    directory, _ = served(tmp_path, events)
    why = startup_error(directory, FakeLedger(chain(), base=4, tip=COUNT))
    assert "not verified after 2 block(s)" in why and "tampered" in why


def test_an_archive_short_of_the_prune_base_stops_startup(tmp_path: Path) -> None:
    directory, _ = served(tmp_path, chain()[:3])
    why = startup_error(directory, FakeLedger(chain(), base=6, tip=COUNT))
    assert "ends at block 3, but the node pruned up to 6" in why


def test_an_archive_of_another_fork_stops_startup(tmp_path: Path) -> None:
    directory, _ = served(tmp_path)
    other = chain()
    other[5].hash = b"\x01" * 32  # the ledger recorded another digest at its base
    why = startup_error(directory, FakeLedger(other, base=6, tip=COUNT))
    assert "block 6 is" in why and "another chain or fork" in why


def test_the_config_field_must_name_a_directory(tmp_path: Path) -> None:
    (tmp_path / "arch").mkdir()
    path = write(tmp_path, toml({"archive_dir": '"arch"'}))
    assert load_config(path).archive_dir == tmp_path / "arch"
    assert load_config(write(tmp_path, toml())).archive_dir is None
    with pytest.raises(ConfigError, match="archive_dir"):
        load_config(write(tmp_path, toml({"archive_dir": '"missing"'})))
    with pytest.raises(ConfigError, match="archive_dir"):
        load_config(write(tmp_path, toml({"archive_dir": "3"})))
