"""The PBFT replica of one channel: event dispatch, the request timer, the read surface.

Handlers follow one pattern: check the acceptance rules listed in the docstring, reject
with a Reason otherwise, update state, and append actions to `self.out` in the order the
caller must perform them. `Replica` is its parts put together, one module per concern
(the table in `replica_state.py`), over the state `ReplicaState` declares; this module
routes each event to its part and holds what spans them all.
"""

from __future__ import annotations

from consensus.actions import Action
from consensus.buffers import total_bytes
from consensus.events import (
    BlocksFetched,
    Event,
    Executed,
    MessageReceived,
    PeerLinkChanged,
    Restored,
    Tick,
    Timer,
    TxsReady,
)
from consensus.reasons import Reason
from consensus.replica_catchup import CatchUpPart
from consensus.replica_checkpoints import CheckpointsPart
from consensus.replica_execution import ExecutionPart
from consensus.replica_membership import MembershipPart
from consensus.replica_normal_case import NormalCasePart
from consensus.replica_proposals import ProposalsPart
from consensus.replica_recovery import RecoveryPart
from consensus.replica_view_change import ViewChangePart
from consensus.status import ReplicaStatus

VOTE_KINDS = ("pre_prepare", "prepare", "commit")


class Replica(
    NormalCasePart,
    ProposalsPart,
    ExecutionPart,
    CheckpointsPart,
    CatchUpPart,
    ViewChangePart,
    MembershipPart,
    RecoveryPart,
):
    """One validator's PBFT state machine for one channel: `step(event) -> list[Action]`.

    `cfg` holds the genesis validator set; governance may change it (membership.py). A
    signer outside the current set runs as an observer until a set includes it."""

    # ------------------------------------------------------------------ dispatch

    def step(self, event: Event) -> list[Action]:
        """Apply one event; return the actions to perform, in order."""
        self.out = []
        if isinstance(event, Restored):
            self.on_restored(event)
            return self.out
        if not self.started:
            self._start()
        if isinstance(event, MessageReceived):
            self.now_ms = max(self.now_ms, event.now_ms)
            self.on_message(event)
        elif isinstance(event, TxsReady):
            self.now_ms = max(self.now_ms, event.now_ms)
            self.on_txs_ready(event.txs)
        elif isinstance(event, Tick):
            self.now_ms = max(self.now_ms, event.now_ms)
            self.on_tick(event)
        elif isinstance(event, Executed):
            self.on_executed(event)
        elif isinstance(event, BlocksFetched):
            self.on_blocks_fetched(event)
        elif isinstance(event, PeerLinkChanged):
            self.on_peer_link(event)
        self._arm_view_change_timer()
        return self.out

    def _start(self) -> None:
        self.started = True
        self._set_timer(Timer.STATUS, self.cfg.status_interval_ticks)
        self.enter_set(restoring=True)

    def on_message(self, ev: MessageReceived) -> None:
        msg = ev.message
        if msg.msg.channel != self.cfg.channel:
            self.reject(msg.sender, msg.kind, Reason.WRONG_CHANNEL)
            return
        if msg.sender == self.me:
            self.reject(msg.sender, msg.kind, Reason.OWN_MESSAGE, "replayed to its signer")
            return
        kind = msg.kind
        if msg.sender not in self.cfg.validators:
            # Members of the next set announce where they are (catch-up hints) and sign
            # checkpoints of their own heights; nothing else from outside the set counts.
            if kind in ("status", "checkpoint") and msg.sender in self.audience:
                self.on_status(msg) if kind == "status" else self.on_checkpoint(msg)
            else:
                self.reject(msg.sender, kind, Reason.UNKNOWN_SENDER, "not in the current set")
            return
        if not self.is_member and kind not in ("status", "checkpoint"):
            return  # an observer votes for nothing; it follows by block sync
        if kind in VOTE_KINDS:
            self.on_vote(ev)
        elif kind == "checkpoint":
            self.on_checkpoint(msg)
        elif kind == "view_change":
            self.on_view_change(msg, ev.blocks)
        elif kind == "new_view":
            self.on_new_view(msg, ev.blocks)
        elif kind == "status":
            self.on_status(msg)
        else:
            self.reject(msg.sender, kind, Reason.MALFORMED)

    def on_tick(self, ev: Tick) -> None:
        if self.timer_tokens.get(ev.timer) != ev.token:
            return  # cancelled or re-set since
        del self.timer_tokens[ev.timer]
        if ev.timer is Timer.BLOCK_CUT:
            self.cut_due = True
            self._maybe_propose()
        elif ev.timer is Timer.VIEW_CHANGE:
            shortfall, self.suspect_shortfall_ticks = self.suspect_shortfall_ticks, 0
            if shortfall and self._view_works_without_us():
                self._set_timer(Timer.VIEW_CHANGE, shortfall)  # the suspicion was wrong
            elif not self._lagging_in_a_working_view():
                self.start_view_change(self.view + 1)
        elif ev.timer is Timer.STATUS:
            self.on_status_timer()
            self._set_timer(Timer.STATUS, self.cfg.status_interval_ticks)

    def on_peer_link(self, ev: PeerLinkChanged) -> None:
        """Track which peers the node reports unreachable. Rules:

        - a lost link to the primary of our view, with the request timer running at its
          full length, re-arms it to `request_timeout_ticks` (the suspicion's); a timer
          already armed under suspicion is left alone;
        - a link back clears the suspicion but leaves a running timer alone: the next arm
          uses the full timeout. Re-arming on every change would let a primary whose
          link flaps (or that reconnects on purpose) postpone the view change for ever.

        Why this cannot start a storm: the suspicion only decides when this replica sends
        its own VIEW-CHANGE, and one VIEW-CHANGE moves no one (f+1 make others join); a
        backup whose link alone failed gets the full timeout back when the others' votes
        show the view works (`_view_works_without_us`). The wait for NEW-VIEW keeps the
        full timeout: a NEW-VIEW missed there would leave this replica a view ahead alone.
        """
        if ev.up:
            self.unreachable.discard(ev.peer)
            return
        if ev.peer == self.me or ev.peer in self.unreachable:
            return
        self.unreachable.add(ev.peer)
        if (
            ev.peer == self.cfg.primary(self.view)
            and self.view_active
            and Timer.VIEW_CHANGE in self.timer_tokens
            and not self.suspect_shortfall_ticks  # never re-armed by a flapping link
            and self.request_timeout_ticks() < self.view_change_timeout_ticks()
        ):
            self._arm_request_timer()

    def _arm_request_timer(self) -> None:
        ticks = self.request_timeout_ticks()
        self.suspect_shortfall_ticks = self.view_change_timeout_ticks() - ticks
        self.suspect_mark_height = max(self.slots, default=self.executed_height)
        self._set_timer(Timer.VIEW_CHANGE, ticks)

    def _view_works_without_us(self) -> bool:
        """The suspicion's timer fired, but f+1 peers other than the primary (so one
        honest at least) voted in this view for heights above any our log held when the
        timer was armed: the primary still proposes to them, only our link to it failed.
        Then the full timeout applies, as without the suspicion (and
        `_lagging_in_a_working_view` after it): a flaky link to a live primary costs this
        replica no more than it did before. Votes for heights already in flight when the
        primary died do not count: they are no sign of life."""
        if not self.view_active:
            return False
        primary = self.cfg.primary(self.view)
        voters: set[bytes] = set()
        for h, slot in self.slots.items():
            if h > self.suspect_mark_height and slot.votes_view == self.view:
                voters.update(slot.prepares)
                voters.update(slot.commits)
        voters -= {primary, self.me}
        return len(voters) > self.cfg.f

    # ------------------------------------------------------------------ helpers

    def _outstanding_work(self) -> bool:
        if self.pending or self.filler_due():
            return True
        return any(h > self.executed_height and s.accepted for h, s in self.slots.items())

    def _lagging_in_a_working_view(self) -> bool:
        """The request timer fired, but f+1 peers (so at least one honest) report this very
        view active and blocks executed beyond ours: the primary works and we lag (a
        CPU-starved node, a slow link). Changing view alone would only cut us off from the
        view that works, so fetch the blocks instead and wait one more timeout. Only once
        per executed height: if fetching brings no progress, the view change goes ahead."""
        if not self.view_active or self.vc_deferred_at == self.executed_height:
            return False
        mine = self.executed_height
        members = self.cfg.validators
        ahead = sorted(
            (
                (s.executed_height, p)
                for p, s in self.peer_status.items()
                if p in members
                and s.view == self.view
                and s.view_active
                and s.executed_height > mine
            ),
            reverse=True,
        )
        if len(ahead) <= self.cfg.f:
            return False
        self.vc_deferred_at = self.executed_height
        self.fetch(ahead[self.cfg.f][0], tuple(p for _, p in ahead), retry=True)
        self._set_timer(Timer.VIEW_CHANGE, self.view_change_timeout_ticks())
        return True

    def _arm_view_change_timer(self) -> None:
        """PBFT's request timer: runs while work is outstanding in an active view (shorter
        while the primary is suspected: `request_timeout_ticks`)."""
        if not self.view_active or not self.is_member:
            return
        if not self._outstanding_work():
            self._cancel_timer(Timer.VIEW_CHANGE)
        elif Timer.VIEW_CHANGE not in self.timer_tokens:
            self._arm_request_timer()

    # ------------------------------------------------------------------ normal case

    def buffered_bytes_by_kind(self) -> dict[str, int]:
        """Bytes held in buffers peers fill: early votes, orphans, peers' VIEW-CHANGEs
        with their blocks (our own are our log's, not a peer's)."""
        vcs = sum(
            len(i.signed.body) + len(i.signed.signature)
            for s, i in self.view_changes.items()
            if s != self.me
        )
        vc_blocks = sum(
            b.size_bytes
            for s, bodies in self.vc_bodies.items()
            if s != self.me
            for b in bodies.values()
        )
        return {
            "future": sum(q.size_bytes for q in self.future.values()),
            "orphans": total_bytes(self.orphans.values()),
            "view_changes": vcs + vc_blocks,
        }

    def buffered_bytes(self) -> int:
        return sum(self.buffered_bytes_by_kind().values())

    def status(self) -> ReplicaStatus:
        """The snapshot the node reads (metrics, GetStatus, logs): never private fields."""
        end = self.set_end()
        future = [ev for queue in self.future.values() for ev in queue]
        held = {
            "pending_txs": len(self.pending),
            "pending_bytes": self.pending_bytes,
            "in_log_txs": len(self.in_log),
            "slots": len(self.slots),
            "recent_committed": len(self.recent_committed),
            "future_messages": len(future),
            "future_block_bytes": sum(b.ByteSize() for ev in future for b in ev.blocks),
            "orphans": len(self.orphans),
        }
        return ReplicaStatus(
            view=self.view,
            view_active=self.view_active,
            primary=self.cfg.primary(self.view),
            member=self.is_member,
            validators=self.cfg.validators,
            next_validators=self.cfg_at(end + 1).validators if end else (),
            next_set_from_height=end + 1 if end else 0,
            governance_sequence=self.membership.sequence,
            executed_height=self.executed_height,
            stable_height=self.stable.height,
            fetch_target=self.fetch_target,
            held=held,
            buffered_bytes=self.buffered_bytes_by_kind(),
            fetch_invalid=dict(self.fetch_invalid),
        )

    def is_recently_committed(self, tx_id: bytes) -> bool:
        """A tx among the last `recent_committed_txs_max` committed (the node's checker
        skips pre-verifying those: the core refuses a block repeating them)."""
        return tx_id in self.recent_committed
