"""Byzantine input never crashes the core: arbitrary, validly signed messages and
arbitrary fetched blocks go into a replica; it must refuse or absorb them, stay within
its limits, and still commit a normal block afterwards."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.actions import ExecuteBlock
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.events import BlocksFetched, MessageReceived, Tick, Timer
from consensus.hashing import ZERO_HASH, sha256
from consensus.messages import sign, vote
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from sim.crypto import SimTxChecker, make_signers, make_tx, make_verifier

SIGNERS = make_signers(4)
KEYS = tuple(s.public_key for s in SIGNERS)
CFG = ConsensusConfig(
    channel="license",
    validators=KEYS,
    checkpoint_interval_blocks=2,
    log_window_blocks=4,
    future_messages_per_peer_max=8,
)

u64 = st.one_of(st.integers(0, 12), st.integers(0, 2**64 - 1))
digests = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))


@st.composite
def signed_messages(draw, depth: int = 0) -> pb.SignedMessage:
    """A nested message: validly signed by some validator, or garbage."""
    if depth > 1 or draw(st.booleans()):
        return pb.SignedMessage(
            body=draw(st.binary(max_size=60)), signature=draw(st.binary(max_size=64))
        )
    kind, payload = draw(payloads(depth + 1))
    s = sign(SIGNERS[draw(st.integers(0, 3))], CFG.channel, kind, payload)
    return s.to_pb()


@st.composite
def payloads(draw, depth: int = 0):
    kind = draw(
        st.sampled_from(
            ["pre_prepare", "prepare", "commit", "checkpoint", "view_change", "new_view", "status"]
        )
    )
    if kind in ("pre_prepare", "prepare", "commit"):
        return kind, vote(draw(u64), draw(u64), draw(digests))
    if kind == "checkpoint":
        return kind, pb.Checkpoint(
            height=draw(u64), block_hash=draw(digests), state_root=draw(digests)
        )
    if kind == "status":
        return kind, pb.Status(
            view=draw(u64),
            view_active=draw(st.booleans()),
            executed_height=draw(u64),
            stable_height=draw(u64),
        )
    nested = st.lists(signed_messages(depth), max_size=5) if depth < 2 else st.just([])
    if kind == "view_change":
        prepared = [pb.PreparedCertificate(prepares=p) for p in draw(st.lists(nested, max_size=3))]
        return kind, pb.ViewChange(
            new_view=draw(u64),
            stable_height=draw(u64),
            checkpoint_proof=draw(nested),
            prepared=prepared,
        )
    reps = [
        pb.Reproposal(height=draw(u64), digest=draw(digests))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return kind, pb.NewView(view=draw(u64), view_changes=draw(nested), reproposals=reps)


@st.composite
def blocks(draw) -> pb.Block:
    if draw(st.booleans()):
        return pb.Block(
            header=draw(st.binary(max_size=80)),
            txs=draw(st.lists(st.binary(max_size=50), max_size=3)),
        )
    height = draw(st.integers(1, 6))
    txs = [make_tx(1, draw(st.integers(0, 5)))]
    return make_block(
        CFG,
        height,
        draw(st.integers(0, 2)),
        draw(st.sampled_from([ZERO_HASH, sha256(b"x")])),
        txs,
        KEYS[draw(st.integers(0, 3))],
        5,
    ).block


events = st.one_of(
    st.builds(
        lambda by, kp, bl: MessageReceived(sign(SIGNERS[by], CFG.channel, kp[0], kp[1]), tuple(bl)),
        st.sampled_from([0, 2, 3]),
        payloads(),
        st.lists(blocks(), max_size=2),
    ),
    st.builds(
        lambda bl, commits, proof: BlocksFetched(
            tuple(pb.CertifiedBlock(block=b, commits=commits) for b in bl), tuple(proof)
        ),
        st.lists(blocks(), max_size=2),
        st.lists(signed_messages(), max_size=4),
        st.lists(signed_messages(), max_size=3),
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(events, min_size=1, max_size=25))
def test_arbitrary_signed_input_never_crashes_a_replica(evs) -> None:
    r = Replica(CFG, SIGNERS[1], make_verifier(SIGNERS), SimTxChecker())
    for ev in evs:
        r.step(ev)
    assert len(r.slots) <= CFG.log_window_blocks + 1
    assert all(len(q) <= CFG.future_messages_per_peer_max for q in r.future.values())
    assert len(r.view_changes) <= CFG.n
    assert sum(len(v) for v in r.checkpoint_votes.values()) <= CFG.n * 4
    # Nothing forged got executed: every executed block came with a real certificate.
    assert r.executed_height == 0


def test_replica_still_commits_after_garbage() -> None:
    r = Replica(CFG, SIGNERS[1], make_verifier(SIGNERS), SimTxChecker())
    garbage = sign(SIGNERS[2], CFG.channel, "prepare", vote(0, 1, b"short"))
    r.step(MessageReceived(garbage))
    info = make_block(CFG, 1, 0, ZERO_HASH, [make_tx(1, 1)], KEYS[0], 5)
    r.step(
        MessageReceived(
            sign(SIGNERS[0], CFG.channel, "pre_prepare", vote(0, 1, info.digest)), (info.block,)
        )
    )
    out = []
    for by in (0, 2, 3):
        out += r.step(
            MessageReceived(sign(SIGNERS[by], CFG.channel, "prepare", vote(0, 1, info.digest)))
        )
    for by in (0, 2):
        out += r.step(
            MessageReceived(sign(SIGNERS[by], CFG.channel, "commit", vote(0, 1, info.digest)))
        )
    assert [a.height for a in out if isinstance(a, ExecuteBlock)] == [1]
    assert r.step(Tick(Timer.STATUS, 10**9)) == []
