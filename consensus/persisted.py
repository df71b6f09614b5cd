"""What a replica must never forget, as records the node writes and hands back on restart.

Persisting these before the messages that depend on them are sent is what makes a
restarted replica unable to equivocate: it remembers, per height, the (view, digest) it
accepted and voted PREPARE for, and its highest prepared certificate (which it voted
COMMIT for); it remembers its view and its stable checkpoint. Executed blocks live in the
ledger; the node reports the tip (height, hash) here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.certificates import CheckpointCert
from consensus.membership import Membership
from protos import consensus_pb2 as pb


@dataclass(frozen=True, slots=True)
class ViewRecord:
    view: int
    active: bool  # False while waiting for the NEW-VIEW of `view`


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """Per height: what this replica accepted (and voted PREPARE for) and what it prepared."""

    height: int
    accepted_view: int
    accepted: pb.Block | None  # block of the accepted pre-prepare
    prepared_view: int
    prepared: pb.Block | None  # block of the highest-view prepared certificate
    prepared_votes: tuple[pb.SignedMessage, ...]  # that certificate (quorum PREPAREs)


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    checkpoint: CheckpointCert


@dataclass(frozen=True, slots=True)
class PruneRecord:
    """Slot records at heights <= `height` are garbage (covered by a stable checkpoint)."""

    height: int


Record = ViewRecord | SlotRecord | CheckpointRecord | PruneRecord


@dataclass(frozen=True)
class PersistedState:
    """Everything `Restored` needs: the latest of each record, plus the ledger tip."""

    view: int = 0
    view_active: bool = True
    checkpoint: CheckpointCert | None = None
    slots: dict[int, SlotRecord] = field(default_factory=dict)
    executed_height: int = 0
    executed_hash: bytes = b""
    executed_timestamp_ms: int = 0  # block time of the executed tip (0: genesis)
    recent_tx_ids: tuple[bytes, ...] = ()
    # (height, block hash, state root) of executed checkpoint heights above the stable
    # checkpoint, from the ledger: a crash may have lost the Executed event that signs them.
    executed_checkpoints: tuple[tuple[int, bytes, bytes], ...] = ()
    # The membership after the executed tip, from the world state (None: the genesis set).
    membership: Membership | None = None

    def apply(self, records: tuple[Record, ...]) -> PersistedState:
        """Fold records into a new state (the in-memory reference semantics of storage)."""
        view, active, ckpt = self.view, self.view_active, self.checkpoint
        slots = dict(self.slots)
        for rec in records:
            if isinstance(rec, ViewRecord):
                view, active = rec.view, rec.active
            elif isinstance(rec, SlotRecord):
                slots[rec.height] = rec
            elif isinstance(rec, CheckpointRecord):
                ckpt = rec.checkpoint
            else:
                slots = {h: s for h, s in slots.items() if h > rec.height}
        return PersistedState(view, active, ckpt, slots)
