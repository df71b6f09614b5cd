"""A channel's state as snapshot chunks: cut from a store, checked entry by entry on arrival.

What a snapshot holds: every world-state entry (`s:`) and every tx index entry (`t:`) of
the ledger at one height, in key order: exactly what the state sum covers
(storage/state_sum.py). Chunks are cut deterministically (a new chunk when the next
entry would take it past CHUNK_BYTES), so every honest node cuts the same chunks from the
same state, and a joiner can take chunk 3 from one peer and chunk 4 from another.

Why each chunk can be checked on its own: the manifest lists each chunk's partial sum,
and a joiner accepts the manifest only if those sums add up to the sum the certified
state root binds (node/state_sync.py). A chunk is then accepted only if its entries sum
to its listed partial sum, so a forged chunk is refused on arrival and fetched from
another peer; forging a chunk that matches needs a collision of the multiset hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from google.protobuf.message import DecodeError

from consensus.certificates import CheckpointCert
from consensus.hashing import Hashing
from protos import api_pb2, storage_pb2
from protos import consensus_pb2 as cpb
from storage.codec import encode_checkpoint
from storage.ledger import (
    BASE_KEY,
    BLOCK_PREFIX,
    CHECKPOINT_KEY,
    GOV_PREFIX,
    HASH_PREFIX,
    RESULTS_PREFIX,
    STATE_PREFIX,
    TIP_KEY,
    TX_PREFIX,
    height_key,
)
from storage.state_sum import MODULUS, SUM_BYTES, element, state_entry, to_bytes, tx_entry

CHUNK_BYTES = 1 << 20  # a chunk's serialized size stays near this (one entry may exceed it)
ENTRY_OVERHEAD = 16  # protobuf tags and lengths per entry, generously


class SnapshotError(ValueError):
    """A chunk or manifest that must be refused; the message says why."""


class LayoutMismatch(SnapshotError):
    """A chunk of another size or entry count than the manifest lists: the chunk is
    wrong, or the manifest cuts the state differently from the peer. Which one, a joiner
    cannot tell, so it does not call the peer a forger for it."""


class Readable(Protocol):
    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]: ...


def store_entries(store: Readable) -> Iterator[tuple[bytes, bytes]]:
    """Every entry a snapshot holds, in key order (`s:` sorts before `t:`)."""
    yield from store.iterate(STATE_PREFIX)
    yield from store.iterate(TX_PREFIX)


def sum_entry(key: bytes, value: bytes, max_height: int | None = None) -> bytes:
    """What one store entry contributes to the state sum; SnapshotError if it is not an
    entry a snapshot may carry (another prefix, a malformed tx location, a location above
    the snapshot's height)."""
    if key.startswith(STATE_PREFIX):
        return state_entry(key[len(STATE_PREFIX) :], value)
    if not key.startswith(TX_PREFIX) or len(key) <= len(TX_PREFIX):
        raise SnapshotError(f"key {key[:16].hex()} is neither a state nor a tx entry")
    location = storage_pb2.TxLocation()
    try:
        location.ParseFromString(value)
    except DecodeError:
        raise SnapshotError(f"tx entry {key.hex()}: location does not decode") from None
    if location.SerializeToString(deterministic=True) != value:
        raise SnapshotError(f"tx entry {key.hex()}: location is not canonical")
    if location.height < 1 or (max_height is not None and location.height > max_height):
        raise SnapshotError(f"tx entry {key.hex()}: location height {location.height}")
    return tx_entry(key[len(TX_PREFIX) :], location.height, location.index)


def cut_chunks(
    entries: Iterable[tuple[bytes, bytes]], hashing: Hashing
) -> Iterator[tuple[bytes, api_pb2.SnapshotChunkInfo]]:
    """(serialized chunk, its info) for each chunk of these entries, in order."""
    chunk, size, total = api_pb2.SnapshotChunk(), 0, 0
    for key, value in entries:
        entry_size = len(key) + len(value) + ENTRY_OVERHEAD
        if chunk.entries and size + entry_size > CHUNK_BYTES:
            yield _finish(chunk, total)
            chunk, size, total = api_pb2.SnapshotChunk(), 0, 0
        chunk.entries.add(key=key, value=value)
        size += entry_size
        total += element(hashing, sum_entry(key, value))
    if chunk.entries:
        yield _finish(chunk, total)


def _finish(chunk: api_pb2.SnapshotChunk, total: int) -> tuple[bytes, api_pb2.SnapshotChunkInfo]:
    data = chunk.SerializeToString(deterministic=True)
    info = api_pb2.SnapshotChunkInfo(
        entries=len(chunk.entries), bytes=len(data), sum=to_bytes(total)
    )
    return data, info


def check_chunk(
    data: bytes, info: api_pb2.SnapshotChunkInfo, hashing: Hashing, height: int
) -> list[tuple[bytes, bytes]]:
    """The chunk's entries if it is the one the manifest describes: its size, its entry
    count, keys strictly increasing, every entry a state or tx entry, and the entries'
    sum equal to the listed partial sum. SnapshotError (with the reason) otherwise."""
    if len(data) != info.bytes:
        raise LayoutMismatch(f"{len(data)} bytes, the manifest says {info.bytes}")
    chunk = api_pb2.SnapshotChunk()
    try:
        chunk.ParseFromString(data)
    except DecodeError:
        raise SnapshotError("the chunk does not decode") from None
    if len(chunk.entries) != info.entries:
        raise LayoutMismatch(f"{len(chunk.entries)} entries, the manifest says {info.entries}")
    out: list[tuple[bytes, bytes]] = []
    total, previous = 0, b""
    for entry in chunk.entries:
        key, value = entry.key, entry.value
        if key <= previous:
            raise SnapshotError(f"key {key[:16].hex()} is not above the one before it")
        total += element(hashing, sum_entry(key, value, height))
        out.append((key, value))
        previous = key
    if len(info.sum) != SUM_BYTES or to_bytes(total % MODULUS) != info.sum:
        raise SnapshotError("the entries do not sum to the chunk's listed sum (forged)")
    return out


# ------------------------------------------------------------------ installing (a joiner)

SYNC_MANIFEST_KEY = b"y:manifest"  # the snapshot being installed (serialized manifest)
SYNC_DONE_PREFIX = b"y:done:"  # + chunk index (4 bytes): that chunk's entries are written
SYNC_PREFIX = b"y:"


class Writable(Readable, Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def write(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        sync: bool = True,
    ) -> None: ...


def sync_progress(store: Writable) -> tuple[bytes | None, set[int]]:
    """The manifest of an interrupted install and the chunks already written."""
    done = {
        int.from_bytes(k[len(SYNC_DONE_PREFIX) :], "big")
        for k, _ in store.iterate(SYNC_DONE_PREFIX)
    }
    return store.get(SYNC_MANIFEST_KEY), done


def wipe_sync(store: Writable) -> None:
    """Delete a partial install (its entries and progress), in bounded batches. The
    progress marks go first and the manifest last: a wipe killed part way must leave no
    chunk marked written whose entries are gone (a restart resuming the same snapshot
    would skip it and install a state with holes), nor entries without a manifest that
    makes the next start wipe them (LevelDB applies writes in order, synced or not)."""
    for prefix in (SYNC_DONE_PREFIX, STATE_PREFIX, TX_PREFIX, SYNC_PREFIX):
        while True:
            keys = [k for k, _ in _first(store.iterate(prefix), 10_000)]
            if not keys:
                break
            store.write([], keys, sync=False)
    store.write([], [], sync=True)


def start_sync(store: Writable, manifest_raw: bytes) -> None:
    wipe_sync(store)
    store.write([(SYNC_MANIFEST_KEY, manifest_raw)], sync=True)


def write_chunk(store: Writable, index: int, entries: list[tuple[bytes, bytes]]) -> None:
    """One checked chunk's entries and its progress mark, in one atomic write (not synced:
    the final install is, and a crash before it only costs refetching chunks)."""
    done = (SYNC_DONE_PREFIX + index.to_bytes(4, "big"), b"")
    store.write([*entries, done], sync=False)


def _first(it: Iterator[tuple[bytes, bytes]], n: int) -> Iterator[tuple[bytes, bytes]]:
    for i, item in enumerate(it):
        if i >= n:
            return
        yield item


def finish_sync(
    store: Writable,
    manifest: api_pb2.SnapshotManifest,
    digest: bytes,
    state_sum: bytes,
    checkpoint: CheckpointCert,
    hashing: Hashing,
) -> None:
    """Make the installed state a ledger, in ONE synced write: the snapshot's block with
    its results and digest index, the governance blocks, a prune base just below it, the
    tip (with the state sum and history root), and the certified checkpoint as the stable
    one; the progress records go. The ledger then reads as one pruned up to the block
    below the snapshot's, and the node starts on it as after a restart."""
    height = manifest.height
    header = cpb.BlockHeader.FromString(manifest.block.block.header)
    key = height_key(height)
    base = storage_pb2.Tip(
        height=height - 1, hash=header.parent_hash, state_root=manifest.previous_root
    )
    tip = storage_pb2.Tip(
        height=height,
        hash=digest,
        state_root=manifest.results.state_root,
        state_sum=state_sum,
        history_root=manifest.history_root,
    )
    puts = [
        (BLOCK_PREFIX + key, manifest.block.SerializeToString(deterministic=True)),
        (RESULTS_PREFIX + key, manifest.results.SerializeToString(deterministic=True)),
        (HASH_PREFIX + digest, key),
        (BASE_KEY, base.SerializeToString(deterministic=True)),
        (TIP_KEY, tip.SerializeToString(deterministic=True)),
        (CHECKPOINT_KEY, encode_checkpoint(checkpoint)),
    ]
    for certified in manifest.governance:
        gov_header = cpb.BlockHeader.FromString(certified.block.header)
        raw = certified.SerializeToString(deterministic=True)
        puts.append((GOV_PREFIX + height_key(gov_header.height), raw))
    deletes = [k for k, _ in store.iterate(SYNC_PREFIX)]
    store.write(puts, deletes, sync=True)
