"""consensus/membership.py: validator sets by height and the governance rules that change
them (pure functions; real Ed25519 approvals)."""

from __future__ import annotations

import hashlib

import pytest

from consensus.config import ConsensusConfig, quorum_of
from consensus.crypto import Ed25519Signer, Ed25519Verifier
from consensus.membership import (
    KIND_VALIDATORS,
    KIND_WRITE_POLICY,
    VALIDATORS_MAX,
    Epoch,
    GovernanceTx,
    Membership,
    approval_bytes,
    decide,
    switch_height,
)
from protos import consensus_pb2 as pb

SIGNERS = [Ed25519Signer(hashlib.sha256(b"member-%d" % i).digest()) for i in range(8)]
KEYS = [s.public_key for s in SIGNERS]
VERIFIER = Ed25519Verifier()


def config(n: int = 4, **overrides: int) -> ConsensusConfig:
    limits = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, **overrides}
    return ConsensusConfig(channel="license", validators=tuple(KEYS[:n]), **limits)


def proposal(sequence: int = 0, channel: str = "license", **change: object) -> bytes:
    msg = pb.GovernanceProposal(chain_id="test", channel=channel, sequence=sequence, **change)
    return msg.SerializeToString(deterministic=True)


def add(i: int, sequence: int = 0, address: str = "") -> bytes:
    va = pb.ValidatorAdd(public_key=KEYS[i], address=address or f"node{i}:7000")
    return proposal(sequence, add_validator=va)


def remove(i: int, sequence: int = 0) -> bytes:
    return proposal(sequence, remove_validator=KEYS[i])


def approved(raw: bytes, approvers: list[int], kind: str = KIND_VALIDATORS) -> GovernanceTx:
    data = approval_bytes(raw)
    return GovernanceTx(kind, raw, tuple((KEYS[i], SIGNERS[i].sign(data)) for i in approvers))


GENESIS = Membership.genesis(KEYS[:4])


def refused(gtx: GovernanceTx, membership: Membership = GENESIS, height: int = 5) -> str:
    new, why = decide(membership, gtx, height, config(), VERIFIER)
    assert new is membership, "a refused proposal must change nothing"
    assert why
    return why


# ------------------------------------------------------------------ switch height


@pytest.mark.parametrize(
    ("committed_at", "interval", "window", "expected"),
    [
        (1, 4, 8, 12),
        (4, 4, 8, 12),
        (5, 4, 8, 16),
        (12, 4, 8, 20),
        (1, 8, 16, 24),
        (8, 8, 16, 24),
        (9, 8, 16, 32),
        (3, 2, 6, 10),
    ],
)
def test_switch_height_is_the_first_checkpoint_a_window_past_the_block(
    committed_at: int, interval: int, window: int, expected: int
) -> None:
    cfg = config(checkpoint_interval_blocks=interval, log_window_blocks=window)
    e = switch_height(committed_at, cfg)
    assert e == expected
    assert e % interval == 0 and e >= committed_at + window > e - interval


# ------------------------------------------------------------------ Membership


def test_genesis_set_orders_every_height() -> None:
    m = Membership.genesis(KEYS[:4])
    assert m.sequence == 0
    assert m.epochs == (Epoch(1, tuple(KEYS[:4]), ("",) * 4),)
    for h in (0, 1, 100):
        assert m.at(h).validators == tuple(KEYS[:4])
    assert m.last_height_of(1) is None


def test_at_and_last_height_of_follow_the_epochs() -> None:
    m = Membership(
        (
            Epoch(1, tuple(KEYS[:4]), ("",) * 4),
            Epoch(13, tuple(KEYS[:5]), ("", "", "", "", "n4:1")),
            Epoch(21, tuple(KEYS[1:5]), ("", "", "", "n4:1")),
        ),
        sequence=2,
    )
    assert [m.at(h).first_height for h in (1, 12, 13, 20, 21, 99)] == [1, 1, 13, 13, 21, 21]
    assert [m.last_height_of(h) for h in (1, 12, 13, 20, 21)] == [12, 12, 20, 20, None]


def test_address_of_is_the_latest_announced_one() -> None:
    m = Membership(
        (
            Epoch(1, tuple(KEYS[:4]), ("",) * 4),
            Epoch(13, tuple(KEYS[:5]), ("", "", "", "", "old:1")),
            Epoch(21, tuple(KEYS[:4]), ("",) * 4),
            Epoch(29, tuple(KEYS[:5]), ("", "", "", "", "new:2")),
        ),
        sequence=3,
    )
    assert m.address_of(KEYS[4]) == "new:2"
    assert m.address_of(KEYS[0]) == ""
    assert m.address_of(KEYS[7]) == ""
    older = Membership(m.epochs[:3], 2)
    assert older.address_of(KEYS[4]) == "old:1"  # still known after its removal


def test_membership_round_trips_through_its_protobuf() -> None:
    m = Membership(
        (Epoch(1, tuple(KEYS[:4]), ("",) * 4), Epoch(17, tuple(KEYS[1:6]), ("a:1",) * 5)), 7
    )
    wire = m.to_pb().SerializeToString(deterministic=True)
    back = Membership.from_pb(pb.MembershipState.FromString(wire))
    assert back == m
    assert Membership.from_pb(GENESIS.to_pb()) == GENESIS


@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (7, 5)])
def test_quorum_of(n: int, quorum: int) -> None:
    assert quorum_of(n) == quorum
    assert config(n).quorum == quorum


# ------------------------------------------------------------------ decide: accepted


def test_accepted_add_schedules_a_set_after_the_switch_height() -> None:
    new, why = decide(GENESIS, approved(add(4), [0, 1, 2]), 5, config(), VERIFIER)
    assert why == ""
    assert new.sequence == 1
    assert new.epochs[0] == GENESIS.epochs[0]
    assert new.epochs[1] == Epoch(17, tuple(KEYS[:5]), ("", "", "", "", "node4:7000"))
    assert new.last_height_of(5) == 16 == switch_height(5, config())
    assert new.at(16).validators == tuple(KEYS[:4])
    assert new.at(17).validators == tuple(KEYS[:5])


def test_accepted_remove_keeps_the_order_of_the_others() -> None:
    new, why = decide(GENESIS, approved(remove(1), [0, 2, 3]), 12, config(), VERIFIER)
    assert why == ""
    assert new.epochs[-1].validators == (KEYS[0], KEYS[2], KEYS[3])
    assert new.epochs[-1].first_height == 21


def test_write_policy_only_bumps_the_sequence_even_with_a_change_pending() -> None:
    pending, _ = decide(GENESIS, approved(add(4), [0, 1, 2]), 5, config(), VERIFIER)
    raw = proposal(1, write_policy=b'{"writers": []}')
    new, why = decide(pending, approved(raw, [1, 2, 3], KIND_WRITE_POLICY), 6, config(), VERIFIER)
    assert why == ""
    assert new.epochs == pending.epochs and new.sequence == 2


@pytest.mark.parametrize("n", [1, 4, 5, 7])
def test_exactly_a_quorum_of_the_set_at_the_height_approves(n: int) -> None:
    m = Membership.genesis(KEYS[:n])
    q = quorum_of(n)
    new, why = decide(m, approved(add(7), list(range(q))), 3, config(n), VERIFIER)
    assert why == "" and new.epochs[-1].validators == (*KEYS[:n], KEYS[7])
    if q > 1:
        short, why = decide(m, approved(add(7), list(range(q - 1))), 3, config(n), VERIFIER)
        assert short is m and f"{q - 1} approvals, {q} of {n} validators needed" in why


def test_approvals_are_judged_by_the_set_of_the_block_height() -> None:
    grown, _ = decide(GENESIS, approved(add(4), [0, 1, 2]), 5, config(), VERIFIER)
    raw = remove(0, sequence=1)
    # Before the switch (block 16) node 4 is not a validator yet; from block 17 it is and
    # 5 validators need 4 approvals.
    assert "not a validator at this height" in refused(approved(raw, [1, 2, 4]), grown, 16)
    assert "3 approvals, 4 of 5" in refused(approved(raw, [1, 2, 3]), grown, 17)
    new, why = decide(grown, approved(raw, [1, 2, 3, 4]), 17, config(), VERIFIER)
    assert why == "" and new.epochs[-1].validators == tuple(KEYS[1:5])


# ------------------------------------------------------------------ decide: refused


def test_refused_for_a_problem_the_node_found() -> None:
    gtx = approved(add(4), [0, 1, 2])
    gtx = GovernanceTx(gtx.kind, gtx.proposal, gtx.approvals, problem="another chain id")
    assert refused(gtx) == "another chain id"


def test_refused_when_expired() -> None:
    gtx = approved(add(4), [0, 1, 2])
    assert "expired" in refused(GovernanceTx(gtx.kind, gtx.proposal, gtx.approvals, 4), height=5)
    ok = GovernanceTx(gtx.kind, gtx.proposal, gtx.approvals, 5)
    assert decide(GENESIS, ok, 5, config(), VERIFIER)[1] == ""


def test_refused_when_the_proposal_does_not_parse() -> None:
    assert refused(approved(b"\xff\xff\xff", [0, 1, 2])) == "the proposal does not parse"


def test_refused_for_another_channel() -> None:
    va = pb.ValidatorAdd(public_key=KEYS[4], address="n:1")
    raw = proposal(channel="catalog", add_validator=va)
    assert "channel 'catalog'" in refused(approved(raw, [0, 1, 2]))


def test_refused_when_the_change_does_not_match_the_tx_kind() -> None:
    assert "does not match" in refused(approved(add(4), [0, 1, 2], KIND_WRITE_POLICY))
    policy = proposal(write_policy=b"{}")
    assert "does not match" in refused(approved(policy, [0, 1, 2], KIND_VALIDATORS))
    assert "does not match" in refused(approved(proposal(), [0, 1, 2]))  # no change at all


def test_refused_for_a_wrong_sequence_and_on_replay() -> None:
    assert "governance sequence 1; the channel is at 0" in refused(
        approved(add(4, sequence=1), [0, 1, 2])
    )
    gtx = approved(add(4), [0, 1, 2])
    accepted, why = decide(GENESIS, gtx, 5, config(), VERIFIER)
    assert why == ""
    assert "sequence 0; the channel is at 1" in refused(gtx, accepted, 30)  # replayed


def test_refused_approvals() -> None:
    raw = add(4)
    assert "not a validator at this height" in refused(approved(raw, [0, 1, 5]))
    assert "two approvals" in refused(approved(raw, [0, 1, 1]))
    assert "2 approvals, 3 of 4" in refused(approved(raw, [0, 1]))
    assert "0 approvals" in refused(approved(raw, []))
    good = approved(raw, [0, 1, 2])
    forged = ((KEYS[2], SIGNERS[3].sign(approval_bytes(raw))),)
    bad = GovernanceTx(KIND_VALIDATORS, raw, good.approvals[:2] + forged)
    assert "bad approval signature" in refused(bad)
    other = approved(add(5), [0, 1, 2])  # signatures over another proposal
    assert "bad approval signature" in refused(GovernanceTx(KIND_VALIDATORS, raw, other.approvals))


def test_refused_while_a_validator_change_is_pending() -> None:
    pending, _ = decide(GENESIS, approved(add(4), [0, 1, 2]), 5, config(), VERIFIER)
    second = approved(remove(3, sequence=1), [0, 1, 2])
    assert "a validator change is pending (new set from height 17)" in refused(second, pending, 16)
    # From the switch on another change may come, approved by the new set.
    second = approved(remove(3, sequence=1), [0, 1, 2, 4])
    new, why = decide(pending, second, 17, config(), VERIFIER)
    assert why == "" and new.epochs[-1].first_height == switch_height(17, config()) + 1


def test_refused_set_changes() -> None:
    assert refused(approved(add(2), [0, 1, 2])) == "already a validator"
    assert refused(approved(remove(6), [0, 1, 2])) == "not a validator"
    short_key = proposal(add_validator=pb.ValidatorAdd(public_key=b"k" * 31, address="a:1"))
    assert "32 bytes" in refused(approved(short_key, [0, 1, 2]))
    for address in ("", "h" * 251 + ":7000", "no-port", "h:0", "h:99999", "h:7000\r", "a b:1"):
        va = pb.ValidatorAdd(public_key=KEYS[4], address=address)
        assert "needs an address" in refused(approved(proposal(add_validator=va), [0, 1, 2]))


def test_cannot_remove_the_last_validator() -> None:
    alone = Membership.genesis(KEYS[:1])
    new, why = decide(alone, approved(remove(0), [0]), 1, config(1), VERIFIER)
    assert new is alone and why == "cannot remove the last validator"


def test_at_most_validators_max() -> None:
    keys = [hashlib.sha256(b"k%d" % i).digest() for i in range(VALIDATORS_MAX - 1)]
    full = Membership.genesis((KEYS[0], *keys))
    cfg = ConsensusConfig(channel="license", validators=full.epochs[0].validators)

    class Everyone:  # a verifier that accepts any approval: only the cap is at stake
        def verify(self, public_key: bytes, data: bytes, signature: bytes) -> bool:
            return True

    approvals = tuple((k, b"") for k in full.epochs[0].validators)
    gtx = GovernanceTx(KIND_VALIDATORS, add(4), approvals)
    new, why = decide(full, gtx, 1, cfg, Everyone())
    assert new is full and f"at most {VALIDATORS_MAX}" in why


def replace(old: int, new: int, address: str = "", sequence: int = 0) -> bytes:
    va = pb.ValidatorAdd(public_key=KEYS[new], address=address or f"node{new}:7000")
    return proposal(
        sequence, replace_validator=pb.ValidatorReplace(old_key=KEYS[old], replacement=va)
    )


def test_a_replacement_takes_the_old_keys_place_and_keeps_the_size() -> None:
    new, why = decide(GENESIS, approved(replace(1, 5), [0, 1, 2]), 5, config(), VERIFIER)
    assert why == "" and new.sequence == 1
    assert new.epochs[-1] == Epoch(
        17, (KEYS[0], KEYS[5], KEYS[2], KEYS[3]), ("", "node5:7000", "", "")
    )
    assert new.at(16).validators == tuple(KEYS[:4])
    assert quorum_of(len(new.at(17).validators)) == quorum_of(4)


def test_refused_replacements() -> None:
    assert refused(approved(replace(6, 5), [0, 1, 2])) == "the replaced key is not a validator"
    assert refused(approved(replace(1, 2), [0, 1, 2])) == "already a validator"
    assert "needs an address" in refused(approved(replace(1, 5, address="no-port"), [0, 1, 2]))
    pending, _ = decide(GENESIS, approved(add(4), [0, 1, 2]), 5, config(), VERIFIER)
    assert "pending" in refused(approved(replace(1, 5, sequence=1), [0, 1, 2]), pending, 6)
