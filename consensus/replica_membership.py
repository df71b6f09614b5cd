"""Validator sets in the replica: which set judges which height, and the switch between sets.

A part of `Replica` over the state declared in `replica_state.py`; the rules a governance
tx must meet are in `membership.py`. `self.cfg` is always the configuration of the set
that orders the heights above the stable checkpoint (the log window never spans two
sets). A replica outside that set is an observer: it votes for nothing, and follows the
chain by block sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from consensus.blocks import BlockInfo
from consensus.config import ConsensusConfig
from consensus.events import Timer
from consensus.membership import decide
from consensus.persisted import ViewRecord
from consensus.replica_state import ReplicaState
from protos import consensus_pb2 as pb


class MembershipPart(ReplicaState):
    """Which set orders which height; governance; switching to the next set."""

    def cfg_at(self, height: int) -> ConsensusConfig:
        """The configuration of the set that orders block `height`."""
        epoch = self.membership.at(height)
        cfg = self._cfgs.get(epoch.first_height)
        if cfg is None or cfg.validators != epoch.validators:
            cfg = replace(self.base_cfg, validators=epoch.validators)
            self._cfgs[epoch.first_height] = cfg
        return cfg

    def proof_cfg(self, raws: Sequence[pb.SignedMessage]) -> ConsensusConfig:
        """A checkpoint proof is signed by the set of its height: read the height first."""
        msg = pb.ConsensusMessage()
        if raws:
            try:
                msg.ParseFromString(raws[0].body)
            except Exception:  # a malformed proof fails its check with any set
                return self.cfg
            if msg.WhichOneof("kind") == "checkpoint":
                return self.cfg_at(msg.checkpoint.height)
        return self.cfg

    # ------------------------------------------------------------------ governance

    def apply_governance(self, info: BlockInfo) -> tuple[tuple[tuple[int, str], ...], bool]:
        """Judge the governance txs of a block being executed, in order; return the
        verdicts and whether the membership changed."""
        verdicts: list[tuple[int, str]] = []
        changed = False
        for i, tx in enumerate(info.txs):
            gtx = self.tx_checker.governance(tx)
            if gtx is None:
                continue
            new, why = decide(self.membership, gtx, info.height, self.base_cfg, self.verifier)
            verdicts.append((i, why))
            if not why:
                self.membership = new
                changed = True
        if changed:
            self.enter_set()
        return tuple(verdicts), changed

    # ------------------------------------------------------------------ switching

    def enter_set(self, restoring: bool = False) -> None:
        """Bring `cfg`, membership and audience in line with the stable checkpoint: called
        when it moves, when governance schedules a set, and on restart."""
        cfg = self.cfg_at(self.stable.height + 1)
        end = self.end_height = self.membership.last_height_of(self.stable.height + 1)
        audience = set(cfg.validators)
        if end is not None:
            audience.update(self.cfg_at(end + 1).validators)
        self.audience = frozenset(audience)
        if cfg.validators == self.cfg.validators:
            self.cfg = cfg
            return
        was_member = self.is_member
        self.cfg = cfg
        self.is_member = self.me in cfg.validators
        if restoring:
            return
        # Nothing of the previous set's log survives the stable checkpoint at its end;
        # its view changes and early votes are of no use to the new set.
        members = set(cfg.validators)
        self.view_changes, self.vc_bodies = {}, {}
        self.far_ahead = {}
        self.future = {s: q for s, q in self.future.items() if s in members}
        for h, votes in self.checkpoint_votes.items():
            keep = set(self.cfg_at(h).validators)
            for s in [s for s in votes if s not in keep]:
                del votes[s]
        # A new member, or one still waiting for a NEW-VIEW (whose sender may not even be
        # the new set's primary of that view, so it may never come), takes the view f+1
        # members report active: the new set's log is empty, so no NEW-VIEW is needed.
        if self.is_member and (not was_member or not self.view_active):
            self.joining = True
        self.peer_status = {p: s for p, s in self.peer_status.items() if p in self.audience}
        if self.is_member and not self.view_active:
            self.send_view_change()  # again, from the new stable checkpoint
            self.arm_new_view_timer()
        # In an active view the caller goes on: `_check_stable` proposes in the new set,
        # `enter_view` installs its re-proposals first.

    def adopt_members_view(self) -> None:
        """A validator that has just joined takes the view f+1 members report active (so an
        honest one works in it). It needs no NEW-VIEW: the new set's log starts empty."""
        if not self.joining:
            return
        views: dict[int, int] = {}
        for peer, st in self.peer_status.items():
            if peer in self.cfg.validators and peer != self.me and st.view_active:
                views[st.view] = views.get(st.view, 0) + 1
        found = [v for v, count in views.items() if count > self.cfg.f and v >= self.view]
        if not found:
            return
        self.joining = False
        view = max(found)
        if (view, True) != (self.view, self.view_active):
            self.view, self.view_active = view, True
            self.new_view_sent = None
            self._cancel_timer(Timer.VIEW_CHANGE)
            self.persist(ViewRecord(view, True))
            self.replay_future()
            self._maybe_propose()
