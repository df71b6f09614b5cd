"""Checkpoints (§4.3): CHECKPOINT votes and the stable checkpoint they make.

A part of `Replica` over the state declared in `replica_state.py`. A stable checkpoint is
the log's low watermark: adopting one prunes the log below it and, if this replica has
not executed that far, starts a fetch of the blocks up to it (`replica_catchup.py`).
"""

from __future__ import annotations

from consensus.certificates import CheckpointCert
from consensus.events import Executed
from consensus.messages import Signed
from consensus.persisted import CheckpointRecord, PruneRecord
from consensus.reasons import Reason
from consensus.replica_state import ReplicaState
from protos import consensus_pb2 as pb


class CheckpointsPart(ReplicaState):
    """Sign, collect and adopt checkpoints."""

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
