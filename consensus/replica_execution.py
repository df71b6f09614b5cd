"""Execution: committed blocks go to the executor strictly in height order.

A part of `Replica` over the state declared in `replica_state.py`. A block is committed
once a quorum of same-view COMMITs names it and its body is at hand; that quorum becomes
the block's commit certificate, stored beside it so anyone can verify the block alone.
"""

from __future__ import annotations

from consensus.actions import ExecuteBlock
from consensus.blocks import BlockInfo
from consensus.events import Timer
from consensus.log import Slot
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState
from protos import consensus_pb2 as pb


class ExecutionPart(ReplicaState):
    """Find committed blocks and hand them to the executor, in height order."""

    def _check_committed(self, slot: Slot) -> None:
        if slot.height == self.executed_height + 1:
            self._try_execute()

    def _committed_block(self, slot: Slot) -> tuple[BlockInfo, tuple[pb.SignedMessage, ...]] | None:
        """A quorum of same-view COMMITs for a block whose body we hold."""
        counts: dict[bytes, int] = {}
        for s in slot.commits.values():
            counts[s.payload.digest] = counts.get(s.payload.digest, 0) + 1
        for digest, count in counts.items():
            if count >= self.cfg.quorum:
                info = slot.block_for(digest)
                if info is not None:
                    return info, slot.matching(slot.commits, digest)
        return None

    def _try_execute(self) -> None:
        """Execute committed blocks strictly in height order."""
        progressed = False
        while True:
            slot = self.slots.get(self.executed_height + 1)
            if slot is None:
                break
            found = self._committed_block(slot)
            if found is None:
                break
            info, commits = found
            if info.parent != self.executed_hash:
                self.reject(b"", "block", Reason.BAD_PARENT, f"committed block {slot.height}")
                break
            self.execute(info, commits)
            progressed = True
        if progressed:
            self.after_progress()

    def execute(self, info: BlockInfo, commits: tuple[pb.SignedMessage, ...]) -> None:
        """Hand a committed block to the executor and forget its txs as pending."""
        certified = pb.CertifiedBlock(block=info.block, commits=list(commits))
        self.executed_height = info.height
        self.executed_hash = info.digest
        self.executed_timestamp_ms = info.header.timestamp_ms
        verdicts, changed = self.apply_governance(info)
        membership = self.membership if changed else None
        self.out.append(ExecuteBlock(info.height, certified, info.digest, verdicts, membership))
        slot = self.slots.get(info.height)
        if slot is None and self.stable.height < info.height <= self.high_watermark:
            slot = self.slot(info.height)
        if slot is not None:
            slot.executed_digest = info.digest
            if slot.accepted is not None and slot.accepted.digest != info.digest:
                self._release_to_pending(slot.accepted)
        for tx in info.txs:
            tid = self.tx_checker.tx_id(tx)
            self.in_log.pop(tid, None)
            old = self.pending.pop(tid, None)
            if old is not None:
                self.pending_bytes -= len(old)
            self.recent_committed[tid] = None
        while len(self.recent_committed) > self.cfg.recent_committed_txs_max:
            del self.recent_committed[next(iter(self.recent_committed))]

    def after_progress(self) -> None:
        """A block executed: the view works, the pipeline has room, timers restart. A
        pre-prepare that waited for its parent, which arrived by block sync instead of
        by its own pre-prepare, is taken now (else the replica stays a block behind,
        fetching each next one)."""
        self.failed_views = 0
        orphan = self.orphans.pop(self.executed_height + 1, None)
        if orphan is not None and self.view_active and orphan.message.payload.view == self.view:
            self.on_pre_prepare(orphan)
        if self.view_active:
            self._cancel_timer(Timer.VIEW_CHANGE)
            nxt = self.slots.get(self.executed_height + 1)
            if nxt is not None:
                self._maybe_send_prepare(nxt)
            self._maybe_propose()
