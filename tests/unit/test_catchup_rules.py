"""Catch-up against lying and faulty peers (issue 11 §5), one real Replica driven by hand.

Validators 0..3 (n=4, f=1); the replica under test is validator 1. A claimed height is
believed only when f+1 members report at least that height; a peer that answers a fetch
with invalid blocks (or not at all) is asked last for a while, and the fetch goes on
elsewhere at once.
"""

from __future__ import annotations

from consensus.actions import Action, FetchBlocks, Reject
from consensus.events import BlocksFetched, Tick, Timer
from consensus.reasons import Reason
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from tests.unit.replica_events import KEYS, block, commit_cert, new_replica, received

HUGE = 10**9


def status(by: int, height: int, stable: int = 0) -> object:
    st = pb.Status(view=0, view_active=True, executed_height=height, stable_height=stable)
    return received(by, "status", st)


def heartbeat(r: Replica) -> list[Action]:
    return r.step(Tick(Timer.STATUS, r.timer_tokens[Timer.STATUS]))


def fetches(actions: list[Action]) -> list[FetchBlocks]:
    return [a for a in actions if isinstance(a, FetchBlocks)]


def started(**limits: int) -> Replica:
    r = new_replica(1, **limits)
    r.step(Tick(Timer.STATUS, -1))  # any first event starts the replica (arms the heartbeat)
    return r


def test_one_peers_claim_of_a_huge_height_does_not_set_the_fetch_target() -> None:
    r = started()
    r.step(status(3, HUGE))
    assert fetches(heartbeat(r)) == []
    assert r.fetch_target == 0
    # A second member (f+1 in all) at 40: one honest member is at 40 or above, not 10^9.
    r.step(status(0, 40))
    (fetch,) = fetches(heartbeat(r))
    assert (fetch.from_height, fetch.to_height) == (1, 32)
    assert r.fetch_target == 40
    # f+1 claims of 10^9 are believed: one of them is honest.
    r.step(status(0, HUGE))
    heartbeat(r)
    assert r.fetch_target == HUGE


def test_peers_that_reported_the_target_are_asked_first_and_in_turn_the_liar_after() -> None:
    r = started()
    r.step(status(3, HUGE))
    r.step(status(0, 40))
    r.step(status(2, 5))
    (fetch,) = fetches(heartbeat(r))
    # 0 and 3 reported 40 or more; 3 claims more than f+1 members vouch for: after 0.
    assert fetch.peers == (KEYS[0], KEYS[3], KEYS[2])
    r.step(status(2, 40))
    firsts = set()
    for _ in range(4):
        (fetch,) = fetches(heartbeat(r))
        assert set(fetch.peers[:2]) == {KEYS[0], KEYS[2]} and fetch.peers[2] == KEYS[3]
        firsts.add(fetch.peers[0])
    assert firsts == {KEYS[0], KEYS[2]}  # in turn: nobody is always asked first


def test_one_peers_claim_of_a_stable_checkpoint_far_ahead_makes_no_idle_replica_probe() -> None:
    r = started()
    r.step(status(3, 0, stable=HUGE))
    for _ in range(5):  # idle, so stalled: only f+1 members ahead would make it probe
        assert fetches(heartbeat(r)) == []
    # A member really ahead (its stable checkpoint no higher than its height) is asked.
    r.step(status(0, 8, stable=8))
    (fetch,) = fetches(heartbeat(r))
    assert fetch.peers == (KEYS[0],)


def bad_answer(height: int = 1) -> pb.CertifiedBlock:
    info = block(height)
    return pb.CertifiedBlock(block=info.block, commits=commit_cert(info, [0, 2]))  # short


def test_an_invalid_answer_counts_against_its_peer_and_the_fetch_goes_on_elsewhere() -> None:
    r = started()
    for by in (0, 2, 3):
        r.step(status(by, 40))
    assert len(fetches(heartbeat(r))) == 1
    out = r.step(BlocksFetched((bad_answer(),), source=KEYS[3]))
    assert [(a.sender, a.reason) for a in out if isinstance(a, Reject)] == [
        (KEYS[3], Reason.BAD_FETCHED_BLOCK)
    ]
    assert r.fetch_invalid == {KEYS[3]: 1}
    (again,) = fetches(out)  # at once, not at the next heartbeat
    assert again.from_height == 1 and again.peers[-1] == KEYS[3]
    # A second bad answer from the same peer counts, but brings no new immediate fetch:
    # a liar cannot make a replica fetch in a loop.
    out = r.step(BlocksFetched((bad_answer(),), source=KEYS[3]))
    assert fetches(out) == [] and r.fetch_invalid == {KEYS[3]: 2}
    for _ in range(3):
        assert fetches(heartbeat(r))[0].peers[-1] == KEYS[3]


def test_a_peer_that_did_not_answer_is_asked_last_then_after_others_until_it_answers() -> None:
    r = started(fetch_penalty_ticks=30, status_interval_ticks=10)
    for by, height in ((0, 40), (2, 40), (3, 0)):
        r.step(status(by, height))
    r.step(BlocksFetched((), source=KEYS[0], failure="timeout"))
    assert r.fetch_invalid == {}  # slow is not invalid, but it is asked last
    orders = [fetches(heartbeat(r))[0].peers for _ in range(4)]
    # During the penalty after even the peer that does not hold the blocks; then after
    # the others that do, until it answers well again.
    assert orders[:2] == [(KEYS[2], KEYS[3], KEYS[0])] * 2
    assert orders[2:] == [(KEYS[2], KEYS[0], KEYS[3])] * 2
    one = block()
    good = pb.CertifiedBlock(block=one.block, commits=commit_cert(one, [0, 2, 3]))
    r.step(BlocksFetched((good,), source=KEYS[0]))
    firsts = {fetches(heartbeat(r))[0].peers[0] for _ in range(2)}
    assert firsts == {KEYS[0], KEYS[2]}  # in turn again


def test_fetch_bookkeeping_is_kept_only_for_members() -> None:
    r = started()
    outsider = b"\x07" * 32
    r.step(BlocksFetched((bad_answer(),), source=outsider))
    r.step(BlocksFetched((), source=outsider, failure="timeout"))
    assert r.fetch_invalid == {} and r.fetch_penalties == {}


def test_a_lone_member_ahead_is_asked_for_one_batch_and_not_again_after_a_bad_answer() -> None:
    """Under message loss one honest member may be ahead while the others' heartbeats
    lag: it is asked for the next blocks, but that sets no target; and a member that
    answered badly is never asked alone again (only with f+1 members vouching)."""
    r = started()
    r.step(status(3, 12))  # within a log window of what others report: plausible
    (fetch,) = fetches(heartbeat(r))
    assert (fetch.from_height, fetch.to_height, fetch.peers) == (1, 32, (KEYS[3],))
    assert r.fetch_target == 0
    out = r.step(BlocksFetched((bad_answer(),), source=KEYS[3]))
    assert r.fetch_invalid == {KEYS[3]: 1} and fetches(out) == []
    for _ in range(5):
        assert fetches(heartbeat(r)) == []
