"""The normal case (§4.2): PRE-PREPARE, PREPARE and COMMIT in the current view.

A part of `Replica` over the state declared in `replica_state.py`. Votes are gated by
view and log window (`on_vote`); votes of a view we have not entered are kept, bounded
per peer, until we enter it (`future`), and a pre-prepare whose parent has not arrived
waits in `orphans`. A block prepared here is committed and executed by
`replica_execution.py`.
"""

from __future__ import annotations

from consensus.block_time import clock_problem, parent_problem
from consensus.blocks import BlockInfo, named_block
from consensus.buffers import FutureQueue, message_bytes, total_bytes
from consensus.events import MessageReceived
from consensus.log import Slot
from consensus.messages import Signed, vote
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState


class NormalCasePart(ReplicaState):
    """Judge and count the three votes of the normal case; keep early ones for later."""

    # ------------------------------------------------------------------ gate and early votes

    def on_vote(self, ev: MessageReceived) -> None:
        """Gate PRE-PREPARE / PREPARE / COMMIT by view and window, then dispatch.

        - view below ours: stale, rejected; above ours (or ours before its NEW-VIEW):
          buffered, within the per-peer bounds (`_buffer_future`);
        - height at or below the executed height: late, ignored;
        - height above the high watermark: rejected, and remembered as a sign we are behind.
        """
        msg = ev.message
        v, h = msg.payload.view, msg.payload.height
        if v < self.view:
            self.reject(msg.sender, msg.kind, Reason.STALE_VIEW, f"view {v} < {self.view}")
            return
        if v > self.view or not self.view_active:
            self._buffer_future(ev)
            return
        if h <= self.executed_height or h <= self.stable.height:
            return
        if h > self.high_watermark:
            self.reject(msg.sender, msg.kind, Reason.OUTSIDE_WINDOW, f"height {h}")
            self.note_far_ahead(msg.sender, h)
            return
        if len(msg.payload.digest) != 32:
            self.reject(msg.sender, msg.kind, Reason.MALFORMED, "digest")
            return
        if msg.kind == "pre_prepare":
            self.on_pre_prepare(ev)
        elif msg.kind == "prepare":
            self.on_prepare(msg)
        else:
            self.on_commit(msg)

    def _buffer_future(self, ev: MessageReceived) -> None:
        """Keep an early vote that can become useful, within the per-peer bounds. Rules:

        - a pre-prepare keeps only the block it names, which must pass `parse_block`
          (size limits first) and whose header must name the pre-prepare's view, height
          and sender; otherwise it is refused now, not after the view is entered;
        - a prepare or commit keeps no block: nothing is ever read from theirs;
        - per sender, only the highest view is kept: a peer voting in a higher view has
          left the lower one, so one Byzantine peer cannot stack up views;
        - in that view, at most future_messages_per_peer_max messages and
          future_bytes_per_peer_max bytes (body, signature and block); the oldest go.
        """
        msg = ev.message
        kept = self._useful_part(ev)
        if kept is None:
            return
        view = msg.payload.view
        queue = self.future.get(msg.sender)
        if queue is not None and view < queue.view:
            self.reject(msg.sender, msg.kind, Reason.STALE_VIEW, f"buffered view {queue.view}")
            return
        if queue is None or view > queue.view:
            queue = self.future[msg.sender] = FutureQueue(view)
        cfg = self.cfg
        if queue.push(kept, cfg.future_messages_per_peer_max, cfg.future_bytes_per_peer_max):
            self.reject(msg.sender, msg.kind, Reason.FUTURE_BUFFER_FULL)

    def _useful_part(self, ev: MessageReceived) -> MessageReceived | None:
        """What of an early vote is worth keeping, or None (refused) if nothing is."""
        msg = ev.message
        if msg.kind != "pre_prepare":
            return MessageReceived(msg, (), ev.now_ms) if ev.blocks else ev
        p = msg.payload
        info = named_block(ev.blocks, p.digest, self.cfg)
        if isinstance(info, Reason):
            self.reject(msg.sender, msg.kind, info, "early pre-prepare's block")
            return None
        h = info.header
        if (h.height, h.view, h.proposer) != (p.height, p.view, msg.sender):
            self.reject(msg.sender, msg.kind, Reason.BAD_BLOCK, "header does not match")
            return None
        return MessageReceived(msg, (info.block,), ev.now_ms)

    def replay_future(self) -> None:
        """After entering a view, process what peers sent for it early; drop older views."""
        ready: list[MessageReceived] = []
        for sender, queue in list(self.future.items()):
            if queue.view <= self.view:
                del self.future[sender]
                if queue.view == self.view:
                    ready.extend(queue)
        for ev in ready:
            self.on_vote(ev)

    def _keep_orphan(self, ev: MessageReceived, info: BlockInfo) -> None:
        """Keep a pre-prepare whose parent has not arrived, with only its own block.
        Heights already executed leave (never useful again); over orphan_bytes_max the
        highest heights go first, since the lowest are the next to become useful."""
        h = info.height
        for old in [k for k in self.orphans if k <= self.executed_height]:
            del self.orphans[old]
        self.orphans[h] = MessageReceived(ev.message, (info.block,), ev.now_ms)
        size = total_bytes(self.orphans.values())
        while size > self.cfg.orphan_bytes_max:
            top = max(self.orphans)
            size -= message_bytes(self.orphans.pop(top))
            self.reject(
                ev.message.sender, "pre_prepare", Reason.ORPHAN_BUFFER_FULL, f"height {top}"
            )

    # ------------------------------------------------------------------ pre-prepare

    def on_pre_prepare(self, ev: MessageReceived) -> None:
        """Accept the primary's block for (view, height). Rules:

        - sent by the primary of the view; none accepted yet for this view and height
          (a second, different one is equivocation);
        - the named block is attached, its header says this channel, height, view and
          proposer, its Merkle root matches, it is within the size limits;
        - it is not empty and holds no tx twice, none already in the log or recently
          committed, and every tx is client-signed;
        - its time is within block_time_skew_ms of our clock when the message arrived,
          and after its parent's time (block_time.py); a parent known only by its digest
          (a stable checkpoint not executed yet) makes it wait like a missing parent;
        - its parent is the block this replica has at height - 1 in this view (or executed,
          or stable); if that one has not arrived yet, the pre-prepare waits for it.
        """
        msg = ev.message
        v, h, digest = msg.payload.view, msg.payload.height, msg.payload.digest
        if msg.sender != self.cfg.primary(v):
            self.reject(msg.sender, msg.kind, Reason.WRONG_PRIMARY)
            return
        slot = self.slot(h)
        slot.votes_for_view(v)
        if slot.accepted_view == v and slot.accepted is not None:
            if slot.accepted.digest != digest:
                self.reject(msg.sender, msg.kind, Reason.CONFLICTING_VOTE, f"height {h}")
            return
        info = named_block(ev.blocks, digest, self.cfg)  # the others are never parsed
        if isinstance(info, Reason):
            self.reject(msg.sender, msg.kind, info, "the named block")
            return
        reason = self._check_proposed_block(info, v, h, msg.sender)
        if reason is None:
            why = clock_problem(
                info.header.timestamp_ms, ev.now_ms or self.now_ms, self.cfg.block_time_skew_ms
            )
            reason = None if why is None else (Reason.BAD_TIMESTAMP, why)
        if reason is not None:
            self.reject(msg.sender, msg.kind, reason[0], reason[1])
            return
        self._take_with_parent(ev, slot, info)

    def _take_with_parent(self, ev: MessageReceived, slot: Slot, info: BlockInfo) -> None:
        """`on_pre_prepare`'s rules on the parent: wait (an orphan) while it is missing or
        known by digest only, refuse a block naming another or timed before it; else
        accept, PREPARE, and take the pre-prepare that waited for this block."""
        msg, h = ev.message, slot.height
        expected = self.parent_of(h)
        if expected is None:
            self._keep_orphan(ev, info)
            return
        if info.parent != expected:
            self.reject(msg.sender, msg.kind, Reason.BAD_PARENT, f"height {h}")
            return
        parent_ms = self.parent_time(h)
        if parent_ms is None:  # the parent is known by digest only (a stable checkpoint):
            self._keep_orphan(ev, info)  # wait until it executes, then judge the time
            return
        why = parent_problem(info.header.timestamp_ms, parent_ms)
        if why is not None:
            self.reject(msg.sender, msg.kind, Reason.BAD_TIMESTAMP, f"height {h}: {why}")
            return
        self.orphans.pop(h, None)
        self._accept(slot, info)
        self.persist(slot.record())
        self._maybe_send_prepare(slot)
        self._check_prepared(slot)
        child = self.orphans.pop(h + 1, None)
        if child is not None and child.message.payload.view == self.view:
            self.on_pre_prepare(child)

    def _check_proposed_block(
        self, info: BlockInfo, view: int, height: int, proposer: bytes
    ) -> tuple[Reason, str] | None:
        header = info.header
        if header.height != height or header.view != view or header.proposer != proposer:
            return Reason.BAD_BLOCK, "header does not match the pre-prepare"
        if not info.txs and not self.filler_due(height):
            return Reason.EMPTY_BLOCK, "(allowed only to reach a validator-set switch)"
        if info.size_bytes > self.cfg.block_bytes_max + len(info.block.header):
            return Reason.BLOCK_TOO_LARGE, ""
        seen: set[bytes] = set()
        for tx in info.txs:
            if len(tx) > self.cfg.tx_bytes_max:
                return Reason.BAD_TX, "tx too large"
            tid = self.tx_checker.tx_id(tx)
            if tid in seen or tid in self.recent_committed:
                return Reason.BAD_TX, "duplicate tx"
            at = self.in_log.get(tid)
            if at is not None and at != info.height:
                return Reason.BAD_TX, "tx already in another block"
            seen.add(tid)
        if not all(self.tx_checker.verify_txs(info.txs)):
            return Reason.BAD_TX, "tx signature"
        return None

    def parent_of(self, height: int) -> bytes | None:
        """Digest the block at `height` must name as parent, or None if not known yet."""
        below = height - 1
        if below == self.executed_height:
            return self.executed_hash
        if below == self.stable.height:
            return self.stable.block_hash
        prev = self.slots.get(below)
        if prev is not None and prev.accepted_view == self.view and prev.accepted is not None:
            return prev.accepted.digest
        return None

    def parent_time(self, height: int) -> int | None:
        """Block time of the block `parent_of(height)` names, where this replica holds that
        block (executed, or accepted in this view); None when it knows only its digest
        (a stable checkpoint not yet executed: caught up by proof, not by blocks yet)."""
        below = height - 1
        if below == self.executed_height:
            return self.executed_timestamp_ms
        prev = self.slots.get(below)
        if prev is not None and prev.accepted_view == self.view and prev.accepted is not None:
            return prev.accepted.header.timestamp_ms
        return None

    def _accept(self, slot: Slot, info: BlockInfo) -> None:
        old = slot.accepted
        if old is not None and old.digest != info.digest:
            self._release_to_pending(old)
        slot.accepted_view = self.view
        slot.accepted = info
        self._take_from_pending(info)

    # ------------------------------------------------------------------ prepare and commit

    def parent_ready(self, slot: Slot) -> bool:
        """Send PREPARE for h only after h-1 is prepared in this view (or executed/stable)
        with the digest our block names as parent: this is what makes a committed block's
        ancestors survive every view change (see view_change.py)."""
        below = slot.height - 1
        if below <= self.executed_height or below <= self.stable.height:
            return True
        prev = self.slots.get(below)
        return (
            prev is not None
            and prev.prepared_view == self.view
            and prev.prepared is not None
            and slot.accepted is not None
            and prev.prepared.digest == slot.accepted.parent
        )

    def _maybe_send_prepare(self, slot: Slot) -> None:
        if slot.accepted_view == self.view:
            slot.votes_for_view(self.view)
        if (
            slot.accepted_view != self.view
            or slot.accepted is None
            or slot.prepare_sent
            or not self.view_active
            or slot.height > self.high_watermark
            or not self.parent_ready(slot)
        ):
            return
        slot.prepare_sent = True
        signed = self.broadcast("prepare", vote(self.view, slot.height, slot.accepted.digest))
        slot.prepares[self.me] = signed
        self._check_prepared(slot)

    def _record_vote(self, votes: dict[bytes, Signed], msg: Signed) -> bool:
        """Keep one vote per sender; a second, different one is equivocation."""
        old = votes.get(msg.sender)
        if old is not None:
            if old.payload.digest != msg.payload.digest:
                self.reject(msg.sender, msg.kind, Reason.CONFLICTING_VOTE)
            return False
        votes[msg.sender] = msg
        return True

    def on_prepare(self, msg: Signed) -> None:
        """Count a PREPARE for the current view (one per sender and height)."""
        slot = self.slot(msg.payload.height)
        slot.votes_for_view(self.view)
        if self._record_vote(slot.prepares, msg):
            self._check_prepared(slot)

    def _check_prepared(self, slot: Slot) -> None:
        """Prepared = a quorum of PREPAREs matching the accepted block in this view.
        Persist the certificate, then send COMMIT; the next height may now PREPARE."""
        if (
            slot.accepted_view != self.view
            or slot.accepted is None
            or slot.prepared_view == self.view
        ):
            return
        digest = slot.accepted.digest
        if slot.count(slot.prepares, digest) < self.cfg.quorum:
            return
        slot.prepared_view = self.view
        slot.prepared = slot.accepted
        slot.prepared_votes = slot.matching(slot.prepares, digest)
        self.persist(slot.record())
        if not slot.commit_sent:
            slot.commit_sent = True
            signed = self.broadcast("commit", vote(self.view, slot.height, digest))
            slot.commits[self.me] = signed
        self._check_committed(slot)
        nxt = self.slots.get(slot.height + 1)
        if nxt is not None:
            self._maybe_send_prepare(nxt)

    def on_commit(self, msg: Signed) -> None:
        """Count a COMMIT for the current view (one per sender and height)."""
        slot = self.slot(msg.payload.height)
        slot.votes_for_view(self.view)
        if self._record_vote(slot.commits, msg):
            self._check_committed(slot)
