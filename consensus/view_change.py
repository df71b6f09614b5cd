"""View change as pure functions: build and check VIEW-CHANGE, choose NEW-VIEW's blocks.

PBFT (OSDI'99 §4.4) re-proposes, for every sequence number between the latest stable
checkpoint and the highest prepared one, the request prepared in the highest view.
Chained blocks sharpen that rule. A replica sends PREPARE for height h+1 only once it has
prepared (or executed) height h in the same view with the block h+1 names as parent, so
a committed block's ancestors are prepared by f+1 honest replicas in its view, and every
later view re-proposes that whole chain. Walking up from the stable checkpoint, the
highest-view certificate at each height therefore links to the one below it at every
height up to the last one that can have committed. The first certificate that does not
link proves nothing above it committed; the re-proposed chain stops there and the new
primary proposes fresh blocks from that height on, so no hole ever needs a null block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from consensus.blocks import BlockInfo
from consensus.certificates import (
    CheckpointCert,
    VoteCert,
    check_checkpoint_cert,
    check_vote_cert,
    genesis_checkpoint,
)
from consensus.config import ConsensusConfig
from consensus.crypto import Verifier
from consensus.messages import Signed
from consensus.reasons import Reason
from protos import consensus_pb2 as pb


@dataclass(frozen=True, slots=True)
class ViewChangeInfo:
    """A checked VIEW-CHANGE."""

    signed: Signed
    new_view: int
    checkpoint: CheckpointCert
    prepared: Mapping[int, VoteCert]


def build_view_change(
    new_view: int, checkpoint: CheckpointCert, prepared: Iterable[VoteCert]
) -> pb.ViewChange:
    return pb.ViewChange(
        new_view=new_view,
        stable_height=checkpoint.height,
        checkpoint_proof=list(checkpoint.proof),
        prepared=[pb.PreparedCertificate(prepares=list(p.votes)) for p in prepared],
    )


def check_view_change(
    signed: Signed,
    cfg: ConsensusConfig,
    verifier: Verifier,
    cfg_at: Callable[[int], ConsensusConfig] | None = None,
    floor_height: int = 0,
) -> ViewChangeInfo | Reason:
    """Acceptance rules for a VIEW-CHANGE (its outer signature is already checked):

    - new_view >= 1; stable_height >= floor_height (the last height of the previous
      validator set: a replica still in that set's window must catch up first);
    - the checkpoint proof is a valid quorum at stable_height (none at 0) of the set of
      that height (`cfg_at`; the checkpoint that starts a set is signed by the one before);
    - at most log_window_blocks prepared certificates, at distinct heights in
      (stable_height, stable_height + log_window_blocks], each a valid quorum of PREPAREs
      from a view below new_view.
    """
    vc = signed.payload
    if vc.new_view < 1 or vc.stable_height < floor_height:
        return Reason.BAD_VIEW_CHANGE
    if vc.stable_height == 0:
        if vc.checkpoint_proof:
            return Reason.BAD_VIEW_CHANGE
        checkpoint = genesis_checkpoint(cfg)
    else:
        proof_cfg = cfg if cfg_at is None else cfg_at(vc.stable_height)
        cert = check_checkpoint_cert(vc.checkpoint_proof, proof_cfg, verifier)
        if isinstance(cert, Reason) or cert.height != vc.stable_height:
            return Reason.BAD_VIEW_CHANGE
        checkpoint = cert
    if len(vc.prepared) > cfg.log_window_blocks:
        return Reason.BAD_VIEW_CHANGE
    prepared: dict[int, VoteCert] = {}
    top = checkpoint.height + cfg.log_window_blocks
    for pc in vc.prepared:
        vote = check_vote_cert(pc.prepares, "prepare", cfg, verifier)
        if isinstance(vote, Reason):
            return Reason.BAD_VIEW_CHANGE
        if vote.view >= vc.new_view or not checkpoint.height < vote.height <= top:
            return Reason.BAD_VIEW_CHANGE
        if vote.height in prepared:
            return Reason.BAD_VIEW_CHANGE
        prepared[vote.height] = vote  # a checked prepared certificate
    return ViewChangeInfo(signed, vc.new_view, checkpoint, prepared)


@dataclass(frozen=True, slots=True)
class Selection:
    """What a NEW-VIEW must re-propose: a chain starting right above `checkpoint`."""

    checkpoint: CheckpointCert
    chain: tuple[BlockInfo, ...]
    breaker: BlockInfo | None = None  # first highest-view block that did not link

    @property
    def examined(self) -> tuple[BlockInfo, ...]:
        """Blocks a NEW-VIEW must attach so replicas can redo the selection."""
        return self.chain + ((self.breaker,) if self.breaker is not None else ())

    @property
    def tip(self) -> tuple[int, bytes]:
        if self.chain:
            return self.chain[-1].height, self.chain[-1].digest
        return self.checkpoint.height, self.checkpoint.block_hash


def select_reproposals(
    infos: Iterable[ViewChangeInfo], blocks: Mapping[bytes, BlockInfo]
) -> Selection | Reason:
    """The deterministic NEW-VIEW content for a set of checked VIEW-CHANGEs.

    Blocks are looked up by digest in `blocks`; a missing body of a chosen certificate
    makes the selection impossible (an honest sender always attaches them).
    """
    infos = list(infos)
    checkpoint = max(infos, key=lambda i: (i.checkpoint.height, i.checkpoint.block_hash)).checkpoint
    best: dict[int, VoteCert] = {}
    for info in infos:
        for h, entry in info.prepared.items():
            if h > checkpoint.height and (h not in best or entry.view > best[h].view):
                best[h] = entry
    chain: list[BlockInfo] = []
    parent = checkpoint.block_hash
    height = checkpoint.height + 1
    while height in best:
        entry = best[height]
        block = blocks.get(entry.digest)
        if block is None:
            return Reason.BAD_NEW_VIEW
        if block.parent != parent or block.height != height:
            return Selection(checkpoint, tuple(chain), block)
        chain.append(block)
        parent = block.digest
        height += 1
    return Selection(checkpoint, tuple(chain))
