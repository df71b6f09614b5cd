"""Checkpoints (§4.3), catch-up by block fetch, heartbeat retransmission, crash recovery.

A mixin over the state defined in `replica.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from consensus.actions import Broadcast, FetchBlocks, Send
from consensus.blocks import BlockInfo, parse_block
from consensus.catchup import credible_height, fetch_order, holders
from consensus.certificates import (
    CheckpointCert,
    check_checkpoint_cert,
    check_vote_cert,
    genesis_checkpoint,
)
from consensus.events import BlocksFetched, Executed, Restored, Timer
from consensus.log import Slot
from consensus.messages import Signed, vote
from consensus.persisted import CheckpointRecord, PruneRecord
from consensus.reasons import Reason
from protos import consensus_pb2 as pb

if TYPE_CHECKING:
    from consensus.replica import Replica

    _Base = Replica
else:
    _Base = object


class CheckpointsMixin(_Base):
    # ------------------------------------------------------------------ checkpoints

    def on_executed(self, ev: Executed) -> None:
        """Sign a CHECKPOINT every checkpoint_interval_blocks executed blocks, if we are in
        the set that ordered the block (the last checkpoint of a set is its set's too)."""
        h = ev.height
        if h % self.cfg.checkpoint_interval_blocks or h <= self.stable.height:
            return
        if self.me not in self.cfg_at(h).validators:
            return
        payload = pb.Checkpoint(height=h, block_hash=ev.block_hash, state_root=ev.state_root)
        signed = self.broadcast("checkpoint", payload)
        self.checkpoint_votes.setdefault(h, {})[self.me] = signed
        self._check_stable(h)

    def on_checkpoint(self, msg: Signed) -> None:
        """Count a CHECKPOINT. Rules:

        - height a multiple of checkpoint_interval_blocks above our stable checkpoint;
        - signed by a member of the set that ordered that height;
        - one per sender and height (a different second one is equivocation);
        - above the high watermark only each sender's latest is kept: enough to prove
          we are behind, bounded by the number of validators.
        """
        c = msg.payload
        h = c.height
        if h <= self.stable.height:
            return
        if h % self.cfg.checkpoint_interval_blocks or len(c.block_hash) != 32:
            self.reject(msg.sender, msg.kind, Reason.MALFORMED)
            return
        if msg.sender not in self.cfg_at(h).validators:
            self.reject(msg.sender, msg.kind, Reason.UNKNOWN_SENDER, f"not in the set of {h}")
            return
        if h > self.high_watermark:
            for other in [x for x in self.checkpoint_votes if x > self.high_watermark and x != h]:
                votes = self.checkpoint_votes[other]
                votes.pop(msg.sender, None)
                if not votes:
                    del self.checkpoint_votes[other]
        votes = self.checkpoint_votes.setdefault(h, {})
        old = votes.get(msg.sender)
        if old is not None:
            if old.body != msg.body:
                self.reject(msg.sender, msg.kind, Reason.CONFLICTING_VOTE)
            return
        votes[msg.sender] = msg
        self._check_stable(h)

    def _check_stable(self, h: int) -> None:
        cfg = self.cfg_at(h)
        groups: dict[tuple[bytes, bytes], list[Signed]] = {}
        for s in self.checkpoint_votes.get(h, {}).values():
            if s.sender in cfg.validators:
                groups.setdefault((s.payload.block_hash, s.payload.state_root), []).append(s)
        for (block_hash, root), group in groups.items():
            if len(group) < cfg.quorum:
                continue
            own = self.checkpoint_votes[h].get(self.me)
            if own is not None and (own.payload.block_hash, own.payload.state_root) != (
                block_hash,
                root,
            ):
                self.reject(self.me, "checkpoint", Reason.STATE_DIVERGED, f"height {h}")
            proof = tuple(s.to_pb() for s in group)
            self.adopt_stable(CheckpointCert(h, block_hash, root, proof), [s.sender for s in group])
            self._maybe_propose()  # the window moved
            return

    def adopt_stable(self, cert: CheckpointCert, peers: list[bytes] | tuple[()] = ()) -> None:
        """Make `cert` the stable checkpoint: move the watermarks, garbage-collect the log
        below it, and fetch the blocks up to it if we have not executed them."""
        if cert.height <= self.stable.height:
            return
        self.stable = cert
        self.persist(CheckpointRecord(cert), PruneRecord(cert.height))
        self.enter_set()
        for h in [h for h in self.slots if h <= cert.height]:
            slot = self.slots.pop(h)
            if slot.accepted is not None and h > self.executed_height:
                self._release_to_pending(slot.accepted)
        for table in (self.checkpoint_votes, self.orphans):
            for h in [h for h in table if h <= cert.height]:
                del table[h]
        self.far_ahead = {p: h for p, h in self.far_ahead.items() if h > self.high_watermark}
        if self.executed_height < cert.height:
            self.fetch(cert.height, tuple(peers))

    # ------------------------------------------------------------------ catch-up

    def fetch(self, target: int, peers: tuple[bytes, ...] = (), retry: bool = False) -> None:
        """Ask for committed blocks up to `target`, fetch_blocks_max at a time. Callers
        pass a target f+1 members vouch for (one of them honest), never one peer's claim.
        `peers` (known to hold the blocks) are asked first, rotated, so a peer that serves
        bad blocks is not asked first every time; then every other member; peers with a
        recent invalid or missing answer last."""
        if target <= self.executed_height:
            return
        if target <= self.fetch_target and not retry:
            return
        self.fetch_target = max(self.fetch_target, target)
        first = self.executed_height + 1
        last = min(self.fetch_target, self.executed_height + self.cfg.fetch_blocks_max)
        self.fetch_attempts += 1
        self.out.append(FetchBlocks(first, last, self.fetch_peers(peers)))

    def fetch_peers(self, preferred: Sequence[bytes]) -> tuple[bytes, ...]:
        """Whom to ask, best first (catchup.fetch_order): a liar's 10^9 puts it last."""
        penalised, tainted = self.fetch_penalised(), self.fetch_penalties
        rotation, suspect = self.fetch_attempts, self.fetch_suspects()
        return fetch_order(preferred, self.audience, self.me, rotation, penalised, tainted, suspect)

    def fetch_suspects(self) -> list[bytes]:
        """Members whose heartbeat claims a height more than a log window above what f+1
        members vouch for. Honest ones cannot be that far ahead for long: a block commits
        only when a quorum votes for it inside its window, so f+1 honest members executed
        at least its height minus the window."""
        members = self.cfg.validators
        claims = {p: s.executed_height for p, s in self.peer_status.items() if p in members}
        top = credible_height(claims, members, self.cfg.f)
        return [p for p, h in claims.items() if h > top + self.cfg.log_window_blocks]

    def fetch_penalised(self) -> frozenset[bytes]:
        """Peers whose last fetch answer was invalid or missing, until their penalty ends."""
        return frozenset(p for p, until in self.fetch_penalties.items() if until > self.heartbeats)

    def note_far_ahead(self, sender: bytes, height: int) -> None:
        """f+1 peers voting beyond our window prove an honest one is there: fetch."""
        self.far_ahead[sender] = max(height, self.far_ahead.get(sender, 0))
        members = self.cfg.validators
        target = credible_height(self.far_ahead, members, self.cfg.f)
        if target:
            self.fetch(target - 1, tuple(holders(self.far_ahead, members, target)))

    def _count_fetch_failure(self, source: bytes, invalid: bool) -> bool:
        """Count a bad answer against `source` (a member or next member; nobody else is
        remembered, so this stays bounded) and ask it last for fetch_penalty_ticks. True
        if it was not penalised already: then the fetch goes on elsewhere at once, which a
        peer answering badly again and again cannot turn into a loop."""
        if source not in self.audience or source == self.me:
            return False
        if invalid:
            self.fetch_invalid[source] = self.fetch_invalid.get(source, 0) + 1
        fresh = source not in self.fetch_penalised()
        beats = -(-self.cfg.fetch_penalty_ticks // self.cfg.status_interval_ticks)
        self.fetch_penalties[source] = self.heartbeats + beats
        return fresh

    def on_blocks_fetched(self, ev: BlocksFetched) -> None:
        """Execute fetched blocks. Rules: they execute in order, each naming the previous
        as parent, each proposed by and carrying a valid commit certificate of the set of
        its height (known by then: executing a block may schedule a later set) for its own
        digest and height. Their txs are not re-verified: a quorum of commits vouches."""
        if ev.failure:  # no usable answer from that peer: ask it last for a while
            self._count_fetch_failure(ev.source, invalid=False)
            return
        progressed, invalid = self._execute_fetched(ev)
        adopted = False
        if ev.checkpoint:
            proof_cfg = self.proof_cfg(ev.checkpoint)
            cert = check_checkpoint_cert(ev.checkpoint, proof_cfg, self.verifier)
            if isinstance(cert, Reason):  # not held against the peer: the proof may be
                # of a validator set this replica has not executed its way to yet
                self.reject(ev.source, "fetched_checkpoint", Reason.BAD_CERTIFICATE)
            elif cert.height > self.stable.height:
                self.adopt_stable(cert)
                adopted = True
        if progressed:
            self.after_progress()
            self._try_execute()
        elif adopted:
            self._maybe_propose()
        fresh = invalid and self._count_fetch_failure(ev.source, invalid=True)
        if progressed and not invalid:
            self.fetch_penalties.pop(ev.source, None)  # it answered well: taint lifted
        if self.executed_height < self.fetch_target and (progressed or adopted or fresh):
            self.fetch(self.fetch_target, retry=True)  # after an invalid answer: elsewhere
        elif progressed and len(ev.blocks) >= self.cfg.fetch_blocks_max:
            self.probe_fetch()  # a full answer: there may be more

    def _execute_fetched(self, ev: BlocksFetched) -> tuple[bool, bool]:
        """Execute what of the answer follows our executed height; (progressed, invalid).
        Every refusal names the serving peer: an honest one never sends such blocks."""
        found: dict[int, tuple[BlockInfo, pb.CertifiedBlock]] = {}
        invalid = False
        for cb in ev.blocks[: self.cfg.fetch_blocks_max]:
            info = parse_block(cb.block, self.cfg, check_proposer=False)
            if isinstance(info, Reason):
                self.reject(ev.source, "fetched_block", Reason.BAD_FETCHED_BLOCK, "malformed")
                invalid = True
                continue
            found[info.height] = (info, cb)
        progressed = False
        while self.executed_height + 1 in found:
            info, cb = found[self.executed_height + 1]
            cfg = self.cfg_at(info.height)
            cert = check_vote_cert(cb.commits, "commit", cfg, self.verifier)
            problem = ""
            if (
                isinstance(cert, Reason)
                or info.header.proposer not in cfg.validators
                or (cert.height, cert.digest) != (info.height, info.digest)
            ):
                problem = "certificate"
            elif info.parent != self.executed_hash:
                problem = "parent"
            if problem:
                self.reject(ev.source, "fetched_block", Reason.BAD_FETCHED_BLOCK, problem)
                return progressed, True
            self.execute(info, cert.votes)  # type: ignore[union-attr]
            progressed = True
        return progressed, invalid

    # ------------------------------------------------------------------ heartbeat

    def on_status(self, msg: Signed) -> None:
        """A peer's heartbeat. A peer behind our view gets our NEW-VIEW again; f+1 peers in
        higher views prove an honest one moved on, so we follow (PBFT's f+1 rule)."""
        st = msg.payload
        self.peer_status[msg.sender] = st
        if not self.is_member or msg.sender not in self.cfg.validators:
            return
        self.adopt_members_view()
        if (
            self.view_active
            and self.is_primary
            and self.new_view_sent is not None
            and (st.view < self.view or (st.view == self.view and not st.view_active))
        ):
            signed, blocks = self.new_view_sent
            self.out.append(Send(msg.sender, signed, blocks))
        members = self.cfg.validators
        higher = sorted(
            (s.view for p, s in self.peer_status.items() if s.view > self.view and p in members),
            reverse=True,
        )
        if len(higher) > self.cfg.f:
            self.start_view_change(higher[self.cfg.f])

    def on_status_timer(self) -> None:
        """Heartbeat: announce where we are, retransmit our votes for unfinished heights,
        and fetch blocks if peers are ahead and we are stuck or far behind. An observer
        sends nothing; it and a member stuck in a view change also probe for blocks."""
        if self.is_member:
            status = pb.Status(
                view=self.view,
                view_active=self.view_active,
                executed_height=self.executed_height,
                stable_height=self.stable.height,
            )
            self.broadcast("status", status)
            self._retransmit()
        stalled = self.executed_height == self.progress_mark
        self.progress_mark = self.executed_height
        self._tick_fetch_penalties()
        # Heights f+1 members report (one of them honest); one peer's claim moves nothing.
        members, f = self.cfg.validators, self.cfg.f
        claims = {p: s.executed_height for p, s in self.peer_status.items()}
        target = credible_height(claims, members, f)
        lead = target - self.executed_height
        if lead > self.cfg.in_flight_blocks_max or (stalled and lead > 0):
            self.fetch(target, tuple(holders(claims, members, target)), retry=True)
            return
        if self._ask_a_lone_leader(claims, stalled):
            return
        # A member's stable checkpoint above ours: its proof moves our window. A stable
        # height above what f+1 members executed cannot be (a quorum executed it): a lie.
        behind = any(
            self.stable.height < s.stable_height <= target
            for p, s in self.peer_status.items()
            if p in members
        )
        # Executed up to the end of the set but its checkpoint not stable here: the others
        # may have switched and stopped sending to us (a removed validator among them).
        end = self.set_end()
        at_end = end is not None and self.executed_height >= end
        if not self.is_member or (stalled and (not self.view_active or behind or at_end)):
            self.probe_fetch()  # the answer carries the peer's stable checkpoint proof

    def _ask_a_lone_leader(self, claims: dict[bytes, int], stalled: bool) -> bool:
        """Fewer than f+1 members report being ahead, so no target is believed; but under
        message loss one honest member may be ahead while the others' heartbeats lag. Ask
        one such member for the next fetch_blocks_max blocks, setting no target, if its
        claim is plausible (not a suspect's) and it never failed us (or answered well
        since): a liar is asked at most once, then only with f+1 members vouching."""
        slack = 0 if stalled else self.cfg.in_flight_blocks_max
        barred = set(self.fetch_penalties) | set(self.fetch_suspects())
        ahead = sorted(
            p
            for p, h in claims.items()
            if p in self.cfg.validators and h > self.executed_height + slack and p not in barred
        )
        if not ahead:
            return False
        self.fetch_attempts += 1
        first = self.executed_height + 1
        peer = self.fetch_peers(ahead)[0]
        self.out.append(FetchBlocks(first, first + self.cfg.fetch_blocks_max - 1, (peer,)))
        return True

    def _tick_fetch_penalties(self) -> None:
        """Advance the penalty clock; forget peers no longer in the audience (the per-peer
        tables hold members only, so they stay bounded)."""
        self.heartbeats += 1
        for table in (self.fetch_penalties, self.fetch_invalid):
            for p in [p for p in table if p not in self.audience]:
                del table[p]

    def _retransmit(self) -> None:
        for h in sorted(self.checkpoint_votes):
            own = self.checkpoint_votes[h].get(self.me)
            if own is not None:  # a lost CHECKPOINT would pin the watermarks forever
                self.out.append(Broadcast(own))
        if not self.view_active:
            own = self.view_changes.get(self.me)
            if own is not None and own.new_view == self.view:
                self.out.append(Broadcast(own.signed, self.own_vc_blocks))
            return
        for h in sorted(self.slots):
            slot = self.slots[h]
            if h <= self.executed_height or slot.votes_view != self.view:
                continue
            if slot.pre_prepare is not None and slot.accepted is not None:
                self.out.append(Broadcast(slot.pre_prepare, (slot.accepted.block,)))
            for own in (slot.prepares.get(self.me), slot.commits.get(self.me)):
                if own is not None:
                    self.out.append(Broadcast(own))

    # ------------------------------------------------------------------ recovery

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
        self._arm_view_change_timer()
