"""The message log: one Slot per height between the low and high watermark."""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.blocks import BlockInfo
from consensus.messages import Signed
from consensus.persisted import SlotRecord
from protos import consensus_pb2 as pb


@dataclass
class Slot:
    """Consensus state of one height.

    `accepted` is the pre-prepare this replica accepted in `accepted_view` (it sent PREPARE
    for it, or will once its parent is prepared); `prepared` is its highest-view prepared
    certificate, which survives view changes. Votes are kept for the current view only.
    """

    height: int
    accepted_view: int = -1
    accepted: BlockInfo | None = None
    pre_prepare: Signed | None = None  # ours, when we are the primary (for retransmission)
    prepare_sent: bool = False
    commit_sent: bool = False
    prepared_view: int = -1
    prepared: BlockInfo | None = None
    prepared_votes: tuple[pb.SignedMessage, ...] = ()
    votes_view: int = -1
    prepares: dict[bytes, Signed] = field(default_factory=dict)
    commits: dict[bytes, Signed] = field(default_factory=dict)
    executed_digest: bytes | None = None

    def votes_for_view(self, view: int) -> None:
        """Forget votes of other views: only current-view votes count toward a quorum."""
        if self.votes_view != view:
            self.votes_view = view
            self.prepares = {}
            self.commits = {}
            self.prepare_sent = False
            self.commit_sent = False
            self.pre_prepare = None

    def count(self, votes: dict[bytes, Signed], digest: bytes) -> int:
        return sum(1 for s in votes.values() if s.payload.digest == digest)

    def matching(self, votes: dict[bytes, Signed], digest: bytes) -> tuple[pb.SignedMessage, ...]:
        return tuple(s.to_pb() for s in votes.values() if s.payload.digest == digest)

    def block_for(self, digest: bytes) -> BlockInfo | None:
        for info in (self.accepted, self.prepared):
            if info is not None and info.digest == digest:
                return info
        return None

    def record(self) -> SlotRecord:
        return SlotRecord(
            self.height,
            self.accepted_view,
            self.accepted.block if self.accepted else None,
            self.prepared_view,
            self.prepared.block if self.prepared else None,
            self.prepared_votes,
        )
