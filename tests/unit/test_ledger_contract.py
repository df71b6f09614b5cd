"""Ledger contract, on the in-memory store and on LevelDB.

Appends real blocks with real commit certificates (n=4, quorum 3) and checks lookups,
refusals that write nothing, one synced write per commit, staged world state, consensus
records through `load_consensus_state` (against `PersistedState.apply`, the core's
reference semantics), and a reopened LevelDB ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from consensus.hashing import sha256
from consensus.persisted import (
    CheckpointRecord,
    PersistedState,
    PruneRecord,
    Record,
    SlotRecord,
    ViewRecord,
)
from node.integrity import check_ledger
from protos import api_pb2
from sim.crypto import make_verifier
from storage.ledger import ChannelLedger
from storage.stores import LevelDBStore, MemoryStore, StorageError
from tests.unit.ledger_blocks import (
    CFG,
    CHANNEL,
    GENESIS,
    SIGNERS,
    append,
    build,
    chain,
    checkpoint_cert,
    contents,
    slot_records,
    stage,
)

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
