"""Vote and checkpoint certificates: a quorum (3 of n=4) of matching, signed messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from google.protobuf.message import Message

from consensus.certificates import (
    CheckpointCert,
    VoteCert,
    check_block_cert,
    check_checkpoint_cert,
    check_vote_cert,
)
from consensus.config import ConsensusConfig
from consensus.hashing import sha256
from consensus.messages import sign, vote
from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from sim.crypto import make_signers, make_verifier

CHANNEL = "land-registry"
SIGNERS = make_signers(5)  # validator 4 is not in the channel
CFG = ConsensusConfig(channel=CHANNEL, validators=tuple(s.public_key for s in SIGNERS[:4]))
VERIFIER = make_verifier(SIGNERS)  # knows the outsider's key too: it is refused as a sender
DIGEST = sha256(b"block 7")
BLOCK_HASH, STATE_ROOT = sha256(b"block 16"), sha256(b"state 16")


def signed_raw(by: int, kind: str, payload: Message, channel: str = CHANNEL) -> pb.SignedMessage:
    return sign(SIGNERS[by], channel, kind, payload).to_pb()


def votes(
    senders: Iterable[int],
    kind: str = "prepare",
    view: int = 2,
    height: int = 7,
    digest: bytes = DIGEST,
    channel: str = CHANNEL,
) -> list[pb.SignedMessage]:
    return [signed_raw(s, kind, vote(view, height, digest), channel) for s in senders]


def checkpoints(
    senders: Iterable[int],
    height: int = 16,
    block_hash: bytes = BLOCK_HASH,
    state_root: bytes = STATE_ROOT,
    kind: str = "checkpoint",
    channel: str = CHANNEL,
) -> list[pb.SignedMessage]:
    payload = pb.Checkpoint(height=height, block_hash=block_hash, state_root=state_root)
    return [signed_raw(s, kind, payload, channel) for s in senders]


def forged(raw: pb.SignedMessage) -> pb.SignedMessage:
    return pb.SignedMessage(body=raw.body, signature=bytes(b ^ 0x80 for b in raw.signature))


def signed_by_other(raw: pb.SignedMessage, by: int) -> pb.SignedMessage:
    """The body claims its own sender, but another validator signed it."""
    return pb.SignedMessage(body=raw.body, signature=SIGNERS[by].sign(raw.body))


# ------------------------------------------------------------------ vote certificates


@pytest.mark.parametrize("kind", ["prepare", "commit"])
@pytest.mark.parametrize("senders", [[0, 1, 2], [3, 1, 0], [0, 1, 2, 3]])
def test_quorum_of_matching_votes_is_a_vote_certificate(kind: str, senders: list[int]) -> None:
    raws = votes(senders, kind)
    cert = check_vote_cert(raws, kind, CFG, VERIFIER)
    assert cert == VoteCert(2, 7, DIGEST, tuple(raws))


def test_vote_certificate_below_quorum_is_refused() -> None:
    assert CFG.quorum == 3
    assert check_vote_cert(votes([0, 1]), "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    assert check_vote_cert([], "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_with_more_than_n_votes_is_refused() -> None:
    raws = votes([0, 1, 2, 3]) + votes([0], view=2)
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_counting_a_signer_twice_is_refused() -> None:
    assert check_vote_cert(votes([0, 1, 1]), "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    # Refused even when the distinct signers alone would make a quorum.
    raws = votes([0, 1, 2, 1])
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


@pytest.mark.parametrize(
    "tamper", [forged, lambda raw: signed_by_other(raw, 3)], ids=["flipped", "signed by other"]
)
def test_vote_certificate_with_a_bad_signature_is_refused(
    tamper: Callable[[pb.SignedMessage], pb.SignedMessage],
) -> None:
    raws = votes([0, 1, 2])
    raws[2] = tamper(raws[2])
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    # With a fourth, valid vote the forged one still poisons the whole certificate.
    raws.append(votes([3])[0])
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_a_blocks_commit_certificate_must_be_for_that_very_block() -> None:
    """What the node's startup check asks of the commit certificate stored beside a
    block: commits (not prepares) of a quorum, naming the block's height and digest."""
    raws = votes([0, 1, 2], "commit")
    assert check_block_cert(raws, 7, DIGEST, CFG, VERIFIER) == VoteCert(2, 7, DIGEST, tuple(raws))
    other = check_block_cert(raws, 8, DIGEST, CFG, VERIFIER)
    assert isinstance(other, str) and "height 7" in other
    assert isinstance(check_block_cert(raws, 7, sha256(b"x"), CFG, VERIFIER), str)
    prepares = check_block_cert(votes([0, 1, 2]), 7, DIGEST, CFG, VERIFIER)
    assert isinstance(prepares, str) and "does not verify" in prepares
    short = check_block_cert(raws[:2], 7, DIGEST, CFG, VERIFIER)
    assert isinstance(short, str) and "does not verify" in short


@pytest.mark.parametrize(
    "odd_one",
    [{"digest": sha256(b"other block")}, {"view": 3}, {"height": 8}],
    ids=["digest", "view", "height"],
)
def test_vote_certificate_mixing_votes_is_refused(odd_one: dict[str, object]) -> None:
    raws = votes([0, 1]) + votes([2], **odd_one)  # type: ignore[arg-type]
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    raws = votes([2], **odd_one) + votes([0, 1, 3])  # type: ignore[arg-type]
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_of_the_wrong_kind_is_refused() -> None:
    assert check_vote_cert(votes([0, 1, 2], "commit"), "prepare", CFG, VERIFIER) is (
        Reason.BAD_CERTIFICATE
    )
    assert check_vote_cert(votes([0, 1, 2], "prepare"), "commit", CFG, VERIFIER) is (
        Reason.BAD_CERTIFICATE
    )
    mixed = votes([0, 1], "commit") + votes([2], "prepare")
    assert check_vote_cert(mixed, "commit", CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    pre_prepares = votes([0, 1, 2], "pre_prepare")
    assert check_vote_cert(pre_prepares, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_from_another_channel_is_refused() -> None:
    raws = votes([0, 1]) + votes([2], channel="tax-records")
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_with_a_non_validator_signer_is_refused() -> None:
    raws = votes([0, 1, 4])
    assert VERIFIER.verify(SIGNERS[4].public_key, raws[2].body, raws[2].signature)
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_vote_certificate_with_an_unparsable_vote_is_refused() -> None:
    raws = [*votes([0, 1]), pb.SignedMessage(body=b"\xff\xff", signature=b"")]
    assert check_vote_cert(raws, "prepare", CFG, VERIFIER) is Reason.BAD_CERTIFICATE


# ------------------------------------------------------------------ checkpoint certificates


@pytest.mark.parametrize("senders", [[0, 1, 2], [1, 2, 3], [0, 1, 2, 3]])
def test_quorum_of_matching_checkpoints_is_a_checkpoint_certificate(senders: list[int]) -> None:
    raws = checkpoints(senders)
    cert = check_checkpoint_cert(raws, CFG, VERIFIER)
    assert cert == CheckpointCert(16, BLOCK_HASH, STATE_ROOT, tuple(raws))


def test_checkpoint_certificate_below_quorum_is_refused() -> None:
    assert check_checkpoint_cert(checkpoints([2, 3]), CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_with_more_than_n_messages_is_refused() -> None:
    raws = checkpoints([0, 1, 2, 3, 0])
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_counting_a_signer_twice_is_refused() -> None:
    raws = checkpoints([0, 2, 2])
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_with_a_forged_signature_is_refused() -> None:
    raws = checkpoints([0, 1, 2])
    raws[0] = forged(raws[0])
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    raws[0] = signed_by_other(checkpoints([0])[0], 3)
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


@pytest.mark.parametrize(
    "odd_one",
    [{"state_root": sha256(b"diverged")}, {"block_hash": sha256(b"fork")}, {"height": 24}],
    ids=["state root", "block hash", "height"],
)
def test_checkpoint_certificate_mixing_checkpoints_is_refused(odd_one: dict[str, object]) -> None:
    raws = checkpoints([0, 1]) + checkpoints([2], **odd_one)  # type: ignore[arg-type]
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_of_the_wrong_kind_is_refused() -> None:
    assert check_checkpoint_cert(votes([0, 1, 2]), CFG, VERIFIER) is Reason.BAD_CERTIFICATE
    raws = checkpoints([0, 1]) + votes([2], "commit")
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_from_another_channel_is_refused() -> None:
    raws = checkpoints([0, 1]) + checkpoints([2], channel="tax-records")
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE


def test_checkpoint_certificate_with_a_non_validator_signer_is_refused() -> None:
    raws = checkpoints([0, 1, 4])
    assert check_checkpoint_cert(raws, CFG, VERIFIER) is Reason.BAD_CERTIFICATE
