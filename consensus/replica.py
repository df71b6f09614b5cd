"""The PBFT replica of one channel: state, event dispatch and the normal case (§4.2).

Handlers follow one pattern: check the acceptance rules listed in the docstring, reject
with a Reason otherwise, update state, and append actions to `self.out` in the order the
caller must perform them. Checkpoints and catch-up live in `replica_checkpoints.py`, view
change in `replica_view_change.py`; both are mixins over the state defined here.
"""

from __future__ import annotations

from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    Persist,
    Reject,
    SetTimer,
)
from consensus.block_time import clock_problem, parent_problem
from consensus.blocks import BlockInfo, named_block
from consensus.buffers import FutureQueue, message_bytes, total_bytes
from consensus.certificates import CheckpointCert, genesis_checkpoint
from consensus.config import ConsensusConfig
from consensus.crypto import Signer, TxChecker, Verifier
from consensus.events import (
    BlocksFetched,
    Event,
    Executed,
    MessageReceived,
    Restored,
    Tick,
    Timer,
    TxsReady,
)
from consensus.log import Slot
from consensus.messages import Signed, sign, vote
from consensus.persisted import Record
from consensus.reasons import Reason
from consensus.replica_checkpoints import CheckpointsMixin
from consensus.replica_execution import ExecutionMixin
from consensus.replica_membership import MembershipMixin
from consensus.replica_proposals import ProposalsMixin
from consensus.replica_view_change import ViewChangeMixin
from consensus.status import ReplicaStatus
from consensus.view_change import ViewChangeInfo
from protos import consensus_pb2 as pb

VOTE_KINDS = ("pre_prepare", "prepare", "commit")


class Replica(ProposalsMixin, ExecutionMixin, CheckpointsMixin, ViewChangeMixin, MembershipMixin):
    """One validator's PBFT state machine for one channel: `step(event) -> list[Action]`.

    `cfg` holds the genesis validator set; governance may change it (membership.py). A
    signer outside the current set runs as an observer until a set includes it."""

    def __init__(
        self, cfg: ConsensusConfig, signer: Signer, verifier: Verifier, txs: TxChecker
    ) -> None:
        self.signer = signer
        self.verifier = verifier
        self.tx_checker = txs
        self.me = signer.public_key
        self.out: list[Action] = []
        self.started = False
        self.now_ms = 0
        # View state.
        self.view = 0
        self.view_active = True
        self.failed_views = 0
        self.view_changes: dict[bytes, ViewChangeInfo] = {}
        self.new_view_sent: tuple[Signed, tuple[pb.Block, ...]] | None = None
        self.vc_bodies: dict[bytes, dict[bytes, BlockInfo]] = {}
        self.own_vc_blocks: tuple[pb.Block, ...] = ()
        # Log, checkpoints, execution.
        self.slots: dict[int, Slot] = {}
        self.stable: CheckpointCert = genesis_checkpoint(cfg)
        self.checkpoint_votes: dict[int, dict[bytes, Signed]] = {}
        self.executed_height = 0
        self.executed_hash = cfg.genesis_hash
        self.executed_timestamp_ms = 0  # block time of the executed tip; genesis is 0
        # Transactions: pending = not in any block of the log; in_log = tx id -> height.
        self.pending: dict[bytes, bytes] = {}
        self.pending_bytes = 0
        self.in_log: dict[bytes, int] = {}
        self.recent_committed: dict[bytes, None] = {}
        self.cut_due = False
        # Buffers for messages that arrived early, bounded per peer / by the window.
        self.future: dict[bytes, FutureQueue] = {}
        self.orphans: dict[int, MessageReceived] = {}
        # Timers and catch-up.
        self.timer_tokens: dict[Timer, int] = {}
        self.next_token = 0
        self.peer_status: dict[bytes, pb.Status] = {}
        self.far_ahead: dict[bytes, int] = {}
        self.fetch_target = 0
        self.vc_deferred_at = -1  # executed height at which a view change was last deferred
        self.fetch_attempts = 0
        self.progress_mark = -1
        self.heartbeats = 0  # status timer firings: the clock of fetch penalties
        # Member -> heartbeat until which it is asked last; kept (as a taint) until it
        # answers a fetch well again. And member -> invalid fetch answers (a metric).
        self.fetch_penalties: dict[bytes, int] = {}
        self.fetch_invalid: dict[bytes, int] = {}
        # Counters the node exports; the simulator checks bounds on them.
        self.rejected: dict[Reason, int] = {}
        self.init_membership(cfg)

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
            if not self._lagging_in_a_working_view():
                self.start_view_change(self.view + 1)
        elif ev.timer is Timer.STATUS:
            self.on_status_timer()
            self._set_timer(Timer.STATUS, self.cfg.status_interval_ticks)

    # ------------------------------------------------------------------ helpers

    def reject(self, sender: bytes, what: str, reason: Reason, detail: str = "") -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.out.append(Reject(sender, what, reason, detail))

    def persist(self, *records: Record) -> None:
        self.out.append(Persist(tuple(records)))

    def broadcast(self, kind: str, payload: object, blocks: tuple[pb.Block, ...] = ()) -> Signed:
        signed = sign(self.signer, self.cfg.channel, kind, payload)  # type: ignore[arg-type]
        self.out.append(Broadcast(signed, blocks))
        return signed

    def _set_timer(self, timer: Timer, ticks: int) -> None:
        self.next_token += 1
        self.timer_tokens[timer] = self.next_token
        self.out.append(SetTimer(timer, ticks, self.next_token))

    def _cancel_timer(self, timer: Timer) -> None:
        if self.timer_tokens.pop(timer, None) is not None:
            self.out.append(CancelTimer(timer))

    @property
    def is_primary(self) -> bool:
        return self.cfg.primary(self.view) == self.me

    @property
    def high_watermark(self) -> int:
        """The top of the log window: log_window_blocks above the stable checkpoint, but
        never above what this replica knows the validator set of (a governance tx changes
        the set one window after its block: we know up to executed + window), and never
        past the end of the current set, so the window never spans two sets."""
        top = min(self.stable.height, self.executed_height) + self.cfg.log_window_blocks
        end = self.set_end()
        return top if end is None else min(top, end)

    def slot(self, height: int) -> Slot:
        slot = self.slots.get(height)
        if slot is None:
            slot = self.slots[height] = Slot(height)
        return slot

    def view_change_timeout_ticks(self) -> int:
        ticks = self.cfg.view_change_timeout_ticks << min(self.failed_views, 30)
        return min(ticks, self.cfg.view_change_timeout_max_ticks)

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
        """PBFT's request timer: runs while work is outstanding in an active view."""
        if not self.view_active or not self.is_member:
            return
        if not self._outstanding_work():
            self._cancel_timer(Timer.VIEW_CHANGE)
        elif Timer.VIEW_CHANGE not in self.timer_tokens:
            self._set_timer(Timer.VIEW_CHANGE, self.view_change_timeout_ticks())

    # ------------------------------------------------------------------ normal case

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
