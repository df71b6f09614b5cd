"""A channel's validator sets, replayed from genesis through its certified governance blocks.

Who needs it: whoever checks a certificate of a height it did not execute itself. The
offline archive check (client/archive_verify.py) walks every block; a joining node
(node/state_sync.py) gets only the blocks that hold governance txs, with the snapshot.
Both replay the sets exactly as the core does (`consensus.membership.decide` on each
committed governance tx, effective after the switch height), starting from the genesis
set, and check each block's commit certificate against the set that ordered its height
(`consensus.certificates.check_block_cert`, the core's own check).
"""

from __future__ import annotations

from dataclasses import replace

from chains.governance import read_governance
from client.evidence_verify import _certificate_problem
from consensus.certificates import check_block_cert
from consensus.config import ConsensusConfig
from consensus.membership import Membership, decide
from crypto import Suite
from protos import consensus_pb2 as pb


class SetReplay:
    def __init__(self, cfg: ConsensusConfig, suite: Suite, chain_id: str) -> None:
        self.cfg, self.suite, self.chain_id = cfg, suite, chain_id
        self.membership = Membership.genesis(cfg.validators)

    def config_at(self, height: int) -> ConsensusConfig:
        """The channel's config with the validator set that ordered `height`."""
        return replace(self.cfg, validators=self.membership.at(height).validators)

    def certificate_problem(
        self, certified: pb.CertifiedBlock, height: int, digest: bytes
    ) -> str | None:
        """Why the block's commit certificate is not a quorum of that height's set (None
        if it is)."""
        cfg = self.config_at(height)
        cert = check_block_cert(certified.commits, height, digest, cfg, self.suite)
        if not isinstance(cert, str):
            return None
        why = _certificate_problem(list(certified.commits), cfg, height, digest, self.suite)
        return why or cert

    def apply(self, certified: pb.CertifiedBlock, height: int) -> None:
        """The block's governance txs, in order: they change the sets of later heights."""
        for raw in certified.block.txs:
            gtx = read_governance(raw, self.chain_id, self.cfg.channel, self.cfg.tx_bytes_max)
            if gtx is not None:
                self.membership, _ = decide(self.membership, gtx, height, self.cfg, self.suite)
