"""Storage contract: the same tests on the in-memory store and on LevelDB.

The store part checks what the ledger relies on: atomic batches that write all or nothing,
ordered prefix iteration, and clear errors for a locked or unusable LevelDB directory.
The ledger part appends real blocks with real commit certificates (n=4, quorum 3) and
checks lookups, staged world state, consensus records through `load_consensus_state`
(against `PersistedState.apply`, the core's reference semantics), and that
the node's startup check (`ChannelLedger.verify_integrity` for the layout, then the core's
certificate check, node/integrity.py) pins each kind of damage to the right channel and
height.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from consensus.blocks import BlockInfo, make_block
from consensus.certificates import CheckpointCert, genesis_checkpoint
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.messages import sign, vote
from consensus.persisted import (
    CheckpointRecord,
    PersistedState,
    PruneRecord,
    Record,
    SlotRecord,
    ViewRecord,
)
from node.integrity import check_ledger
from protos import api_pb2, storage_pb2
from protos import consensus_pb2 as pb
from sim.crypto import make_signers, make_tx, make_verifier
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
from storage.ledger import ChannelLedger, CorruptLedger, LedgerBatch
from storage.stores import ByteStore, LevelDBStore, MemoryStore, StorageError

CHANNEL = "license"
SIGNERS = make_signers(4)
KEYS = tuple(s.public_key for s in SIGNERS)
GENESIS = sha256(b"genesis of the license channel")
CFG = ConsensusConfig(
    channel=CHANNEL,
    validators=KEYS,
    genesis_hash=GENESIS,
    checkpoint_interval_blocks=2,
    log_window_blocks=4,
)


def h8(height: int) -> bytes:
    return height.to_bytes(8, "big")


# ------------------------------------------------------------------ fixtures


def open_store(kind: str, path: Path) -> ByteStore:
    return MemoryStore() if kind == "memory" else LevelDBStore(str(path))


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ByteStore]:
    opened = open_store(request.param, tmp_path / "db")
    yield opened
    opened.close()


@pytest.fixture
def ledger(store: ByteStore) -> ChannelLedger:
    return ChannelLedger(store, CHANNEL, GENESIS)


def contents(store: ByteStore) -> dict[bytes, bytes]:
    return dict(store.iterate(b""))


# ------------------------------------------------------------------ blocks


@dataclass(frozen=True)
class Built:
    """A block as the executor hands it to the ledger."""

    info: BlockInfo
    certified: pb.CertifiedBlock
    results: api_pb2.BlockResults
    writes: dict[bytes, bytes | None] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(sha256(tx) for tx in self.info.txs)


def certify(
    info: BlockInfo, view: int = 0, signers: Iterable[int] = (0, 1, 2)
) -> pb.CertifiedBlock:
    commits = [
        sign(SIGNERS[i], CHANNEL, "commit", vote(view, info.height, info.digest)).to_pb()
        for i in signers
    ]
    return pb.CertifiedBlock(block=info.block, commits=commits)


def build(height: int, parent: bytes, salt: int = 0, writes: dict | None = None) -> Built:
    txs = [make_tx(salt, height * 10 + i) for i in range(2)]
    info = make_block(CFG, height, 0, parent, txs, KEYS[0], 1000 + height)
    results = api_pb2.BlockResults(
        results=[api_pb2.TxResult(code=0), api_pb2.TxResult(code=3, reason="no such key")],
        state_root=sha256(b"root-%d-%d" % (height, salt)),
    )
    default = {b"key-%d" % height: b"value-%d" % height}
    return Built(info, certify(info), results, default if writes is None else writes)


def chain(count: int) -> list[Built]:
    out: list[Built] = []
    for height in range(1, count + 1):
        out.append(build(height, out[-1].info.digest if out else GENESIS))
    return out


def stage(batch: LedgerBatch, built: Built) -> None:
    batch.add_block(
        built.height, built.certified, built.info.digest, built.results, built.writes, built.tx_ids
    )


def append(ledger: ChannelLedger, blocks: Iterable[Built], records: tuple = ()) -> None:
    batch = ledger.batch()
    batch.add_records(records)
    for built in blocks:
        stage(batch, built)
    ledger.commit(batch)


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


def prepare_votes(info: BlockInfo, view: int) -> tuple[pb.SignedMessage, ...]:
    return tuple(
        sign(SIGNERS[i], CHANNEL, "prepare", vote(view, info.height, info.digest)).to_pb()
        for i in (0, 2, 3)
    )


def slot_records() -> list[SlotRecord]:
    one, two = chain(2)
    other = build(2, one.info.digest, salt=9)
    return [
        SlotRecord(2, 1, two.info.block, -1, None, ()),
        SlotRecord(2, 3, other.info.block, 1, two.info.block, prepare_votes(two.info, 1)),
        SlotRecord(5, -1, None, -1, None, ()),
    ]


@pytest.mark.parametrize("record", slot_records())
def test_slot_record_round_trips(record: SlotRecord) -> None:
    decoded = decode_slot(encode_slot(record))
    assert decoded == record
    assert (decoded.accepted is None) == (record.accepted is None)
    assert (decoded.prepared is None) == (record.prepared is None)


def checkpoint_cert(height: int, block_hash: bytes, state_root: bytes) -> CheckpointCert:
    payload = pb.Checkpoint(height=height, block_hash=block_hash, state_root=state_root)
    proof = tuple(sign(SIGNERS[i], CHANNEL, "checkpoint", payload).to_pb() for i in (1, 2, 3))
    return CheckpointCert(height, block_hash, state_root, proof)


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


# ------------------------------------------------------------------ ledger: blocks


def test_empty_ledger_tip_is_genesis(ledger: ChannelLedger) -> None:
    tip = ledger.tip()
    assert (tip.height, tip.hash, tip.state_root) == (0, GENESIS, bytes(32))
    assert ledger.block(1) is None and ledger.results(1) is None
    assert ledger.block_hash(0) == GENESIS and ledger.block_hash(1) is None
    assert ledger.blocks(1, 10, max_count=10) == []


@pytest.mark.parametrize("per_batch", [1, 5])
def test_appended_blocks_are_found_by_height_digest_and_tx(
    ledger: ChannelLedger, per_batch: int
) -> None:
    blocks = chain(5)
    for i in range(0, 5, per_batch):
        append(ledger, blocks[i : i + per_batch])
    tip = ledger.tip()
    assert (tip.height, tip.hash, tip.state_root) == (
        5,
        blocks[-1].info.digest,
        blocks[-1].results.state_root,
    )
    for built in blocks:
        assert ledger.block(built.height) == built.certified
        assert ledger.block_hash(built.height) == built.info.digest
        assert ledger.height_of(built.info.digest) == built.height
        assert ledger.results(built.height) == built.results
        for index, tx_id in enumerate(built.tx_ids):
            assert ledger.tx_location(tx_id) == (built.height, index)
    assert ledger.height_of(sha256(b"unknown")) is None
    assert ledger.tx_location(sha256(b"unknown")) is None
    assert ledger.block(6) is None


def test_blocks_range_is_bounded_by_max_count_and_tip(ledger: ChannelLedger) -> None:
    blocks = chain(5)
    append(ledger, blocks)
    assert ledger.blocks(2, 4, max_count=10) == [b.certified for b in blocks[1:4]]
    assert ledger.blocks(2, 100, max_count=2) == [b.certified for b in blocks[1:3]]
    assert ledger.blocks(4, 100, max_count=10) == [b.certified for b in blocks[3:]]
    assert ledger.blocks(0, 1, max_count=10) == [blocks[0].certified]
    assert ledger.blocks(6, 9, max_count=10) == []
    assert ledger.blocks(1, 5, max_count=0) == []


def test_add_block_refuses_blocks_that_do_not_extend_the_tip(ledger: ChannelLedger) -> None:
    one, two, three = chain(3)
    append(ledger, [one])
    before = contents(ledger.store)
    batch = ledger.batch()
    stranger = build(2, sha256(b"not block 1"))
    bad_calls = [
        (3, three.certified, three.info.digest, three.results, {}, three.tx_ids),  # gap
        (1, one.certified, one.info.digest, one.results, {}, one.tx_ids),  # already there
        (2, stranger.certified, stranger.info.digest, stranger.results, {}, stranger.tx_ids),
        (2, two.certified, one.info.digest, two.results, {}, two.tx_ids),  # wrong digest
        (2, two.certified, two.info.digest, two.results, {}, two.tx_ids[:1]),  # ids short
        (2, two.certified, two.info.digest, api_pb2.BlockResults(), {}, two.tx_ids),
        (2, two.certified, two.info.digest, two.results, {b"k": 5}, two.tx_ids),
    ]
    for args in bad_calls:
        with pytest.raises(StorageError):
            batch.add_block(*args)
    assert dict(batch.staged) == {} and batch.tip.height == 1
    ledger.commit(batch)
    assert contents(ledger.store) == before and ledger.tip().height == 1
    stage(ledger.batch(), two)  # the chain itself still extends fine


def test_refused_commits_write_nothing(ledger: ChannelLedger) -> None:
    one, two = chain(2)
    stale = ledger.batch()
    stage(stale, one)
    fresh = ledger.batch()
    stage(fresh, one)
    ledger.commit(fresh)
    before = contents(ledger.store)
    with pytest.raises(StorageError, match="stale"):
        ledger.commit(stale)  # built on a tip that has moved
    with pytest.raises(StorageError, match="already committed"):
        ledger.commit(fresh)
    with pytest.raises(StorageError, match="already committed"):
        stage(fresh, two)
    other = ChannelLedger(MemoryStore(), CHANNEL, GENESIS)
    with pytest.raises(StorageError, match="another ledger"):
        ledger.commit(other.batch())
    assert contents(ledger.store) == before
    assert ledger.tip().hash == one.info.digest


class RecordingStore(MemoryStore):
    """Counts writes; can be told to fail the next one (a disk error)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bool] = []
        self.fail_next = False

    def write(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        sync: bool = True,
    ) -> None:
        if self.fail_next:
            raise StorageError("disk full")
        self.writes.append(sync)
        super().write(puts, deletes, sync)


def test_records_and_blocks_go_to_the_store_in_one_synced_write() -> None:
    store = RecordingStore()
    ledger = ChannelLedger(store, CHANNEL, GENESIS)
    blocks = chain(3)
    append(ledger, blocks, (ViewRecord(1, True), SlotRecord(4, 1, None, -1, None, ())))
    assert store.writes == [True]
    store.fail_next = True
    batch = ledger.batch()
    stage(batch, build(4, blocks[-1].info.digest))
    before = contents(store)
    with pytest.raises(StorageError, match="disk full"):
        ledger.commit(batch)
    assert contents(store) == before and ledger.tip().height == 3
    store.fail_next = False
    ledger.commit(batch)  # a failed commit leaves the batch committable
    assert ledger.tip().height == 4 and store.writes == [True, True]


def test_staged_state_is_visible_to_the_executor_before_commit(ledger: ChannelLedger) -> None:
    one = build(1, GENESIS, writes={b"a": b"1", b"b": b"2"})
    two = build(2, one.info.digest, writes={b"a": None, b"c": b"3"})
    batch = ledger.batch()
    view = ledger.state_view(batch)
    stage(batch, one)
    assert (view.get(b"a"), view.get(b"b")) == (b"1", b"2")
    assert ledger.get_state(b"a") is None  # not committed yet
    stage(batch, two)  # executed against a view that includes block 1's writes
    assert (view.get(b"a"), view.get(b"b"), view.get(b"c")) == (None, b"2", b"3")
    ledger.commit(batch)
    assert [ledger.get_state(k) for k in (b"a", b"b", b"c")] == [None, b"2", b"3"]
    three = build(3, two.info.digest, writes={b"a": b"4", b"b": None})
    batch = ledger.batch()
    stage(batch, three)
    assert ledger.state_view(batch).get(b"a") == b"4"
    assert ledger.state_view(batch).get(b"b") is None
    assert ledger.state_view().get(b"a") is None and ledger.state_view().get(b"b") == b"2"


# ------------------------------------------------------------------ ledger: consensus records


def test_consensus_records_round_trip_through_load(ledger: ChannelLedger) -> None:
    slots = slot_records()
    ckpt = checkpoint_cert(2, sha256(b"b2"), sha256(b"r2"))
    steps: list[tuple[Record, ...]] = [
        (ViewRecord(0, True), slots[0]),
        (slots[1], ViewRecord(1, False), CheckpointRecord(ckpt)),
        (SlotRecord(3, 1, None, -1, None, ()), ViewRecord(1, True), slots[2]),
    ]
    for records in steps:
        append(ledger, [], records)
    expected = PersistedState().apply(tuple(r for step in steps for r in step))
    loaded = ledger.load_consensus_state(recent_tx_blocks=10, checkpoint_interval_blocks=2)
    assert (loaded.view, loaded.view_active) == (1, True)
    assert loaded.checkpoint == ckpt == expected.checkpoint
    assert loaded.slots == expected.slots
    assert sorted(loaded.slots) == [2, 3, 5]
    assert (loaded.executed_height, loaded.executed_hash) == (0, GENESIS)


def test_view_zero_inactive_is_not_mistaken_for_no_record(ledger: ChannelLedger) -> None:
    append(ledger, [], (ViewRecord(0, False),))  # encodes to zero bytes
    loaded = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    assert (loaded.view, loaded.view_active) == (0, False)


def test_prune_deletes_committed_and_staged_slots_at_or_below_height(
    ledger: ChannelLedger,
) -> None:
    def slot(height: int, view: int = 0) -> SlotRecord:
        return SlotRecord(height, view, None, -1, None, ())

    append(ledger, [], tuple(slot(h) for h in (1, 2, 3, 6, 9)))
    steps: list[tuple[Record, ...]] = [
        (slot(4), slot(5), PruneRecord(4), slot(2, view=7), slot(7)),
        (PruneRecord(5),),
    ]
    batch = ledger.batch()
    batch.add_records(steps[0])
    loaded = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    assert sorted(loaded.slots) == [1, 2, 3, 6, 9]  # nothing written before commit
    ledger.commit(batch)
    loaded = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    assert sorted(loaded.slots) == [2, 5, 6, 7, 9]
    assert loaded.slots[2].accepted_view == 7  # re-added after the prune in the same batch
    append(ledger, [], steps[1])
    loaded = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    reference = PersistedState().apply(
        tuple(slot(h) for h in (1, 2, 3, 6, 9)) + steps[0] + steps[1]
    )
    assert loaded.slots == reference.slots and sorted(loaded.slots) == [6, 7, 9]


def test_executed_checkpoints_are_those_above_the_stable_checkpoint(
    ledger: ChannelLedger,
) -> None:
    blocks = chain(7)
    append(ledger, blocks)

    def expected(*heights: int) -> tuple[tuple[int, bytes, bytes], ...]:
        return tuple(
            (h, blocks[h - 1].info.digest, blocks[h - 1].results.state_root) for h in heights
        )

    state = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    assert state.executed_checkpoints == expected(2, 4, 6)
    assert ledger.load_consensus_state(1, 3).executed_checkpoints == expected(3, 6)
    ckpt = checkpoint_cert(4, blocks[3].info.digest, blocks[3].results.state_root)
    append(ledger, [], (CheckpointRecord(ckpt),))
    state = ledger.load_consensus_state(recent_tx_blocks=1, checkpoint_interval_blocks=2)
    assert state.executed_checkpoints == expected(6)
    assert (state.executed_height, state.executed_hash) == (7, blocks[-1].info.digest)


def test_recent_tx_ids_are_those_of_the_last_blocks_oldest_first(ledger: ChannelLedger) -> None:
    blocks = chain(5)
    append(ledger, blocks)
    state = ledger.load_consensus_state(recent_tx_blocks=2, checkpoint_interval_blocks=2)
    assert state.recent_tx_ids == blocks[3].tx_ids + blocks[4].tx_ids
    every = ledger.load_consensus_state(recent_tx_blocks=100, checkpoint_interval_blocks=2)
    assert every.recent_tx_ids == tuple(t for b in blocks for t in b.tx_ids)
    assert ledger.load_consensus_state(0, 2).recent_tx_ids == ()


# ------------------------------------------------------------------ ledger: integrity


def corrupt_at(ledger: ChannelLedger, height: int, full: bool = False) -> CorruptLedger:
    """The node's startup check: the ledger's layout, then the core's certificates."""
    with pytest.raises(CorruptLedger) as err:
        check_ledger(ledger, CFG, make_verifier(SIGNERS), full=full)
    exc = err.value
    assert (exc.channel, exc.height) == (CHANNEL, height), exc
    assert CHANNEL in str(exc) and f"height {height}" in str(exc)
    return exc


def put_block(ledger: ChannelLedger, height: int, certified: pb.CertifiedBlock) -> None:
    ledger.store.write([(b"b:" + h8(height), certified.SerializeToString())])


def healthy(ledger: ChannelLedger, count: int = 5) -> list[Built]:
    blocks = chain(count)
    append(ledger, blocks[:2])
    append(ledger, blocks[2:])
    return blocks


def test_a_healthy_ledger_passes_both_checks(ledger: ChannelLedger) -> None:
    verifier = make_verifier(SIGNERS)
    check_ledger(ledger, CFG, verifier)  # empty
    check_ledger(ledger, CFG, verifier, full=True)
    healthy(ledger)
    check_ledger(ledger, CFG, verifier)
    check_ledger(ledger, CFG, verifier, full=True)


def test_a_deleted_block_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"b:" + h8(3)])
    assert "missing" in corrupt_at(ledger, 3).what


def test_a_deleted_tip_block_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"b:" + h8(5)])
    corrupt_at(ledger, 5)


@pytest.mark.parametrize("field_name", ["timestamp_ms", "parent_hash", "height"])
def test_an_altered_header_is_detected_at_its_height(
    ledger: ChannelLedger, field_name: str
) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[2].certified)
    header = pb.BlockHeader.FromString(certified.block.header)
    if field_name == "parent_hash":
        header.parent_hash = bytes([header.parent_hash[0] ^ 1]) + header.parent_hash[1:]
    else:
        setattr(header, field_name, getattr(header, field_name) + 1)
    certified.block.header = header.SerializeToString()
    put_block(ledger, 3, certified)
    corrupt_at(ledger, 3)


def test_a_flipped_header_byte_is_detected_at_its_height(ledger: ChannelLedger) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[1].certified)
    raw = bytearray(certified.block.header)
    raw[-1] ^= 0x01
    certified.block.header = bytes(raw)
    put_block(ledger, 2, certified)
    corrupt_at(ledger, 2)


def test_a_block_replaced_by_another_validly_certified_one_is_detected(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    fork = build(3, blocks[1].info.digest, salt=7)  # same parent, other txs, own certificate
    put_block(ledger, 3, fork.certified)
    corrupt_at(ledger, 3)
    corrupt_at(ledger, 3, full=True)


def test_a_tip_pointing_to_a_wrong_hash_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    tip = storage_pb2.Tip(height=5, hash=sha256(b"elsewhere"), state_root=ledger.tip().state_root)
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    reopened = ChannelLedger(ledger.store, CHANNEL, GENESIS)
    assert "tip hash" in corrupt_at(reopened, 5).what


def test_a_tip_above_the_stored_blocks_is_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    tip = ledger.tip()
    tip.height = 7
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    corrupt_at(ChannelLedger(ledger.store, CHANNEL, GENESIS), 6)


def test_a_tip_below_the_stored_blocks_is_detected(ledger: ChannelLedger) -> None:
    blocks = healthy(ledger)
    tip = storage_pb2.Tip(height=4, hash=blocks[3].info.digest, state_root=bytes(32))
    ledger.store.write([(b"m:tip", tip.SerializeToString())])
    corrupt_at(ChannelLedger(ledger.store, CHANNEL, GENESIS), 5)


def forged(built: Built, commits: list[pb.SignedMessage]) -> pb.CertifiedBlock:
    return pb.CertifiedBlock(block=built.info.block, commits=commits)


@pytest.mark.parametrize("forgery", ["bad_signature", "short", "duplicate_signer", "other_block"])
def test_a_forged_tip_certificate_is_detected(ledger: ChannelLedger, forgery: str) -> None:
    blocks = healthy(ledger)
    tip_block = blocks[-1]
    commits = list(tip_block.certified.commits)
    if forgery == "bad_signature":
        commits[1] = pb.SignedMessage(body=commits[1].body, signature=bytes(32))
    elif forgery == "short":
        commits = commits[:2]
    elif forgery == "duplicate_signer":
        commits[2] = commits[0]
    else:
        commits = list(blocks[-2].certified.commits)  # a real certificate, for block 4
    put_block(ledger, 5, forged(tip_block, commits))
    ledger.verify_integrity(full=True)  # the layout is whole: certificates are the core's
    assert "certificate" in corrupt_at(ledger, 5).what


def test_a_forged_inner_certificate_is_found_only_by_the_full_check(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    commits = list(blocks[1].certified.commits)
    commits[0] = pb.SignedMessage(body=commits[0].body, signature=bytes(32))
    put_block(ledger, 2, forged(blocks[1], commits))
    check_ledger(ledger, CFG, make_verifier(SIGNERS))  # cheap: certificates of the tip only
    corrupt_at(ledger, 2, full=True)


def test_txs_not_matching_their_header_are_found_by_the_full_check(
    ledger: ChannelLedger,
) -> None:
    blocks = healthy(ledger)
    certified = pb.CertifiedBlock()
    certified.CopyFrom(blocks[3].certified)
    certified.block.txs[0] = make_tx(5, 999)
    put_block(ledger, 4, certified)
    check_ledger(ledger, CFG, make_verifier(SIGNERS))
    assert "tx root" in corrupt_at(ledger, 4, full=True).what


def test_missing_results_are_detected(ledger: ChannelLedger) -> None:
    healthy(ledger)
    ledger.store.write([], deletes=[b"r:" + h8(2)])
    assert "results" in corrupt_at(ledger, 2).what


# ------------------------------------------------------------------ LevelDB ledger restart


def test_a_reopened_leveldb_ledger_has_the_same_tip_blocks_and_records(tmp_path: Path) -> None:
    path = str(tmp_path / "license")
    store = LevelDBStore(path)
    ledger = ChannelLedger(store, CHANNEL, GENESIS)
    blocks = chain(4)
    records = (ViewRecord(2, True), SlotRecord(5, 2, None, -1, None, ()))
    append(ledger, blocks, records)
    tip, state = ledger.tip(), ledger.load_consensus_state(10, 2)
    store.close()
    store = LevelDBStore(path)
    try:
        again = ChannelLedger(store, CHANNEL, GENESIS)
        assert again.tip() == tip and tip.height == 4
        assert again.blocks(1, 4, max_count=4) == [b.certified for b in blocks]
        assert again.load_consensus_state(10, 2) == state
        check_ledger(again, CFG, make_verifier(SIGNERS), full=True)
        append(again, [build(5, tip.hash)])
        assert again.tip().height == 5
    finally:
        store.close()
