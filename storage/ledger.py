"""One channel's ledger over a byte store: blocks, results, indexes, world state, consensus records.

Key layout. Each channel has its own store, so keys carry no channel name. Heights are
8-byte big-endian, so key order is height order and a prefix scan walks the chain.

| key                | value                                                            |
|--------------------|------------------------------------------------------------------|
| `m:tip`            | storage_pb2.Tip: height, digest, state root of the last block    |
| `m:base`           | storage_pb2.Tip of the last pruned block (storage/pruning.py)    |
| `b:` + height      | consensus_pb2.CertifiedBlock: the block and commit certificate   |
| `r:` + height      | api_pb2.BlockResults: per-tx results, state root after the block |
| `h:` + digest      | height of the block with that digest (8 bytes big-endian)        |
| `t:` + tx id       | storage_pb2.TxLocation: height and index in the block            |
| `g:` + height      | the certified block again, if it holds a governance tx: never    |
|                    | pruned, it carries the validator sets into snapshots             |
| `s:` + key         | world-state value (absent: never written, or deleted)            |
| `c:view`           | storage_pb2.ViewState: the replica's view, active or not         |
| `c:slot:` + height | storage_pb2.SlotState: accepted and prepared block at the height |
| `c:ckpt`           | storage_pb2.CheckpointState: the stable checkpoint and its proof |

Why one batch per step: the node folds a step's `Persist` records and the blocks it executed
into one `LedgerBatch` and commits it as ONE atomic, synced store write. After a crash the
ledger is at a block boundary with its tip, indexes and state in step, and the consensus
records are never behind the votes that were sent after them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf.message import DecodeError

from consensus.certificates import CheckpointCert
from consensus.hashing import SHA256, Hashing
from consensus.persisted import (
    CheckpointRecord,
    PersistedState,
    PruneRecord,
    Record,
    SlotRecord,
    ViewRecord,
)
from protos import api_pb2, storage_pb2
from protos import consensus_pb2 as cpb
from storage.codec import (
    decode_checkpoint,
    decode_slot,
    decode_view,
    encode_checkpoint,
    encode_slot,
    encode_view,
)
from storage.stores import ByteStore, StorageError

TIP_KEY = b"m:tip"
BASE_KEY = b"m:base"
BLOCK_PREFIX = b"b:"
RESULTS_PREFIX = b"r:"
HASH_PREFIX = b"h:"
TX_PREFIX = b"t:"
GOV_PREFIX = b"g:"
STATE_PREFIX = b"s:"
VIEW_KEY = b"c:view"
SLOT_PREFIX = b"c:slot:"
CHECKPOINT_KEY = b"c:ckpt"
HEIGHT_BYTES = 8
EMPTY_STATE_ROOT = bytes(32)


def height_key(height: int) -> bytes:
    return height.to_bytes(HEIGHT_BYTES, "big")


def _height_in(key: bytes, prefix: bytes) -> int:
    return int.from_bytes(key[len(prefix) :], "big")


class CorruptLedger(StorageError):
    """The stored chain is inconsistent; the node must not serve or extend it."""

    def __init__(self, channel: str, height: int, what: str) -> None:
        super().__init__(f"ledger of channel {channel!r} is corrupt at height {height}: {what}")
        self.channel = channel
        self.height = height
        self.what = what


class Pruned(LookupError):
    """A block asked for was pruned: it is only in an archive now."""

    def __init__(self, channel: str, height: int, lowest: int) -> None:
        super().__init__(
            f"pruned: block {height} of channel {channel!r} is pruned; "
            f"the lowest retained height is {lowest}"
        )
        self.lowest = lowest


class StateView:
    """World state as the executor of the next block sees it: committed values overlaid
    with the writes staged in an uncommitted batch, so block h+1 reads block h's writes
    even when both go to disk in the same batch."""

    def __init__(self, store: ByteStore, staged: Mapping[bytes, bytes | None]) -> None:
        self._store = store
        self._staged = staged  # the batch's live map: later staged writes show up too

    def get(self, key: bytes) -> bytes | None:
        full = STATE_PREFIX + key
        if full in self._staged:
            return self._staged[full]
        return self._store.get(full)


class LedgerBatch:
    """Writes staged for one atomic commit: consensus records and executed blocks, in order.

    Staged writes are kept as one map from key to final value (None = delete), so a later
    write of a key replaces an earlier one exactly as applying them in order would. A call
    that raises stages nothing; the batch stays usable.
    """

    def __init__(
        self,
        store: ByteStore,
        channel: str,
        tip: storage_pb2.Tip,
        generation: int,
        hashing: Hashing = SHA256,
    ) -> None:
        self.store = store
        self.channel = channel
        self.hashing = hashing
        self.generation = generation  # the ledger's commit count when the batch was made
        self.committed = False
        self.blocks_added = 0
        self._tip = storage_pb2.Tip()
        self._tip.CopyFrom(tip)
        self._ops: dict[bytes, bytes | None] = {}

    @property
    def tip(self) -> storage_pb2.Tip:
        """The tip the ledger will have once this batch commits."""
        tip = storage_pb2.Tip()
        tip.CopyFrom(self._tip)
        return tip

    @property
    def staged(self) -> Mapping[bytes, bytes | None]:
        return self._ops

    def _check_open(self) -> None:
        if self.committed:
            raise StorageError(f"channel {self.channel!r}: batch already committed")

    def add_records(self, records: tuple[Record, ...]) -> None:
        """Stage the core's `Persist` records; PruneRecord(h) deletes slots at heights <= h."""
        self._check_open()
        for rec in records:
            if not isinstance(rec, ViewRecord | SlotRecord | CheckpointRecord | PruneRecord):
                raise StorageError(f"not a consensus record: {type(rec).__name__}")
            if isinstance(rec, SlotRecord) and rec.height < 0:
                raise StorageError(f"slot record at negative height {rec.height}")
        for rec in records:
            if isinstance(rec, ViewRecord):
                self._ops[VIEW_KEY] = encode_view(rec)
            elif isinstance(rec, SlotRecord):
                self._ops[SLOT_PREFIX + height_key(rec.height)] = encode_slot(rec)
            elif isinstance(rec, CheckpointRecord):
                self._ops[CHECKPOINT_KEY] = encode_checkpoint(rec.checkpoint)
            else:
                self._prune_slots(rec.height)

    def _prune_slots(self, height: int) -> None:
        doomed: list[bytes] = []
        for key, _ in self.store.iterate(SLOT_PREFIX):
            if _height_in(key, SLOT_PREFIX) > height:
                break  # keys are in height order
            doomed.append(key)
        doomed.extend(
            key
            for key, value in self._ops.items()
            if key.startswith(SLOT_PREFIX)
            and value is not None
            and _height_in(key, SLOT_PREFIX) <= height
        )
        for key in doomed:
            self._ops[key] = None

    def add_block(
        self,
        height: int,
        certified: cpb.CertifiedBlock,
        digest: bytes,
        results: api_pb2.BlockResults,
        state_writes: Mapping[bytes, bytes | None],
        tx_ids: Sequence[bytes],
        state_sum: bytes = b"",
        history_root: bytes = b"",
        governance: bool = False,
    ) -> None:
        """Stage an executed block with its results, indexes and world-state writes, and
        the state commitment after it (its sum and the history half of its root).

        Refused (StorageError) unless the block extends the staged tip: height is one
        above it, the header names it as parent, `digest` is the header's digest, and
        there is one tx id and one result per tx.
        """
        self._check_open()
        self._check_block(height, certified, digest, results, state_writes, tx_ids)
        key = height_key(height)
        raw_block = certified.SerializeToString(deterministic=True)
        self._ops[BLOCK_PREFIX + key] = raw_block
        if governance:  # kept past pruning: a snapshot's joiner replays the sets from them
            self._ops[GOV_PREFIX + key] = raw_block
        self._ops[RESULTS_PREFIX + key] = results.SerializeToString(deterministic=True)
        self._ops[HASH_PREFIX + digest] = key
        for index, tx_id in enumerate(tx_ids):
            if not tx_id:  # a repeat of a committed tx: the first location stays indexed
                continue
            location = storage_pb2.TxLocation(height=height, index=index)
            self._ops[TX_PREFIX + tx_id] = location.SerializeToString(deterministic=True)
        for state_key, value in state_writes.items():
            self._ops[STATE_PREFIX + state_key] = value
        self._tip = storage_pb2.Tip(
            height=height,
            hash=digest,
            state_root=results.state_root,
            state_sum=state_sum,
            history_root=history_root,
        )
        self._ops[TIP_KEY] = self._tip.SerializeToString(deterministic=True)
        self.blocks_added += 1

    def _check_block(
        self,
        height: int,
        certified: cpb.CertifiedBlock,
        digest: bytes,
        results: api_pb2.BlockResults,
        state_writes: Mapping[bytes, bytes | None],
        tx_ids: Sequence[bytes],
    ) -> None:
        where = f"channel {self.channel!r} block {height}"
        if height != self._tip.height + 1:
            raise StorageError(f"{where} does not follow the tip at height {self._tip.height}")
        header = cpb.BlockHeader()
        try:
            header.ParseFromString(certified.block.header)
        except DecodeError as exc:
            raise StorageError(f"{where}: header does not decode") from exc
        if header.height != height:
            raise StorageError(f"{where}: header says height {header.height}")
        if header.parent_hash != self._tip.hash:
            raise StorageError(f"{where}: parent {header.parent_hash.hex()} is not the tip")
        if self.hashing.hash(certified.block.header) != digest:
            raise StorageError(f"{where}: digest is not the suite hash of the header")
        txs = len(certified.block.txs)
        if len(tx_ids) != txs or len(results.results) != txs:
            raise StorageError(
                f"{where}: {txs} txs, {len(tx_ids)} ids, {len(results.results)} results"
            )
        if not all(isinstance(t, bytes) for t in tx_ids):
            raise StorageError(f"{where}: tx ids must be bytes")
        for k, v in state_writes.items():
            if not isinstance(k, bytes) or not (v is None or isinstance(v, bytes)):
                raise StorageError(f"{where}: state writes must map bytes to bytes or None")


class ChannelLedger:
    """One channel's ledger: reads, atomic commits, recovery state and integrity checks."""

    def __init__(
        self, store: ByteStore, channel: str, genesis_hash: bytes, hashing: Hashing = SHA256
    ) -> None:
        self.store = store
        self.channel = channel
        self.genesis_hash = genesis_hash
        # The channel's suite hash (SHA-256 or SM3): block digests, tx ids, tx roots.
        self.hashing = hashing
        self._generation = 0  # commits so far: a batch made before another commit is stale
        raw = store.get(TIP_KEY)
        if raw is None:
            self._tip = storage_pb2.Tip(height=0, hash=genesis_hash, state_root=EMPTY_STATE_ROOT)
        else:
            self._tip = storage_pb2.Tip()
            try:
                self._tip.ParseFromString(raw)
            except DecodeError as exc:
                raise CorruptLedger(channel, 0, "tip record does not decode") from exc

    # ------------------------------------------------------------------ writing

    def tip(self) -> storage_pb2.Tip:
        tip = storage_pb2.Tip()
        tip.CopyFrom(self._tip)
        return tip

    def batch(self) -> LedgerBatch:
        return LedgerBatch(self.store, self.channel, self._tip, self._generation, self.hashing)

    def state_view(self, batch: LedgerBatch | None = None) -> StateView:
        """World state including `batch`'s staged writes (committed state alone if None)."""
        return StateView(self.store, batch.staged if batch is not None else {})

    def commit(self, batch: LedgerBatch, sync: bool = True) -> None:
        """Write the batch as ONE atomic store write, then move the tip.

        Refused, writing nothing, if the batch belongs to another ledger, was already
        committed, or was made before another batch committed (its checks and prune scan
        saw a state that is gone).
        """
        if batch.store is not self.store or batch.channel != self.channel:
            raise StorageError(f"channel {self.channel!r}: batch of another ledger")
        if batch.committed:
            raise StorageError(f"channel {self.channel!r}: batch already committed")
        if batch.generation != self._generation:
            raise StorageError(f"channel {self.channel!r}: stale batch (another commit since)")
        puts = [(k, v) for k, v in batch.staged.items() if v is not None]
        deletes = [k for k, v in batch.staged.items() if v is None]
        if puts or deletes:
            self.store.write(puts, deletes, sync=sync)
        batch.committed = True
        self._generation += 1
        self._tip = batch.tip

    # ------------------------------------------------------------------ reading

    def _parse_block(self, height: int, raw: bytes) -> cpb.CertifiedBlock:
        certified = cpb.CertifiedBlock()
        try:
            certified.ParseFromString(raw)
        except DecodeError as exc:
            raise CorruptLedger(self.channel, height, "stored block does not decode") from exc
        return certified

    def block(self, height: int) -> cpb.CertifiedBlock | None:
        if height < 1:
            return None
        raw = self.store.get(BLOCK_PREFIX + height_key(height))
        return None if raw is None else self._parse_block(height, raw)

    def block_hash(self, height: int) -> bytes | None:
        """Digest of the block at `height`; the genesis hash at 0."""
        if height == 0:
            return self.genesis_hash
        tip = self._tip
        if height == tip.height:
            return tip.hash
        certified = self.block(height)
        return None if certified is None else self.hashing.hash(certified.block.header)

    def height_of(self, digest: bytes) -> int | None:
        raw = self.store.get(HASH_PREFIX + digest)
        return None if raw is None else int.from_bytes(raw, "big")

    def results(self, height: int) -> api_pb2.BlockResults | None:
        if height < 1:
            return None
        raw = self.store.get(RESULTS_PREFIX + height_key(height))
        if raw is None:
            return None
        results = api_pb2.BlockResults()
        try:
            results.ParseFromString(raw)
        except DecodeError as exc:
            raise CorruptLedger(self.channel, height, "stored results do not decode") from exc
        return results

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, index in the block) of a committed tx."""
        raw = self.store.get(TX_PREFIX + tx_id)
        if raw is None:
            return None
        location = storage_pb2.TxLocation()
        location.ParseFromString(raw)
        return location.height, location.index

    def get_state(self, key: bytes) -> bytes | None:
        return self.store.get(STATE_PREFIX + key)

    def blocks(
        self, from_height: int, to_height: int, max_count: int, max_bytes: int | None = None
    ) -> list[cpb.CertifiedBlock]:
        """Committed blocks from `from_height` to `to_height` inclusive, at most `max_count`
        and (but always the first one) at most `max_bytes` serialized, never past the tip
        (a catch-up answer)."""
        start = max(from_height, 1)
        stop = min(to_height, self._tip.height, start + max_count - 1)
        out: list[cpb.CertifiedBlock] = []
        size = 0
        for height in range(start, stop + 1):
            certified = self.block(height)
            if certified is None:
                base = self.pruned_height()
                if height <= base:
                    raise Pruned(self.channel, height, base + 1)
                raise CorruptLedger(self.channel, height, "block below the tip is missing")
            size += certified.ByteSize() + 8  # + the repeated field's tag and length
            if out and max_bytes is not None and size > max_bytes:
                break
            out.append(certified)
        return out

    # ------------------------------------------------------------------ recovery

    def load_consensus_state(
        self, recent_tx_blocks: int, checkpoint_interval_blocks: int
    ) -> PersistedState:
        """What `Restored` needs: the latest consensus records plus what the ledger knows.

        `recent_tx_ids` are the ids (SHA-256 of the tx bytes) of the txs in the last
        `recent_tx_blocks` blocks, oldest first; `executed_checkpoints` lists every
        checkpoint height above the stable checkpoint up to the tip, because a crash may
        have lost the `Executed` event after which the core signs a checkpoint.
        """
        if checkpoint_interval_blocks < 1:
            raise ValueError("checkpoint_interval_blocks must be positive")
        raw_view = self.store.get(VIEW_KEY)  # b"" is a valid record: view 0, inactive
        view = ViewRecord(0, True) if raw_view is None else decode_view(raw_view)
        raw_ckpt = self.store.get(CHECKPOINT_KEY)
        checkpoint = None if raw_ckpt is None else decode_checkpoint(raw_ckpt)
        slots: dict[int, SlotRecord] = {}
        for key, raw in self.store.iterate(SLOT_PREFIX):
            record = decode_slot(raw)
            if record.height != _height_in(key, SLOT_PREFIX):
                raise StorageError(f"channel {self.channel!r}: slot {key.hex()} holds another")
            slots[record.height] = record
        tip = self.tip()
        return PersistedState(
            view=view.view,
            view_active=view.active,
            checkpoint=checkpoint,
            slots=slots,
            executed_height=tip.height,
            executed_hash=tip.hash,
            executed_timestamp_ms=self._timestamp_at(tip.height),
            recent_tx_ids=self._recent_tx_ids(tip.height, recent_tx_blocks),
            executed_checkpoints=self._executed_checkpoints(
                tip.height, checkpoint, checkpoint_interval_blocks
            ),
        )

    def _timestamp_at(self, height: int) -> int:
        """Block time at `height` (0 for genesis): the core checks the next block's
        time against it after a restart."""
        certified = self.block(height) if height > 0 else None
        if certified is None:
            return 0
        return cpb.BlockHeader.FromString(certified.block.header).timestamp_ms

    def _recent_tx_ids(self, tip_height: int, recent_tx_blocks: int) -> tuple[bytes, ...]:
        ids: list[bytes] = []  # from the base up: below it a snapshot or pruning left none
        first = max(1, tip_height - recent_tx_blocks + 1, self.pruned_height() + 1)
        for height in range(first, tip_height + 1):
            certified = self.block(height)
            if certified is None:
                raise CorruptLedger(self.channel, height, "block below the tip is missing")
            ids.extend(map(self.hashing.hash, certified.block.txs))
        return tuple(ids)

    def _executed_checkpoints(
        self, tip_height: int, stable: CheckpointCert | None, interval_blocks: int
    ) -> tuple[tuple[int, bytes, bytes], ...]:
        stable_height = stable.height if stable is not None else 0
        first = (stable_height // interval_blocks + 1) * interval_blocks
        out: list[tuple[int, bytes, bytes]] = []
        for height in range(first, tip_height + 1, interval_blocks):
            block_hash, results = self.block_hash(height), self.results(height)
            if block_hash is None or results is None:
                raise CorruptLedger(self.channel, height, "checkpoint block or results missing")
            out.append((height, block_hash, results.state_root))
        return tuple(out)

    # ------------------------------------------------------------------ pruning, integrity

    def base(self) -> storage_pb2.Tip:
        """The last pruned block (height, digest, state root after it): the retained chain
        starts above it. Height 0 and the genesis hash when nothing was pruned."""
        raw = self.store.get(BASE_KEY)
        if raw is None:
            return storage_pb2.Tip(height=0, hash=self.genesis_hash, state_root=EMPTY_STATE_ROOT)
        try:
            return storage_pb2.Tip.FromString(raw)
        except DecodeError as exc:
            raise CorruptLedger(self.channel, 0, "prune base record does not decode") from exc

    def pruned_height(self) -> int:
        """Blocks at this height and below were pruned (0: none)."""
        return self.base().height

    def verify_integrity(self, full: bool = False) -> None:
        """Check the stored chain's layout from the prune base up to the tip; raise
        CorruptLedger at the first problem (storage/integrity.py says what is checked)."""
        from storage.integrity import verify_layout  # it reads this module's key layout

        verify_layout(self, full)
