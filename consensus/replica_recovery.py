"""Crash recovery: rebuild a replica from what it persisted before it stopped.

A part of `Replica` over the state declared in `replica_state.py`. The node reads the
ledger's consensus records into a `Restored` event (storage/ledger.py); replaying it
brings back the view, the stable checkpoint, the executed tip and every accepted and
prepared block, so the votes re-sent now are the votes sent before the crash.
"""

from __future__ import annotations

from consensus.blocks import BlockInfo, parse_block
from consensus.certificates import genesis_checkpoint
from consensus.events import Executed, Restored, Timer
from consensus.log import Slot
from consensus.messages import vote
from consensus.persisted import PersistedState
from consensus.replica_state import ReplicaState


class RecoveryPart(ReplicaState):
    """`on_restored`: the first event of a restarted replica."""

    def on_restored(self, ev: Restored) -> None:
        """Rebuild from persisted state. Accepted (view, digest) pairs and prepared
        certificates come back, so the votes re-sent now are the votes sent before."""
        st = ev.state
        self.view, self.view_active = st.view, st.view_active
        if st.membership is not None:
            self.membership = st.membership
        self.stable = st.checkpoint or genesis_checkpoint(self.cfg)
        self.enter_set(restoring=True)
        if st.executed_height > 0:
            self.executed_height, self.executed_hash = st.executed_height, st.executed_hash
            self.executed_timestamp_ms = st.executed_timestamp_ms
        keep = st.recent_tx_ids[-self.cfg.recent_committed_txs_max :]
        self.recent_committed = dict.fromkeys(keep)
        self._restore_slots(st)
        self.started = True
        self._set_timer(Timer.STATUS, self.cfg.status_interval_ticks)
        for height, block_hash, state_root in st.executed_checkpoints:
            if height <= self.executed_height:
                self.on_executed(Executed(height, block_hash, state_root))
        if not self.is_member:
            return
        if not self.view_active:
            self.send_view_change()
            self.arm_new_view_timer()
            return
        self._resend_votes()
        self._arm_view_change_timer()

    def _restore_slots(self, st: PersistedState) -> None:
        """The log above the stable checkpoint: accepted and prepared blocks by height."""
        self.slots = {}
        for h, rec in sorted(st.slots.items()):
            if h <= self.stable.height:
                continue
            slot = self.slots[h] = Slot(h)
            if rec.accepted is not None:
                info = parse_block(rec.accepted, self.cfg)
                if isinstance(info, BlockInfo):
                    slot.accepted_view, slot.accepted = rec.accepted_view, info
                    # Blocks of older views left the log when this view began.
                    current = rec.accepted_view == self.view and self.view_active
                    if h > self.executed_height and current:
                        self._take_from_pending(info)
            if rec.prepared is not None:
                info = parse_block(rec.prepared, self.cfg)
                if isinstance(info, BlockInfo):
                    slot.prepared_view, slot.prepared = rec.prepared_view, info
                    slot.prepared_votes = rec.prepared_votes

    def _resend_votes(self) -> None:
        """In an active view: PREPARE again where we had, COMMIT again where prepared."""
        for h in sorted(self.slots):
            slot = self.slots[h]
            if h <= self.executed_height:
                continue
            self._maybe_send_prepare(slot)
            if slot.prepared_view == self.view and slot.prepared is not None:
                slot.votes_for_view(self.view)
                slot.commit_sent = True
                digest = slot.prepared.digest
                slot.commits[self.me] = self.broadcast("commit", vote(self.view, h, digest))
