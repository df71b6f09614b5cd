"""The byte store contract, on a dict (tests) and on LevelDB (the node).

The contract is deliberately small so both implementations can honour it exactly:

- `write` is ONE atomic batch: after a crash either every put and delete of the call is
  there or none is. Puts are applied first, then deletes, so a key named in both ends up
  absent. The iterables are read completely, and every key and value checked, before
  anything is applied: a bad entry or an exception raised while producing the entries
  writes nothing.
- `sync=True` returns only once the batch is on stable storage (LevelDB fsyncs its log).
- `iterate(prefix)` yields the keys starting with `prefix` in bytewise key order (or the
  reverse), from a snapshot taken when `iterate` is called: writes made while the caller
  walks the result do not show up in it.
- Any failure of the store itself (locked, unreadable, closed) is a `StorageError`.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import plyvel


class StorageError(Exception):
    """The store cannot do what was asked: not openable, closed, bad input, or corrupt."""


class ByteStore(Protocol):
    """Bytes to bytes, with atomic synced batches and ordered prefix iteration."""

    def get(self, key: bytes) -> bytes | None: ...

    def write(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        sync: bool = True,
    ) -> None:
        """Apply all puts, then all deletes, as one atomic batch."""
        ...

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for the keys starting with `prefix`, in key order, from a snapshot."""
        ...

    def compact(self, start: bytes, stop: bytes) -> None:
        """Give back the disk the deleted keys in [start, stop) still take."""
        ...

    def close(self) -> None: ...


def _materialize(
    puts: Iterable[tuple[bytes, bytes]], deletes: Iterable[bytes]
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """Read and type-check the whole batch before anything is applied (all or nothing)."""
    put_list = list(puts)
    delete_list = list(deletes)
    for entry in put_list:
        if not (
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], bytes)
            and isinstance(entry[1], bytes)
        ):
            raise StorageError(f"a put must be a (bytes, bytes) pair, got {entry!r:.80}")
    for key in delete_list:
        if not isinstance(key, bytes):
            raise StorageError(f"a deleted key must be bytes, got {key!r:.80}")
    return put_list, delete_list


class MemoryStore:
    """A dict with a sorted key list: the reference implementation of the contract.

    Durability is the process lifetime; `sync` has nothing to flush. A lock makes each
    write atomic for concurrent readers too (the node reads from gRPC threads).
    """

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []  # sorted bytewise, as LevelDB orders keys
        self._lock = threading.Lock()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("memory store is closed")

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._data.get(key)

    def write(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        sync: bool = True,
    ) -> None:
        self._check_open()
        put_list, delete_list = _materialize(puts, deletes)
        with self._lock:
            for key, value in put_list:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = value
            for key in delete_list:
                if self._data.pop(key, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, key)]

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        with self._lock:
            start = bisect.bisect_left(self._keys, prefix)
            items: list[tuple[bytes, bytes]] = []
            for key in self._keys[start:]:
                if not key.startswith(prefix):
                    break
                items.append((key, self._data[key]))
        if reverse:
            items.reverse()
        return iter(items)

    def snapshot(self) -> StoreSnapshot:
        """A read-only view of the store as it is now (a copy: the reference form)."""
        self._check_open()
        with self._lock:
            frozen = MemoryStore()
            frozen._data, frozen._keys = dict(self._data), list(self._keys)
        return StoreSnapshot(frozen.get, frozen.iterate, frozen.close)

    def compact(self, start: bytes, stop: bytes) -> None:
        self._check_open()  # a dict holds no deleted bytes

    def close(self) -> None:
        self._closed = True


class LevelDBStore:
    """One LevelDB directory. Only one process (and one handle) may hold it at a time."""

    # Memory per open store, chosen because a node opens five (one per channel):
    # LevelDB's defaults (8 MiB block cache, 1000 open tables each holding its index and
    # bloom filter in memory) grow a node's RSS with the chain. Reads here are point
    # lookups of recent keys (tx index, state, the blocks peers fetch), so a small cache
    # serves them; 4 MiB write buffers keep compactions as infrequent as the default.
    BLOCK_CACHE_BYTES = 2 << 20
    WRITE_BUFFER_BYTES = 4 << 20
    OPEN_FILES_MAX = 64

    def __init__(self, path: str) -> None:
        self.path = str(path)
        try:
            # A bloom filter saves disk reads on lookups of absent keys (tx index checks).
            self._db = plyvel.DB(
                self.path,
                create_if_missing=True,
                bloom_filter_bits=10,
                lru_cache_size=self.BLOCK_CACHE_BYTES,
                write_buffer_size=self.WRITE_BUFFER_BYTES,
                max_open_files=self.OPEN_FILES_MAX,
            )
        except plyvel.Error as exc:
            detail = _message(exc)
            hint = " (is another node process using it?)" if "lock" in detail.lower() else ""
            raise StorageError(f"cannot open LevelDB at {self.path}: {detail}{hint}") from exc

    def _check_open(self) -> None:
        if self._db.closed:
            raise StorageError(f"LevelDB at {self.path} is closed")

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        try:
            return self._db.get(key)
        except plyvel.Error as exc:
            raise StorageError(f"read from {self.path} failed: {_message(exc)}") from exc

    def write(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        sync: bool = True,
    ) -> None:
        self._check_open()
        put_list, delete_list = _materialize(puts, deletes)
        try:
            # transaction=True: an exception inside the block discards the batch.
            with self._db.write_batch(transaction=True, sync=sync) as batch:
                for key, value in put_list:
                    batch.put(key, value)
                for key in delete_list:
                    batch.delete(key)
        except plyvel.Error as exc:
            raise StorageError(f"write to {self.path} failed: {_message(exc)}") from exc

    def iterate(self, prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        # Created now, so LevelDB pins the snapshot at this call, not at the first next().
        return self._db.iterator(prefix=prefix or None, reverse=reverse)

    def compact(self, start: bytes, stop: bytes) -> None:
        """LevelDB keeps a deleted key's bytes until compaction reaches its files, and
        the node never waits for that on its own: pruning calls this for the range it
        deleted, or a pruned store stays as large as before (bench/disk.py measured it)."""
        self._check_open()
        self._db.compact_range(start=start, stop=stop)

    def snapshot(self) -> StoreSnapshot:
        """A read-only view of the store at this call (a LevelDB snapshot: later writes do
        not show in it), for an online backup. Close it: LevelDB keeps what it pins."""
        self._check_open()
        snap = self._db.snapshot()

        def get(key: bytes) -> bytes | None:
            self._check_open()
            return snap.get(key)

        def iterate(prefix: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
            self._check_open()
            return snap.iterator(prefix=prefix or None, reverse=reverse)

        return StoreSnapshot(get, iterate, snap.close)

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()


class StoreSnapshot:
    """A store frozen at one point in time: the read half of the ByteStore contract (so a
    ChannelLedger reads its tip from it), and `write` refused. Used as a context manager."""

    def __init__(
        self,
        get: Callable[[bytes], bytes | None],
        iterate: Callable[..., Iterator[tuple[bytes, bytes]]],
        release: Callable[[], None],
    ) -> None:
        self.get = get
        self.iterate = iterate
        self._release = release

    def write(self, puts: object, deletes: object = (), sync: bool = True) -> None:
        raise StorageError("a snapshot is read-only")

    def close(self) -> None:
        self._release()

    def __enter__(self) -> StoreSnapshot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ContentsDigest:
    """The SHA-256 of a store's entries in key order, each framed as 4-byte big-endian
    length + key, 4-byte length + value (so no two different contents frame alike): a
    backup's manifest names it, and restore recomputes it from the restored store."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.key_count = 0
        self.byte_count = 0

    def update(self, key: bytes, value: bytes) -> None:
        for part in (key, value):
            self._hash.update(len(part).to_bytes(4, "big"))
            self._hash.update(part)
        self.key_count += 1
        self.byte_count += len(key) + len(value)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _message(exc: BaseException) -> str:
    """plyvel passes LevelDB's status text as bytes."""
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def os_error_name(exc: BaseException) -> str:
    """The errno name (`ENOSPC`, `EIO`, ...) behind a store failure, or "" if unknown.

    plyvel gives only LevelDB's status text ("IO error: <path>: No space left on
    device"), so the name is found from the OS message inside it when no OSError with an
    errno is in the exception's chain.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return errno.errorcode.get(seen.errno, str(seen.errno))
        seen = seen.__cause__
    text = str(exc)
    for code, name in sorted(errno.errorcode.items()):
        if os.strerror(code) in text:
            return name
    return ""
