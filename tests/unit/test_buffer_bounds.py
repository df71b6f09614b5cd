"""What one peer can make a replica hold (issue 11 §3): early votes keep only the sender's
highest view, within a count and a byte bound; blocks are checked before buffering and
kept only where they are read; orphans keep their own block only, under a byte bound."""

from __future__ import annotations

from consensus.buffers import message_bytes
from consensus.events import MessageReceived
from consensus.reasons import Reason
from sim.crypto import make_tx
from tests.unit.replica_events import (
    block,
    effects,
    new_replica,
    only_reject,
    pre_prepare,
    prepare,
    received,
    txs,
    view_change,
)

BLOCK_MAX = 4096  # block_bytes_max in these tests
SMALL = {"block_bytes_max": BLOCK_MAX, "tx_bytes_max": 4096}


def big_txs(count: int, first: int = 0, pad: int = 1000) -> tuple[bytes, ...]:
    return tuple(make_tx(0, n, pad) for n in range(first, first + count))


def test_only_the_highest_view_per_sender_is_kept_and_a_lower_one_is_stale() -> None:
    r = new_replica(2)
    b5, b9 = block(1, view=5), block(1, view=9)
    assert effects(r.step(prepare(3, b5, view=5))) == []
    assert effects(r.step(prepare(3, b5, view=6))) == []
    assert [ev.message.payload.view for ev in r.future[r.cfg.validators[3]]] == [6]
    only_reject(r.step(prepare(3, b9, view=4)), 3, "prepare", Reason.STALE_VIEW)
    # Another sender's view does not touch this one's.
    assert effects(r.step(prepare(0, b9, view=9))) == []
    assert r.future[r.cfg.validators[3]].view == 6


def test_the_per_peer_byte_bound_drops_the_oldest() -> None:
    per_peer = 2 * (BLOCK_MAX + 2048)
    r = new_replica(2, future_bytes_per_peer_max=per_peer, **SMALL)
    blocks = [block(h, big_txs(3, 10 * h), view=5, proposer=1) for h in range(1, 6)]
    out = [r.step(pre_prepare(b, by=1, view=5)) for b in blocks]
    queue = r.future[r.cfg.validators[1]]
    assert queue.size_bytes <= per_peer
    assert queue.size_bytes == sum(message_bytes(ev) for ev in queue)
    assert [ev.message.payload.height for ev in queue] == [h for h in range(6 - len(queue), 6)]
    assert any(
        Reason.FUTURE_BUFFER_FULL in [a.reason for a in o if hasattr(a, "reason")] for o in out
    )
    assert r.buffered_bytes() == queue.size_bytes


def test_an_early_pre_prepare_with_a_block_over_the_limit_is_refused_at_once() -> None:
    r = new_replica(2, **SMALL)
    huge = block(1, big_txs(6, pad=1000), view=5, proposer=1)  # ~6 KiB > 4 KiB + header
    only_reject(r.step(pre_prepare(huge, by=1, view=5)), 1, "pre_prepare", Reason.BLOCK_TOO_LARGE)
    assert not r.future


def test_an_early_pre_prepare_whose_header_does_not_match_is_refused() -> None:
    r = new_replica(2)
    other_view = block(1, view=4, proposer=1)
    only_reject(r.step(pre_prepare(other_view, by=1, view=5)), 1, "pre_prepare", Reason.BAD_BLOCK)
    missing = block(1, view=5, proposer=1)
    only_reject(
        r.step(pre_prepare(missing, by=1, view=5, attached=[])),
        1,
        "pre_prepare",
        Reason.DIGEST_MISMATCH,
    )
    assert not r.future


def test_early_votes_keep_no_block_and_a_pre_prepare_only_its_own() -> None:
    r = new_replica(2)
    mine, junk = block(1, view=5, proposer=1), block(2, txs(7, 8), view=5, proposer=1)
    carried = received(3, "prepare", prepare(3, mine, view=5).message.payload, [mine.block])
    r.step(carried)
    r.step(pre_prepare(mine, by=1, view=5, attached=[junk.block, mine.block, junk.block]))
    assert [ev.blocks for ev in r.future[r.cfg.validators[3]]] == [()]
    assert [ev.blocks for ev in r.future[r.cfg.validators[1]]] == [(mine.block,)]


def test_orphans_keep_only_their_block_and_the_lowest_heights_under_the_byte_bound() -> None:
    bound = 2 * (BLOCK_MAX + 2048)
    r = new_replica(2, orphan_bytes_max=bound, **SMALL)
    orphans = [block(h, big_txs(3, 10 * h), view=0, proposer=0) for h in (3, 2, 6, 5, 4, 7)]
    junk = block(9, txs(99), view=0, proposer=0)
    for b in orphans:
        r.step(pre_prepare(b, attached=[b.block, junk.block]))
    kept = sorted(r.orphans)
    assert 2 <= len(kept) < 6 and kept == list(range(2, 2 + len(kept)))  # the next ones
    assert all(len(ev.blocks) == 1 for ev in r.orphans.values())
    assert r.buffered_bytes_by_kind()["orphans"] <= bound
    assert r.rejected[Reason.ORPHAN_BUFFER_FULL] == 6 - len(kept)


def test_a_view_change_over_its_byte_bound_is_refused() -> None:
    r = new_replica(2, view_change_bytes_max=64)
    vc = view_change(3, 1)
    padded = MessageReceived(type(vc)(vc.sender, vc.body + bytes(100), vc.signature, vc.msg))
    only_reject(r.step(padded), 3, "view_change", Reason.BAD_VIEW_CHANGE)
    assert not r.view_changes
