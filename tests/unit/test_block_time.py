"""The block-time rule on one real Replica (consensus/block_time.py): a backup refuses a
pre-prepare whose time is not after its parent's or is off its own clock at arrival, and
an honest primary stamps its clock but never at or before its parent."""

from __future__ import annotations

from consensus.actions import Broadcast, Reject
from consensus.block_time import clock_problem, parent_problem, proposal_time
from consensus.blocks import make_block
from consensus.events import MessageReceived, Restored, TxsReady
from consensus.hashing import ZERO_HASH
from consensus.messages import vote
from consensus.persisted import PersistedState
from consensus.reasons import Reason
from tests.unit.replica_events import KEYS, config, new_replica, signed, txs

SKEW = 10_000


def test_pure_rules_at_their_bounds() -> None:
    assert clock_problem(50_000 + SKEW, 50_000, SKEW) is None
    assert clock_problem(50_000 - SKEW, 50_000, SKEW) is None
    assert "ahead" in (clock_problem(50_001 + SKEW, 50_000, SKEW) or "")
    assert "behind" in (clock_problem(49_999 - SKEW, 50_000, SKEW) or "")
    assert parent_problem(11, 10) is None
    assert parent_problem(10, 10) and parent_problem(9, 10)
    assert proposal_time(500, None) == 500
    assert proposal_time(500, 100) == 500
    assert proposal_time(500, 800) == 801  # a clock behind the parent: just after it


def pre_prepare(timestamp_ms: int, height: int = 1, parent: bytes = ZERO_HASH):
    info = make_block(config(), height, 0, parent, txs(height), KEYS[0], timestamp_ms)
    return info, signed(0, "pre_prepare", vote(0, height, info.digest))


def outcome(timestamp_ms: int, arrived_ms: int) -> list[Reject | Broadcast]:
    r = new_replica()
    info, msg = pre_prepare(timestamp_ms)
    out = r.step(MessageReceived(msg, (info.block,), arrived_ms))
    return [a for a in out if isinstance(a, (Reject, Broadcast))]


def test_a_block_time_within_the_skew_of_the_arrival_clock_is_prepared() -> None:
    (prepare,) = outcome(100_000 + SKEW, 100_000)
    assert isinstance(prepare, Broadcast) and prepare.message.kind == "prepare"


def test_a_block_time_off_the_arrival_clock_is_refused_in_either_direction() -> None:
    for stamp in (100_001 + SKEW, 99_999 - SKEW):
        (refusal,) = outcome(stamp, 100_000)
        assert isinstance(refusal, Reject) and refusal.reason is Reason.BAD_TIMESTAMP


def test_a_block_time_not_after_its_parent_is_refused() -> None:
    r = new_replica()
    first, msg = pre_prepare(100_000)
    r.step(MessageReceived(msg, (first.block,), 100_000))
    for stamp in (100_000, 99_000):
        second, msg2 = pre_prepare(stamp, height=2, parent=first.digest)
        out = r.step(MessageReceived(msg2, (second.block,), 100_000))
        reasons = [a.reason for a in out if isinstance(a, Reject)]
        assert reasons == [Reason.BAD_TIMESTAMP]
        assert not [a for a in out if isinstance(a, Broadcast)]


def test_a_primary_whose_clock_is_behind_its_parent_stamps_just_after_the_parent() -> None:
    primary = new_replica(index=0, block_txs_max=1)
    tip = PersistedState(
        executed_height=1, executed_hash=b"\x01" * 32, executed_timestamp_ms=300_000
    )
    primary.step(Restored(tip))
    primary.step(TxsReady(txs(2), now_ms=200_000))  # a clock behind the chain
    assert primary.slots[2].accepted.header.timestamp_ms == 300_001
    primary.step(TxsReady(txs(3), now_ms=400_000))
    assert primary.slots[3].accepted.header.timestamp_ms == 400_000
