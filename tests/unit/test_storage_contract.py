"""Storage contract: the same tests on the in-memory store and on LevelDB.

The store part checks what the ledger relies on: atomic batches that write all or nothing,
ordered prefix iteration, and clear errors for a locked or unusable LevelDB directory;
then the codec of the consensus records round-trips and refuses garbage. The ledger on top
is checked in test_ledger_contract.py and test_ledger_integrity.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consensus.certificates import genesis_checkpoint
from consensus.hashing import sha256
from consensus.persisted import (
    CheckpointRecord,
    SlotRecord,
    ViewRecord,
)
from storage.codec import (
    decode_checkpoint,
    decode_checkpoint_record,
    decode_slot,
    decode_view,
    encode_checkpoint,
    encode_checkpoint_record,
    encode_slot,
    encode_view,
)
from storage.stores import ByteStore, LevelDBStore, StorageError
from tests.unit.ledger_blocks import (
    CFG,
    checkpoint_cert,
    contents,
    slot_records,
)

# ------------------------------------------------------------------ store contract


def test_get_of_missing_key_is_none_and_puts_overwrite(store: ByteStore) -> None:
    assert store.get(b"k") is None
    store.write([(b"k", b"v1"), (b"empty", b"")])
    assert store.get(b"k") == b"v1"
    assert store.get(b"empty") == b""  # an empty value is a value, not an absent key
    store.write([(b"k", b"v2")])
    assert store.get(b"k") == b"v2"


def test_one_write_puts_and_deletes_together(store: ByteStore) -> None:
    store.write([(b"a", b"1"), (b"b", b"2")])
    store.write([(b"c", b"3")], deletes=[b"a", b"never-written"], sync=False)
    assert contents(store) == {b"b": b"2", b"c": b"3"}


def test_a_key_put_and_deleted_in_one_write_ends_absent(store: ByteStore) -> None:
    store.write([(b"k", b"v")], deletes=[b"k"])
    assert store.get(b"k") is None


def test_write_whose_entries_raise_midway_writes_nothing(store: ByteStore) -> None:
    store.write([(b"keep", b"old")])

    def entries() -> Iterator[tuple[bytes, bytes]]:
        yield (b"keep", b"new")
        yield (b"other", b"x")
        raise RuntimeError("executor crashed while producing the batch")

    with pytest.raises(RuntimeError):
        store.write(entries(), deletes=[b"keep"])
    assert contents(store) == {b"keep": b"old"}


@pytest.mark.parametrize(
    "puts, deletes",
    [
        ([(b"a", b"1"), (b"b", "not bytes")], []),
        ([(b"a", b"1"), ("b", b"2")], []),
        ([(b"a", b"1")], [b"keep", 7]),
    ],
)
def test_write_with_a_bad_entry_writes_nothing(store: ByteStore, puts: list, deletes: list) -> None:
    store.write([(b"keep", b"old")])
    with pytest.raises(StorageError):
        store.write(puts, deletes)
    assert contents(store) == {b"keep": b"old"}


KEYS_IN_ORDER = [b"b:", b"b:\x00", b"b:\x00\x02", b"b:\x01", b"b:a", b"b:\xff", b"b:\xff\xff"]
OUTSIDE = [b"", b"a", b"b", b"b9", b"b;", b"c:", b"\xff"]


def test_iteration_is_in_key_order_within_the_prefix(store: ByteStore) -> None:
    shuffled = [KEYS_IN_ORDER[i] for i in (4, 0, 6, 2, 5, 1, 3)]
    store.write([(k, b"v" + k) for k in shuffled + OUTSIDE])
    assert [k for k, _ in store.iterate(b"b:")] == KEYS_IN_ORDER
    assert dict(store.iterate(b"b:")) == {k: b"v" + k for k in KEYS_IN_ORDER}
    assert [k for k, _ in store.iterate(b"b:\xff")] == [b"b:\xff", b"b:\xff\xff"]
    assert list(store.iterate(b"zzz")) == []


def test_reverse_iteration_walks_the_same_keys_backwards(store: ByteStore) -> None:
    store.write([(k, b"v") for k in KEYS_IN_ORDER + OUTSIDE])
    assert [k for k, _ in store.iterate(b"b:", reverse=True)] == KEYS_IN_ORDER[::-1]
    first = next(store.iterate(b"b:", reverse=True))
    assert first == (b"b:\xff\xff", b"v")


def test_empty_prefix_iterates_every_key(store: ByteStore) -> None:
    store.write([(k, b"v") for k in KEYS_IN_ORDER + OUTSIDE])
    assert [k for k, _ in store.iterate(b"")] == sorted(KEYS_IN_ORDER + OUTSIDE)


def test_iteration_sees_the_store_as_it_was_when_called(store: ByteStore) -> None:
    store.write([(b"k1", b"1"), (b"k2", b"2")])
    walk = store.iterate(b"k")
    store.write([(b"k3", b"3")], deletes=[b"k2"])
    assert list(walk) == [(b"k1", b"1"), (b"k2", b"2")]
    assert list(store.iterate(b"k")) == [(b"k1", b"1"), (b"k3", b"3")]


def test_a_closed_store_refuses_reads_and_writes(store: ByteStore) -> None:
    store.write([(b"k", b"v")])
    store.close()
    with pytest.raises(StorageError):
        store.get(b"k")
    with pytest.raises(StorageError):
        store.write([(b"k", b"w")])
    with pytest.raises(StorageError):
        store.iterate(b"")
    store.close()  # idempotent


# ------------------------------------------------------------------ LevelDB only


def test_leveldb_reopen_keeps_data(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    first = LevelDBStore(path)
    first.write([(b"a", b"1"), (b"b", b"2")])
    first.write([], deletes=[b"a"])
    first.close()
    again = LevelDBStore(path)
    try:
        assert contents(again) == {b"b": b"2"}
    finally:
        again.close()


def test_leveldb_second_open_of_the_same_path_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "license-db")
    first = LevelDBStore(path)
    try:
        with pytest.raises(StorageError) as err:
            LevelDBStore(path)
        assert path in str(err.value)
        assert "another" in str(err.value)
    finally:
        first.close()
    LevelDBStore(path).close()  # the lock goes with the handle


def test_leveldb_held_by_another_process_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "license-db")
    holder = "import plyvel, sys; db = plyvel.DB(sys.argv[1], create_if_missing=True); "
    holder += "print('open', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(StorageError) as err:
            LevelDBStore(path)
        assert path in str(err.value)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


def test_leveldb_unopenable_path_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("not a database")
    with pytest.raises(StorageError) as err:
        LevelDBStore(str(path))
    assert str(path) in str(err.value)


# ------------------------------------------------------------------ codec


@pytest.mark.parametrize(
    "record", [ViewRecord(0, False), ViewRecord(0, True), ViewRecord(7, False)]
)
def test_view_record_round_trips(record: ViewRecord) -> None:
    assert decode_view(encode_view(record)) == record


@pytest.mark.parametrize("record", slot_records())
def test_slot_record_round_trips(record: SlotRecord) -> None:
    decoded = decode_slot(encode_slot(record))
    assert decoded == record
    assert (decoded.accepted is None) == (record.accepted is None)
    assert (decoded.prepared is None) == (record.prepared is None)


def test_checkpoint_round_trips_with_and_without_proof() -> None:
    cert = checkpoint_cert(8, sha256(b"b8"), sha256(b"r8"))
    assert decode_checkpoint(encode_checkpoint(cert)) == cert
    genesis = genesis_checkpoint(CFG)
    assert decode_checkpoint(encode_checkpoint(genesis)) == genesis
    record = CheckpointRecord(cert)
    assert decode_checkpoint_record(encode_checkpoint_record(record)) == record


@pytest.mark.parametrize("decode", [decode_view, decode_slot, decode_checkpoint])
def test_undecodable_record_bytes_raise_storage_error(decode: Callable[[bytes], object]) -> None:
    with pytest.raises(StorageError):
        decode(b"\x0a\xff\xff\xff")
