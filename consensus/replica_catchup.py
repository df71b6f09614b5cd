"""Catch-up: heartbeats, retransmission, and block fetch with its peer penalties.

A part of `Replica` over the state declared in `replica_state.py`. Every
status_interval_ticks a member broadcasts a heartbeat (`pb.Status`) and re-sends its own
votes for unfinished heights, so a lost message delays but never stalls the protocol.
Peers' heartbeats tell where the others are; a height f+1 members report (one of them
honest) starts a fetch of committed blocks, which execute once their commit certificates
check (`on_blocks_fetched`). A peer that answers badly is asked last for a while.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.actions import Broadcast, FetchBlocks, Send
from consensus.blocks import BlockInfo, parse_block
from consensus.catchup import credible_height, fetch_order, holders
from consensus.certificates import check_checkpoint_cert, check_vote_cert
from consensus.events import BlocksFetched
from consensus.log import Slot
from consensus.messages import Signed
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState
from protos import consensus_pb2 as pb


class CatchUpPart(ReplicaState):
    """Announce where we are, learn where peers are, and fetch what we lack."""

    # ------------------------------------------------------------------ block fetch

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

    def probe_fetch(self) -> None:
        """An observer, or a replica stuck outside a working view, hears no heartbeats (the
        members send only to members): ask one member, in turn, for blocks past ours."""
        members = sorted(v for v in self.audience if v != self.me)
        if not members:
            return
        self.fetch_attempts += 1
        peer = self.fetch_peers(members)[0]  # in turn, but not one that failed lately
        first = self.executed_height + 1
        self.out.append(FetchBlocks(first, first + self.cfg.fetch_blocks_max - 1, (peer,)))

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
        peers = [p for p in sorted(self.audience) if p != self.me]
        for h in sorted(self.slots):
            slot = self.slots[h]
            if h <= self.executed_height or slot.votes_view != self.view:
                continue
            # The block only to peers that have not voted for it (a signed vote for its
            # digest shows the peer has it). Under load blocks stay in flight across
            # heartbeats, and re-sending each to every peer doubled the consensus traffic
            # (bench/messages.py, docs/benchmark.md). Votes are small: to everyone, since
            # a peer's own claims (its STATUS) must not decide what honest peers hear.
            accepted = slot.accepted
            if slot.pre_prepare is not None and accepted is not None:
                lacking = [p for p in peers if not _voted_for(slot, p, accepted.digest)]
                self._send_to(lacking, peers, slot.pre_prepare, (accepted.block,))
            for own in (slot.prepares.get(self.me), slot.commits.get(self.me)):
                if own is not None:
                    self.out.append(Broadcast(own))

    def _send_to(
        self,
        to: Sequence[bytes],
        peers: Sequence[bytes],
        message: Signed,
        blocks: tuple[pb.Block, ...] = (),
    ) -> None:
        """One Broadcast when every peer is to get it (encoded once), else a Send each."""
        if len(to) == len(peers):
            self.out.append(Broadcast(message, blocks))
        else:
            self.out.extend(Send(p, message, blocks) for p in to)


def _voted_for(slot: Slot, peer: bytes, digest: bytes) -> bool:
    """`peer` sent a PREPARE or COMMIT in this view for the block named `digest`."""
    for votes in (slot.prepares, slot.commits):
        vote = votes.get(peer)
        if vote is not None and vote.payload.digest == digest:
            return True
    return False
