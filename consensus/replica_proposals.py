"""Transactions waiting to be ordered, and block cutting by the primary.

A part of `Replica` over the state declared in `replica_state.py`. `pending` holds txs in
no block of the log; a tx moves to `in_log` when a block holding it is accepted and back
to `pending` if a view change drops that block uncommitted, so a primary never proposes a
tx twice.
"""

from __future__ import annotations

from consensus.block_time import proposal_time
from consensus.blocks import BlockInfo, make_block
from consensus.events import Timer
from consensus.messages import vote
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState


class ProposalsPart(ReplicaState):
    """Hold admitted txs until a block takes them; the primary cuts blocks."""

    # ------------------------------------------------------------------ transactions

    def on_txs_ready(self, txs: tuple[bytes, ...]) -> None:
        """Queue admitted txs for ordering. Rules: at most tx_bytes_max each; not already
        pending, in the log or recently committed (silently skipped); bounded queue."""
        full = 0
        for tx in txs:
            if len(tx) > self.cfg.tx_bytes_max:
                self.reject(b"", "tx", Reason.TX_TOO_LARGE)
                continue
            tid = self.tx_checker.tx_id(tx)
            if tid in self.pending or tid in self.in_log or tid in self.recent_committed:
                continue
            if (
                len(self.pending) >= self.cfg.pending_txs_max
                or self.pending_bytes + len(tx) > self.cfg.pending_bytes_max
            ):
                full += 1
                continue
            self.pending[tid] = tx
            self.pending_bytes += len(tx)
        if full:
            self.reject(b"", "tx", Reason.PENDING_FULL, f"{full} txs")
        self._maybe_propose()

    def _take_from_pending(self, info: BlockInfo) -> None:
        for tx in info.txs:
            tid = self.tx_checker.tx_id(tx)
            self.in_log[tid] = info.height
            old = self.pending.pop(tid, None)
            if old is not None:
                self.pending_bytes -= len(old)

    def _release_to_pending(self, info: BlockInfo) -> None:
        """A block left the log uncommitted: its txs become proposable again."""
        for tx in info.txs:
            tid = self.tx_checker.tx_id(tx)
            if self.in_log.get(tid) == info.height:
                del self.in_log[tid]
                if tid not in self.recent_committed and tid not in self.pending:
                    self.pending[tid] = tx
                    self.pending_bytes += len(tx)

    # ------------------------------------------------------------------ proposing

    def proposal_tip(self) -> tuple[int, bytes]:
        """Height and digest the next block of this view builds on."""
        tip = (self.executed_height, self.executed_hash)
        if self.stable.height > tip[0]:
            tip = (self.stable.height, self.stable.block_hash)
        for h, s in self.slots.items():
            if h > tip[0] and s.accepted_view == self.view and s.accepted is not None:
                tip = (h, s.accepted.digest)
        return tip

    def filler_due(self, height: int | None = None) -> bool:
        """A later validator set is scheduled and blocks up to its switch height E are
        missing (or `height` is at most E): an idle channel would never reach E, so the
        primary may cut empty blocks until it does."""
        end = self.set_end()
        if end is None:
            return False
        return (self.executed_height if height is None else height - 1) < end

    def _maybe_propose(self) -> None:
        """Primary only: cut blocks while the pipeline has room and a block is due (full,
        or block_interval_ticks passed with a tx pending). Empty only to reach a switch of
        validator sets."""
        if not (self.view_active and self.is_primary):
            return
        cfg = self.cfg
        while self.pending or (self.cut_due and self.filler_due(self.proposal_tip()[0] + 1)):
            height, parent = self.proposal_tip()
            height += 1
            room = min(self.high_watermark, self.executed_height + cfg.in_flight_blocks_max)
            if height > room or self.executed_height < self.stable.height:
                break
            txs: list[bytes] = []
            size = 0
            for tx in self.pending.values():
                if len(txs) >= cfg.block_txs_max or size + len(tx) > cfg.block_bytes_max:
                    break
                txs.append(tx)
                size += len(tx)
            full = len(txs) >= cfg.block_txs_max or len(txs) < len(self.pending)
            if not (full or self.cut_due):
                break
            self.cut_due = False
            stamp = proposal_time(self.now_ms, self.parent_time(height))
            info = make_block(cfg, height, self.view, parent, txs, self.me, stamp)
            self._propose(info)
        due = self.pending or self.filler_due()
        if due and Timer.BLOCK_CUT not in self.timer_tokens:
            self._set_timer(Timer.BLOCK_CUT, cfg.block_interval_ticks)
        if not due:
            self._cancel_timer(Timer.BLOCK_CUT)

    def _propose(self, info: BlockInfo) -> None:
        slot = self.slot(info.height)
        slot.votes_for_view(self.view)
        self._accept(slot, info)
        self.persist(slot.record())
        slot.pre_prepare = self.broadcast(
            "pre_prepare", vote(self.view, info.height, info.digest), (info.block,)
        )
        self._maybe_send_prepare(slot)
