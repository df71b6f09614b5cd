"""View change (§4.4): VIEW-CHANGE, NEW-VIEW, and entering the new view.

A part of `Replica` over the state declared in `replica_state.py`; the pure parts
(checking a VIEW-CHANGE, choosing what NEW-VIEW re-proposes) are in `view_change.py`.
"""

from __future__ import annotations

from consensus.actions import Broadcast, Send
from consensus.blocks import BlockInfo, index_blocks
from consensus.certificates import VoteCert
from consensus.events import Timer
from consensus.messages import Signed, open_nested, sign
from consensus.persisted import Record, ViewRecord
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState
from consensus.view_change import (
    Selection,
    ViewChangeInfo,
    build_view_change,
    check_view_change,
    select_reproposals,
)
from protos import consensus_pb2 as pb


class ViewChangePart(ReplicaState):
    """Leave a view that makes no progress and enter the next with its log."""

    def start_view_change(self, new_view: int) -> None:
        """Leave the current view for `new_view` (> current): persist the view, then send
        VIEW-CHANGE with our stable checkpoint and highest-view prepared certificates. The
        wait for NEW-VIEW is bounded by a timeout that doubles per consecutive failed view."""
        if new_view <= self.view or not self.is_member:
            return
        self.failed_views += 1
        self.view, self.view_active = new_view, False
        self.new_view_sent = None
        self.cut_due = False
        self.orphans.clear()
        self._cancel_timer(Timer.BLOCK_CUT)
        self.persist(ViewRecord(new_view, False))
        self.send_view_change()
        self._cancel_timer(Timer.VIEW_CHANGE)
        self.arm_new_view_timer()
        self.maybe_send_new_view()

    def arm_new_view_timer(self) -> None:
        """Wait for NEW-VIEW only once a quorum is in the view change with us (§4.5.2):
        a replica cut off alone must not race through views the others never enter.
        Peers already changing to a higher view count: they gave up on ours too."""
        if self.view_active or Timer.VIEW_CHANGE in self.timer_tokens:
            return
        joined = sum(1 for i in self.view_changes.values() if i.new_view >= self.view)
        if joined >= self.cfg.quorum:
            self._set_timer(Timer.VIEW_CHANGE, self.view_change_timeout_ticks())

    def send_view_change(self) -> None:
        prepared: list[VoteCert] = []
        blocks: list[pb.Block] = []
        for h in sorted(self.slots):
            slot = self.slots[h]
            if h > self.stable.height and slot.prepared is not None:
                digest = slot.prepared.digest
                prepared.append(VoteCert(slot.prepared_view, h, digest, slot.prepared_votes))
                blocks.append(slot.prepared.block)
        payload = build_view_change(self.view, self.stable, prepared)
        self.own_vc_blocks = tuple(blocks)
        signed = self.broadcast("view_change", payload, self.own_vc_blocks)
        entries = {p.height: p for p in prepared}
        self.view_changes[self.me] = ViewChangeInfo(signed, self.view, self.stable, entries)
        self.vc_bodies[self.me] = {
            s.prepared.digest: s.prepared for s in self.slots.values() if s.prepared is not None
        }

    def on_view_change(self, msg: Signed, blocks: tuple[pb.Block, ...]) -> None:
        """Collect a VIEW-CHANGE. Rules (see `check_view_change`), plus:

        - for a view we are already active in, or below: a peer is behind, and the primary
          sends it the NEW-VIEW again;
        - at most view_change_bytes_max bytes (blocks aside: each is parse_block-checked);
        - each prepared certificate's block is attached;
        - only the latest per sender is kept; f+1 for views above ours make us join the
          (f+1)-th highest of them.
        """
        new_view = msg.payload.new_view
        if new_view < self.view or (new_view == self.view and self.view_active):
            if self.view_active and self.is_primary and self.new_view_sent is not None:
                signed, nv_blocks = self.new_view_sent
                self.out.append(Send(msg.sender, signed, nv_blocks))
            return
        old = self.view_changes.get(msg.sender)
        if old is not None and old.new_view >= new_view:
            return
        if len(msg.body) > self.cfg.view_change_bytes_max:
            self.reject(msg.sender, msg.kind, Reason.BAD_VIEW_CHANGE, "too large")
            return
        info = self.check_view_change(msg)
        if isinstance(info, Reason):
            self.reject(msg.sender, msg.kind, info)
            return
        bodies = index_blocks(blocks, self.cfg)
        for entry in info.prepared.values():
            body = bodies.get(entry.digest)
            if body is None or body.height != entry.height:
                self.reject(msg.sender, msg.kind, Reason.BAD_VIEW_CHANGE, "block missing")
                return
        self.view_changes[msg.sender] = info
        self.vc_bodies[msg.sender] = {e.digest: bodies[e.digest] for e in info.prepared.values()}
        higher = sorted(
            (
                i.new_view
                for s, i in self.view_changes.items()
                if s != self.me and i.new_view > self.view
            ),
            reverse=True,
        )
        if len(higher) > self.cfg.f:
            self.start_view_change(higher[self.cfg.f])
        self.arm_new_view_timer()
        self.maybe_send_new_view()

    def check_view_change(self, signed: Signed) -> ViewChangeInfo | Reason:
        """`check_view_change` for the current set: its stable checkpoint is no older than
        the one that started this set, whose proof the previous set signed."""
        start = self.membership.at(self.stable.height + 1).first_height - 1
        return check_view_change(signed, self.cfg, self.verifier, self.cfg_at, start)

    def maybe_send_new_view(self) -> None:
        """New primary: with a quorum of VIEW-CHANGEs for our view, send NEW-VIEW."""
        if self.view_active or not self.is_primary:
            return
        infos = [i for i in self.view_changes.values() if i.new_view == self.view]
        if len(infos) < self.cfg.quorum:
            return
        infos.sort(key=lambda i: i.signed.sender)
        bodies: dict[bytes, BlockInfo] = {}
        for info in infos:
            bodies.update(self.vc_bodies.get(info.signed.sender, {}))
        selection = select_reproposals(infos, bodies)
        if isinstance(selection, Reason):
            self.reject(self.me, "new_view", selection, "cannot build")
            return
        payload = pb.NewView(
            view=self.view,
            view_changes=[i.signed.to_pb() for i in infos],
            reproposals=[pb.Reproposal(height=b.height, digest=b.digest) for b in selection.chain],
        )
        attached = tuple(b.block for b in selection.examined)
        self.enter_view(self.view, selection)
        signed = sign(self.signer, self.cfg.channel, "new_view", payload)
        self.new_view_sent = (signed, attached)
        self.out.append(Broadcast(signed, attached))
        self.resume_view(selection)

    def on_new_view(self, msg: Signed, blocks: tuple[pb.Block, ...]) -> None:
        """Enter the view of a NEW-VIEW. Rules:

        - sent by the primary of its view, a view above ours (or ours, not yet active);
        - between quorum and n VIEW-CHANGEs for that view from distinct validators, each
          signed and passing `check_view_change`;
        - its re-proposals are exactly what `select_reproposals` computes from them, with
          the blocks attached, and none contradicts a block we executed.
        """
        nv = msg.payload
        v = nv.view
        if msg.sender != self.cfg.primary(v):
            self.reject(msg.sender, msg.kind, Reason.WRONG_PRIMARY)
            return
        if v < self.view or (v == self.view and self.view_active):
            return
        infos = self._check_new_view_certificates(msg)
        if isinstance(infos, str):
            self.reject(msg.sender, msg.kind, Reason.BAD_NEW_VIEW, infos)
            return
        selection = select_reproposals(infos, index_blocks(blocks, self.cfg))
        if isinstance(selection, Reason):
            self.reject(msg.sender, msg.kind, Reason.BAD_NEW_VIEW, "blocks missing")
            return
        claimed = [(r.height, r.digest) for r in nv.reproposals]
        if claimed != [(b.height, b.digest) for b in selection.chain]:
            self.reject(msg.sender, msg.kind, Reason.BAD_NEW_VIEW, "re-proposals differ")
            return
        for block in selection.chain:
            slot = self.slots.get(block.height)
            done = slot.executed_digest if slot is not None else None
            if done is not None and done != block.digest:
                self.reject(msg.sender, msg.kind, Reason.BAD_NEW_VIEW, "contradicts executed")
                return
        if v > self.view:
            self.failed_views += 1
        self.enter_view(v, selection)
        self.resume_view(selection)

    def _check_new_view_certificates(self, msg: Signed) -> list[ViewChangeInfo] | str:
        nv = msg.payload
        if not self.cfg.quorum <= len(nv.view_changes) <= self.cfg.n:
            return "view-change count"
        infos: list[ViewChangeInfo] = []
        senders: set[bytes] = set()
        for raw in nv.view_changes:
            signed = open_nested(raw, self.cfg, self.verifier)
            if isinstance(signed, Reason) or signed.kind != "view_change":
                return "view-change signature"
            if signed.sender in senders:
                return "duplicate view-change sender"
            senders.add(signed.sender)
            info = self.check_view_change(signed)
            if isinstance(info, Reason) or info.new_view != nv.view:
                return "invalid view-change"
            infos.append(info)
        return infos

    def enter_view(self, view: int, selection: Selection) -> None:
        """Adopt `view` and its re-proposed chain; persist before any vote in it is sent.
        Uncommitted blocks above the chain leave the log and their txs become pending."""
        self.view, self.view_active = view, True
        self.view_changes = {s: i for s, i in self.view_changes.items() if i.new_view > view}
        self.vc_bodies = {s: b for s, b in self.vc_bodies.items() if s in self.view_changes}
        self.orphans.clear()
        self._cancel_timer(Timer.VIEW_CHANGE)
        if selection.checkpoint.height > self.stable.height:
            self.adopt_stable(selection.checkpoint)
        records: list[Record] = [ViewRecord(view, True)]
        for block in selection.chain:
            h = block.height
            if h <= self.stable.height:
                continue
            slot = self.slot(h)
            slot.votes_for_view(view)
            if h <= self.executed_height:
                slot.accepted_view, slot.accepted = view, block
            else:
                self._accept(slot, block)
            records.append(slot.record())
        top = selection.tip[0]
        for h, slot in self.slots.items():
            if h > max(top, self.executed_height) and slot.accepted is not None:
                self._release_to_pending(slot.accepted)
                slot.accepted, slot.accepted_view = None, -1
        self.persist(*records)

    def resume_view(self, selection: Selection) -> None:
        """Vote for the re-proposed chain, replay early messages, resume proposing."""
        for block in selection.chain:
            slot = self.slots.get(block.height)
            if slot is not None:
                self._maybe_send_prepare(slot)
        self.replay_future()
        self._maybe_propose()
        if self.stable.height > self.executed_height:
            self.fetch(self.stable.height)
