"""Snapshot chunks (storage/snapshot.py): cut the same way from the same state, and each
checked on arrival against its listed partial sum, so any forgery is refused."""

from __future__ import annotations

import pytest

from consensus.hashing import SHA256
from protos import api_pb2, storage_pb2
from storage import snapshot
from storage.snapshot import LayoutMismatch, SnapshotError, check_chunk, cut_chunks, store_entries
from storage.state_sum import state_entry, sum_of, to_bytes, to_int, tx_entry
from storage.stores import MemoryStore

HEIGHT = 9


def _location(height: int, index: int) -> bytes:
    return storage_pb2.TxLocation(height=height, index=index).SerializeToString(deterministic=True)


def _store(entries: int = 300) -> MemoryStore:
    store = MemoryStore()
    puts = [(b"s:key%05d" % i, bytes([i % 251]) * 900) for i in range(entries)]
    puts += [(b"t:" + bytes([i]) * 32, _location(1 + i % HEIGHT, i)) for i in range(40)]
    store.write(puts)
    return store


def _chunks(store: MemoryStore) -> list[tuple[bytes, api_pb2.SnapshotChunkInfo]]:
    return list(cut_chunks(store_entries(store), SHA256))


def test_chunks_are_cut_deterministically_and_sum_to_the_state(monkeypatch) -> None:
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 64 << 10)
    store = _store()
    chunks = _chunks(store)
    assert len(chunks) > 3 and chunks == _chunks(_store())
    total = sum(to_int(info.sum) for _, info in chunks) % (1 << 4096)
    entries = [state_entry(k[2:], v) for k, v in store.iterate(b"s:")]
    for k, v in store.iterate(b"t:"):
        loc = storage_pb2.TxLocation.FromString(v)
        entries.append(tx_entry(k[2:], loc.height, loc.index))
    assert to_bytes(total) == to_bytes(sum_of(SHA256, entries))
    got = [e for data, info in chunks for e in check_chunk(data, info, SHA256, HEIGHT)]
    assert got == list(store_entries(store))


def _forged(mutate) -> tuple[bytes, api_pb2.SnapshotChunkInfo]:
    data, info = _chunks(_store(20))[0]
    chunk = api_pb2.SnapshotChunk.FromString(data)
    mutate(chunk)
    forged = chunk.SerializeToString(deterministic=True)
    info = api_pb2.SnapshotChunkInfo(entries=len(chunk.entries), bytes=len(forged), sum=info.sum)
    return forged, info


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: setattr(c.entries[3], "value", b"forged"), "sum"),
        (lambda c: c.entries.pop(), "sum"),
        (lambda c: c.entries.add(key=b"t:" + b"\xfe" * 32, value=_location(1, 0)), "sum"),
        (lambda c: c.entries.insert(0, c.entries[1]), "not above"),
        (lambda c: c.entries.add(key=b"y:", value=b""), "neither"),
        (lambda c: c.entries.insert(0, api_pb2.SnapshotEntry(key=b"m:tip")), "neither"),
        (lambda c: c.entries.add(key=b"t:" + b"\xff" * 32, value=b"\xff"), "decode"),
        (
            lambda c: c.entries.add(key=b"t:" + b"\xff" * 32, value=_location(HEIGHT + 1, 0)),
            "height",
        ),
    ],
)
def test_a_forged_chunk_is_refused_with_its_reason(mutate, reason: str) -> None:
    data, info = _forged(mutate)
    with pytest.raises(SnapshotError, match=reason):
        check_chunk(data, info, SHA256, HEIGHT)


def test_a_chunk_of_another_size_or_count_is_refused() -> None:
    data, info = _chunks(_store(20))[0]
    with pytest.raises(LayoutMismatch, match="bytes"):  # not called forged
        check_chunk(data + b"\x00", info, SHA256, HEIGHT)
    wrong = api_pb2.SnapshotChunkInfo(entries=info.entries + 1, bytes=info.bytes, sum=info.sum)
    with pytest.raises(LayoutMismatch, match="entries"):
        check_chunk(data, wrong, SHA256, HEIGHT)
    with pytest.raises(SnapshotError, match="decode"):
        check_chunk(b"\xff" * 5, api_pb2.SnapshotChunkInfo(bytes=5), SHA256, HEIGHT)


def _shift_sums(m: api_pb2.SnapshotManifest) -> None:
    """Move value between two chunks' sums: the total stays, each chunk's is wrong."""
    a, b = to_int(m.chunks[0].sum), to_int(m.chunks[1].sum)
    m.chunks[0].sum, m.chunks[1].sum = to_bytes(a + 1), to_bytes(b - 1)


def test_shifted_chunk_sums_keep_the_total_but_refuse_every_honest_chunk() -> None:
    """Why a manifest's listed sums cannot be shuffled: the total still verifies, but
    no honest chunk matches its sum, so nothing is installed (the joiner then tries
    another peer's manifest)."""
    store = MemoryStore()
    store.write([(b"s:k%04d" % i, bytes(2000)) for i in range(1500)])
    chunks = list(cut_chunks(store_entries(store), SHA256))
    m = api_pb2.SnapshotManifest(chunks=[info for _, info in chunks])
    _shift_sums(m)
    assert sum(to_int(c.sum) for c in m.chunks) % (1 << 4096) == sum(
        to_int(info.sum) for _, info in chunks
    ) % (1 << 4096)
    for (data, _), info in zip(chunks[:2], m.chunks[:2], strict=True):
        with pytest.raises(SnapshotError, match="sum"):
            check_chunk(data, info, SHA256, 1)


class _Killed(Exception):
    """The process died here (kill -9): nothing after this write happens."""


class _DyingStore(MemoryStore):
    """A store whose process is killed at its `writes_left`-th write from now."""

    writes_left = -1

    def write(self, puts, deletes=(), sync=True) -> None:  # type: ignore[no-untyped-def]
        if self.writes_left == 0:
            raise _Killed
        self.writes_left -= 1
        super().write(puts, deletes, sync)


@pytest.mark.parametrize("killed_at", range(6))
def test_a_wipe_killed_part_way_never_leaves_a_chunk_marked_done_without_its_entries(
    monkeypatch, killed_at: int
) -> None:
    """A restarted joiner skips the chunks its progress marks call written: a wipe (of
    an install it gives up, or before another snapshot) killed after deleting entries but
    before deleting the marks would make it install a state with holes under the
    certified root."""
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 16 << 10)
    first = snapshot._first
    monkeypatch.setattr(snapshot, "_first", lambda it, _n: first(it, 50))  # several batches
    store = _DyingStore()
    chunks = _chunks(_store(120))
    snapshot.start_sync(store, b"manifest")
    for index, (data, info) in enumerate(chunks):
        snapshot.write_chunk(store, index, check_chunk(data, info, SHA256, HEIGHT))
    assert len(chunks) > 3
    store.writes_left = killed_at
    with pytest.raises(_Killed):  # every write of the wipe is a place to die
        snapshot.wipe_sync(store)
    manifest, done = snapshot.sync_progress(store)
    for index in done:
        data, info = chunks[index]
        for key, value in check_chunk(data, info, SHA256, HEIGHT):
            assert store.get(key) == value, f"chunk {index} marked done, {key!r} gone"
    if manifest is None:
        assert not list(store_entries(store)), "entries left with no install to own them"


def test_with_state_sync_off_an_interrupted_install_is_wiped_not_built_on(tmp_path) -> None:
    from dataclasses import replace

    from node.config import NodeConfig
    from node.state_sync import needs_sync
    from storage.snapshot import start_sync, sync_progress, write_chunk
    from storage.stores import LevelDBStore

    config = NodeConfig(
        node_id="n",
        chain_id="c",
        key_file="k",
        listen="127.0.0.1:1",
        data_dir=tmp_path,
        genesis_dir=tmp_path,
        channels=("license",),
        state_sync=True,
    )
    store = LevelDBStore(tmp_path / "license")
    start_sync(store, b"manifest")
    write_chunk(store, 0, [(b"s:foreign", b"state")])
    store.close()
    assert needs_sync(config, "license")  # on: the install resumes
    off = replace(config, state_sync=False)
    assert not needs_sync(off, "license")  # off: wiped, the channel starts from genesis
    store = LevelDBStore(tmp_path / "license")
    try:
        assert sync_progress(store) == (None, set())
        assert list(store.iterate(b"s:")) == []
    finally:
        store.close()
    assert needs_sync(config, "missing") and not needs_sync(off, "missing")
