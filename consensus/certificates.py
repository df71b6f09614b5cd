"""Certificates: a quorum of matching signed messages from distinct validators.

Three kinds exist. A prepared certificate (quorum PREPAREs for one view, height, digest)
proves a block may have committed and must survive a view change. A commit certificate
(quorum COMMITs, same view) proves a block final; it is stored beside the block so anyone
who knows the validator set can verify the block alone. A checkpoint certificate (quorum
CHECKPOINTs with equal height, block hash and state root) makes a checkpoint stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus.config import ConsensusConfig
from consensus.crypto import Verifier
from consensus.messages import Signed, open_nested
from consensus.reasons import Reason
from protos import consensus_pb2 as pb


@dataclass(frozen=True, slots=True)
class VoteCert:
    """A checked prepared or commit certificate."""

    view: int
    height: int
    digest: bytes
    votes: tuple[pb.SignedMessage, ...]


@dataclass(frozen=True, slots=True)
class CheckpointCert:
    """A stable checkpoint; height 0 with no proof is the channel's genesis."""

    height: int
    block_hash: bytes
    state_root: bytes
    proof: tuple[pb.SignedMessage, ...]


def _open_quorum(
    raws: Sequence[pb.SignedMessage], kind: str, cfg: ConsensusConfig, verifier: Verifier
) -> list[Signed] | Reason:
    """Open and check each vote. Callers keep the votes rebuilt from what was checked
    (`Signed.to_pb`), never the wrappers as received: a `SignedMessage` is not signed
    itself, and unknown fields a peer appended would be stored, served, and carried into
    our own signed VIEW-CHANGE, making it non-canonical for every peer."""
    if not cfg.quorum <= len(raws) <= cfg.n:
        return Reason.BAD_CERTIFICATE
    opened: list[Signed] = []
    senders: set[bytes] = set()
    for raw in raws:
        signed = open_nested(raw, cfg, verifier)
        if isinstance(signed, Reason):
            return Reason.BAD_CERTIFICATE
        if signed.kind != kind or signed.sender in senders:
            return Reason.BAD_CERTIFICATE
        senders.add(signed.sender)
        opened.append(signed)
    return opened


def check_vote_cert(
    raws: Sequence[pb.SignedMessage], kind: str, cfg: ConsensusConfig, verifier: Verifier
) -> VoteCert | Reason:
    """A quorum of `kind` ("prepare" or "commit") votes that all name one (view, height, digest)."""
    opened = _open_quorum(raws, kind, cfg, verifier)
    if isinstance(opened, Reason):
        return opened
    first = opened[0].payload
    key = (first.view, first.height, first.digest)
    for signed in opened[1:]:
        v = signed.payload
        if (v.view, v.height, v.digest) != key:
            return Reason.BAD_CERTIFICATE
    return VoteCert(first.view, first.height, first.digest, tuple(s.to_pb() for s in opened))


def check_checkpoint_cert(
    raws: Sequence[pb.SignedMessage], cfg: ConsensusConfig, verifier: Verifier
) -> CheckpointCert | Reason:
    opened = _open_quorum(raws, "checkpoint", cfg, verifier)
    if isinstance(opened, Reason):
        return opened
    first = opened[0].payload
    key = (first.height, first.block_hash, first.state_root)
    for signed in opened[1:]:
        c = signed.payload
        if (c.height, c.block_hash, c.state_root) != key:
            return Reason.BAD_CERTIFICATE
    proof = tuple(s.to_pb() for s in opened)
    return CheckpointCert(first.height, first.block_hash, first.state_root, proof)


def genesis_checkpoint(cfg: ConsensusConfig) -> CheckpointCert:
    return CheckpointCert(0, cfg.genesis_hash, b"", ())


def check_block_cert(
    commits: Sequence[pb.SignedMessage],
    height: int,
    digest: bytes,
    cfg: ConsensusConfig,
    verifier: Verifier,
) -> VoteCert | str:
    """The commit certificate stored beside a block: a quorum of COMMITs of `cfg`'s set
    for this very block (its height and digest), else what is wrong, for an operator."""
    cert = check_vote_cert(commits, "commit", cfg, verifier)
    if isinstance(cert, Reason):
        return f"commit certificate does not verify ({cert.value})"
    if cert.height != height or cert.digest != digest:
        return f"commit certificate is for height {cert.height} digest {cert.digest.hex()}"
    return cert
