"""The state every part of a replica shares, declared in one place.

A `Replica` (replica.py) is one object built from parts, one module per concern:

| part            | module                   | concern                                     |
|-----------------|--------------------------|---------------------------------------------|
| NormalCasePart  | replica_normal_case.py   | PRE-PREPARE, PREPARE, COMMIT; early buffers |
| ProposalsPart   | replica_proposals.py     | pending txs, block cutting by the primary   |
| ExecutionPart   | replica_execution.py     | committed blocks to the executor, in order  |
| CheckpointsPart | replica_checkpoints.py   | CHECKPOINT votes, the stable checkpoint     |
| CatchUpPart     | replica_catchup.py       | heartbeats, retransmission, block fetch     |
| ViewChangePart  | replica_view_change.py   | VIEW-CHANGE, NEW-VIEW, entering a view      |
| MembershipPart  | replica_membership.py    | validator sets by height, the set switch    |
| RecoveryPart    | replica_recovery.py      | rebuilding from persisted state on restart  |

Each part is a `ReplicaState`: `__init__` below names every field, what it holds and which
part writes it ("owner"; others only read it unless noted). The few helpers every part
uses (reject, persist, broadcast, timers, the watermark) live here too. What one part
asks of another is declared at the end as abstract methods, each naming the part that
implements it, so a part's module reads on its own and `Replica` cannot be built with
one missing. Why parts over one state rather than objects passing messages: the protocol's
rules cut across concerns (a checkpoint prunes the log, execution restarts timers), and
PBFT's state is one state; the parts divide the code, not the data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from consensus.actions import Action, Broadcast, CancelTimer, Persist, Reject, SetTimer
from consensus.blocks import BlockInfo
from consensus.buffers import FutureQueue
from consensus.certificates import CheckpointCert, genesis_checkpoint
from consensus.config import ConsensusConfig
from consensus.crypto import Signer, TxChecker, Verifier
from consensus.events import Executed, MessageReceived, Timer
from consensus.log import Slot
from consensus.membership import Membership
from consensus.messages import Signed, sign
from consensus.persisted import Record
from consensus.reasons import Reason
from consensus.view_change import ViewChangeInfo
from protos import consensus_pb2 as pb


class ReplicaState(ABC):
    """One validator's PBFT state for one channel, shared by the parts of `Replica`."""

    def __init__(
        self, cfg: ConsensusConfig, signer: Signer, verifier: Verifier, txs: TxChecker
    ) -> None:
        # Fixed at construction.
        self.signer = signer  # signs our messages
        self.verifier = verifier  # checks signatures inside certificates and proofs
        self.tx_checker = txs  # tx ids, client signatures, governance txs (the node's)
        self.me = signer.public_key
        self.base_cfg = cfg  # the genesis configuration; later sets replace its validators
        # Dispatch (replica.py) and the helpers below.
        self.out: list[Action] = []  # this step's actions, in order; every part appends
        self.started = False  # STATUS timer armed and set entered (replica.py, recovery)
        self.now_ms = 0  # latest event time seen: the clock of block times (replica.py)
        self.vc_deferred_at = -1  # executed height at which a view change was last deferred
        self.rejected: dict[Reason, int] = {}  # refusals by reason, a metric (`reject`)
        self.timer_tokens: dict[Timer, int] = {}  # live timer -> token (`_set_timer`, on_tick)
        self.next_token = 0  # the last token handed out (`_set_timer`)
        # View (owner: view change; membership resets at a set switch, recovery restores).
        self.view = 0  # the view we are in, or changing to when not view_active
        self.view_active = True  # False between our VIEW-CHANGE and entering the view
        self.failed_views = 0  # consecutive views without progress (execution zeroes it)
        self.view_changes: dict[bytes, ViewChangeInfo] = {}  # sender -> its latest checked
        self.vc_bodies: dict[bytes, dict[bytes, BlockInfo]] = {}  # sender -> its blocks
        self.own_vc_blocks: tuple[pb.Block, ...] = ()  # blocks our VIEW-CHANGE carries
        # Our NEW-VIEW as primary of the current view, re-sent to peers behind (and blocks).
        self.new_view_sent: tuple[Signed, tuple[pb.Block, ...]] | None = None
        # Peers whose link the node reports lost (PeerLinkChanged, owner: replica.py): a
        # primary among them is suspected, and the request timer runs shorter.
        self.unreachable: set[bytes] = set()
        # What a running request timer armed under that suspicion fell short of the full
        # timeout by (0 otherwise), and the highest height in our log when it was armed:
        # peers' votes above it prove the view works, and the shortfall is given back.
        self.suspect_shortfall_ticks = 0
        self.suspect_mark_height = 0
        # Log (owner: normal case; checkpoints, execution and view change prune; view
        # change and recovery rebuild; membership drops a former set's early votes).
        self.slots: dict[int, Slot] = {}  # height -> votes and blocks above the stable
        self.future: dict[bytes, FutureQueue] = {}  # peer -> early votes of a later view
        self.orphans: dict[int, MessageReceived] = {}  # height -> pre-prepare awaiting parent
        # Checkpoints (owner: checkpoints; recovery restores, membership filters votes).
        self.stable: CheckpointCert = genesis_checkpoint(cfg)  # the low watermark
        self.checkpoint_votes: dict[int, dict[bytes, Signed]] = {}  # height -> sender -> vote
        # Execution (owner: execution; recovery restores).
        self.executed_height = 0
        self.executed_hash = cfg.genesis_hash
        self.executed_timestamp_ms = 0  # block time of the executed tip; genesis is 0
        self.recent_committed: dict[bytes, None] = {}  # last committed tx ids, oldest first
        # Transactions (owner: proposals; execution removes the committed ones).
        self.pending: dict[bytes, bytes] = {}  # tx id -> tx, in no block of the log
        self.pending_bytes = 0  # their total size
        self.in_log: dict[bytes, int] = {}  # tx id -> height of the accepted block holding it
        self.cut_due = False  # the BLOCK_CUT timer fired: cut even a part-full block
        # Catch-up and heartbeats (owner: catch-up; membership and checkpoints prune).
        self.peer_status: dict[bytes, pb.Status] = {}  # peer -> its last heartbeat
        self.far_ahead: dict[bytes, int] = {}  # peer -> highest vote above our window
        self.fetch_target = 0  # height a running fetch goes up to (0: none yet)
        self.fetch_attempts = 0  # fetches sent: rotates whom we ask first
        self.progress_mark = -1  # executed height at the last heartbeat (stall detection)
        self.heartbeats = 0  # status timer firings: the clock of fetch penalties
        self.fetch_penalties: dict[bytes, int] = {}  # member -> asked last until this heartbeat
        self.fetch_invalid: dict[bytes, int] = {}  # member -> invalid fetch answers (metric)
        # Validator sets (owner: membership; recovery restores `membership`).
        self.membership = Membership.genesis(cfg.validators)  # every set, by first height
        self._cfgs: dict[int, ConsensusConfig] = {1: cfg}  # first height -> config (cache)
        self.cfg = cfg  # the set ordering the heights above the stable checkpoint
        self.is_member = self.me in cfg.validators  # votes in that set (else observes)
        self.joining = False  # became a member at a switch; has not found the view yet
        self.audience: frozenset[bytes] = frozenset(cfg.validators)  # current + next set
        self.end_height: int | None = None  # set_end(), kept by enter_set (hot: watermark)

    # ------------------------------------------------------------------ shared helpers

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

    def set_end(self) -> int | None:
        """E: the last height of the current set when a later one is scheduled, else None.
        Changes only with the stable checkpoint or the membership, which call enter_set."""
        return self.end_height

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

    def request_timeout_ticks(self) -> int:
        """The request timer's wait for progress in the current view: the view-change
        timeout, or primary_suspect_ticks while the node reports the view's primary
        unreachable (a killed process closes its connections at once, so waiting the full
        timeout would only add to the outage). Both double per consecutive failed view:
        a suspicion that keeps being wrong backs off as the timeout does."""
        full = self.view_change_timeout_ticks()
        if self.cfg.primary(self.view) not in self.unreachable:
            return full
        return min(full, self.cfg.primary_suspect_ticks << min(self.failed_views, 30))

    # ------------------------------------------------------------------ what parts ask of
    # each other: each is implemented by the part named in its docstring.

    @abstractmethod
    def _arm_view_change_timer(self) -> None:
        """replica.py: run PBFT's request timer while work is outstanding."""

    @abstractmethod
    def on_pre_prepare(self, ev: MessageReceived) -> None:
        """Normal case: judge and accept the primary's block for (view, height)."""

    @abstractmethod
    def replay_future(self) -> None:
        """Normal case: process the early votes for the view just entered."""

    @abstractmethod
    def parent_time(self, height: int) -> int | None:
        """Normal case: block time of the parent of `height`, where we hold that block."""

    @abstractmethod
    def _accept(self, slot: Slot, info: BlockInfo) -> None:
        """Normal case: take `info` as the block of `slot` in the current view."""

    @abstractmethod
    def _maybe_send_prepare(self, slot: Slot) -> None:
        """Normal case: PREPARE the slot's block once its parent is prepared."""

    @abstractmethod
    def _maybe_propose(self) -> None:
        """Proposals: the primary cuts the blocks that are due."""

    @abstractmethod
    def filler_due(self, height: int | None = None) -> bool:
        """Proposals: empty blocks may be cut to reach a validator-set switch."""

    @abstractmethod
    def _take_from_pending(self, info: BlockInfo) -> None:
        """Proposals: an accepted block's txs move from pending to the log."""

    @abstractmethod
    def _release_to_pending(self, info: BlockInfo) -> None:
        """Proposals: an uncommitted block left the log; its txs are proposable again."""

    @abstractmethod
    def _check_committed(self, slot: Slot) -> None:
        """Execution: execute from the slot on if it is the next height."""

    @abstractmethod
    def _try_execute(self) -> None:
        """Execution: execute committed blocks strictly in height order."""

    @abstractmethod
    def execute(self, info: BlockInfo, commits: tuple[pb.SignedMessage, ...]) -> None:
        """Execution: hand a committed block to the executor."""

    @abstractmethod
    def after_progress(self) -> None:
        """Execution: a block executed; the view works, timers and proposals restart."""

    @abstractmethod
    def on_executed(self, ev: Executed) -> None:
        """Checkpoints: sign a CHECKPOINT at each checkpoint height executed."""

    @abstractmethod
    def adopt_stable(self, cert: CheckpointCert, peers: list[bytes] | tuple[()] = ()) -> None:
        """Checkpoints: make `cert` the stable checkpoint."""

    @abstractmethod
    def fetch(self, target: int, peers: tuple[bytes, ...] = (), retry: bool = False) -> None:
        """Catch-up: fetch committed blocks up to `target`."""

    @abstractmethod
    def note_far_ahead(self, sender: bytes, height: int) -> None:
        """Catch-up: a vote beyond our window; f+1 of them start a fetch."""

    @abstractmethod
    def start_view_change(self, new_view: int) -> None:
        """View change: leave the current view for `new_view`."""

    @abstractmethod
    def send_view_change(self) -> None:
        """View change: broadcast our VIEW-CHANGE for the current view."""

    @abstractmethod
    def arm_new_view_timer(self) -> None:
        """View change: wait for NEW-VIEW once a quorum is changing view with us."""

    @abstractmethod
    def cfg_at(self, height: int) -> ConsensusConfig:
        """Membership: the configuration of the set that orders block `height`."""

    @abstractmethod
    def proof_cfg(self, raws: Sequence[pb.SignedMessage]) -> ConsensusConfig:
        """Membership: the set a checkpoint proof must be signed by."""

    @abstractmethod
    def apply_governance(self, info: BlockInfo) -> tuple[tuple[tuple[int, str], ...], bool]:
        """Membership: judge a block's governance txs; (verdicts, membership changed)."""

    @abstractmethod
    def enter_set(self, restoring: bool = False) -> None:
        """Membership: bring cfg and audience in line with the stable checkpoint."""

    @abstractmethod
    def adopt_members_view(self) -> None:
        """Membership: a validator that just joined takes the view f+1 members report."""
