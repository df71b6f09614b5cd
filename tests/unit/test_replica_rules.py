"""Acceptance rules of one real Replica, driven directly with crafted, validly signed events:
the normal case, pre-prepare rules, votes, catch-up and transactions (views are in
test_replica_view_rules.py).

Validators 0..3 (n=4, f=1, quorum 3); the primary of view v is validator v mod 4. Unless a
test says otherwise the replica under test is validator 1, a backup in view 0. Every bad
input must give exactly one Reject with the right Reason and no other effect, and the
replica must still accept good input afterwards.
"""

from __future__ import annotations

import pytest

from consensus.actions import (
    Broadcast,
    CancelTimer,
    ExecuteBlock,
    FetchBlocks,
    Persist,
    Send,
    SetTimer,
)
from consensus.blocks import BlockInfo
from consensus.certificates import VoteCert, check_vote_cert
from consensus.events import BlocksFetched, MessageReceived, Tick, Timer, TxsReady
from consensus.hashing import ZERO_HASH, sha256
from consensus.messages import vote
from consensus.persisted import SlotRecord
from consensus.reasons import Reason
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from sim.crypto import forge_tx, make_tx
from tests.unit.replica_events import (
    KEYS,
    VERIFIER,
    assert_accepted,
    block,
    broadcasts,
    commit,
    commit_cert,
    effects,
    forged,
    index_of,
    new_replica,
    only_reject,
    pre_prepare,
    prepare,
    prepared_replica,
    received,
    rejects,
    signed,
    txs,
)

# ------------------------------------------------------------------ normal case


def test_primary_pre_prepare_is_persisted_before_the_prepare_is_broadcast() -> None:
    r = new_replica()
    info = block()
    out = r.step(pre_prepare(info))
    assert_accepted(out, info)
    sent = broadcasts(out, "prepare")[0].message
    assert sent.sender == KEYS[1]
    assert VERIFIER.verify(KEYS[1], sent.body, sent.signature)


def test_prepare_quorum_persists_the_certificate_before_broadcasting_commit() -> None:
    r = new_replica()
    info = block()
    r.step(pre_prepare(info))
    assert broadcasts(r.step(prepare(0, info)), "commit") == []  # own + 1 < quorum
    out = r.step(prepare(2, info))
    assert rejects(out) == []
    persist_at = index_of(out, Persist)
    commit_at = index_of(out, Broadcast, "commit")
    assert persist_at < commit_at
    (record,) = out[persist_at].records  # type: ignore[union-attr]
    assert isinstance(record, SlotRecord)
    assert (record.prepared_view, record.prepared) == (0, info.block)
    cert = check_vote_cert(record.prepared_votes, "prepare", r.cfg, VERIFIER)
    assert isinstance(cert, VoteCert)
    assert (cert.view, cert.height, cert.digest) == (0, 1, info.digest)
    assert out[commit_at].message.payload == vote(0, 1, info.digest)  # type: ignore[union-attr]


def test_commit_quorum_executes_the_block_with_a_signed_commit_certificate() -> None:
    info = block()
    r = prepared_replica(info)
    assert [a for a in r.step(commit(0, info)) if isinstance(a, ExecuteBlock)] == []
    out = r.step(commit(2, info))
    (execute,) = [a for a in out if isinstance(a, ExecuteBlock)]
    assert (execute.height, execute.digest) == (1, info.digest)
    assert execute.certified.block == info.block
    assert len(execute.certified.commits) >= r.cfg.quorum
    cert = check_vote_cert(execute.certified.commits, "commit", r.cfg, VERIFIER)
    assert isinstance(cert, VoteCert)
    assert (cert.view, cert.height, cert.digest) == (0, 1, info.digest)


def test_votes_arriving_before_their_pre_prepare_are_kept_and_counted() -> None:
    r = new_replica()
    info = block()
    for by in (0, 2):
        assert effects(r.step(prepare(by, info))) == []
        assert effects(r.step(commit(by, info))) == []
    out = r.step(pre_prepare(info))
    assert_accepted(out, info)
    assert index_of(out, Broadcast, "prepare") < index_of(out, Broadcast, "commit")
    executed = [a.height for a in out if isinstance(a, ExecuteBlock)]
    assert executed == [1]
    assert index_of(out, Broadcast, "commit") < index_of(out, ExecuteBlock)


def test_retransmitted_pre_prepare_is_ignored_without_a_second_prepare() -> None:
    r = new_replica()
    info = block()
    r.step(pre_prepare(info))
    assert effects(r.step(pre_prepare(info))) == []


def busy_primary(**limits: int) -> Replica:
    """A primary with block 1 (tx 0) proposed and not yet executed: its pipeline is busy."""
    r = new_replica(0, **limits)
    out = r.step(TxsReady(txs(0)))
    (cut_timer,) = [a for a in out if isinstance(a, SetTimer) and a.timer is Timer.BLOCK_CUT]
    assert len(broadcasts(r.step(Tick(Timer.BLOCK_CUT, cut_timer.token)), "pre_prepare")) == 1
    return r


def test_a_busy_primary_cuts_a_full_block_as_soon_as_block_txs_max_txs_are_pending() -> None:
    r = busy_primary(block_txs_max=3)
    out = r.step(TxsReady(txs(1, 2)))
    assert broadcasts(out, "pre_prepare") == []
    out = r.step(TxsReady(txs(3)))
    (proposal,) = broadcasts(out, "pre_prepare")
    (body,) = proposal.blocks
    assert list(body.txs) == list(txs(1, 2, 3))
    assert proposal.message.payload == vote(0, 2, sha256(body.header))
    assert index_of(out, Persist) < index_of(out, Broadcast, "pre_prepare")
    assert CancelTimer(Timer.BLOCK_CUT) in out


def test_primary_cuts_consecutive_full_blocks_chained_by_parent() -> None:
    r = new_replica(0, block_txs_max=2)
    out = r.step(TxsReady(txs(1, 2, 3, 4, 5)))
    proposals = broadcasts(out, "pre_prepare")
    assert [p.message.payload.height for p in proposals] == [1, 2]
    first, second = (pb.BlockHeader.FromString(p.blocks[0].header) for p in proposals)
    assert first.parent_hash == ZERO_HASH
    assert second.parent_hash == sha256(proposals[0].blocks[0].header)
    assert [list(p.blocks[0].txs) for p in proposals] == [list(txs(1, 2)), list(txs(3, 4))]
    assert any(isinstance(a, SetTimer) and a.timer is Timer.BLOCK_CUT for a in out)


def test_a_busy_primary_cuts_a_partial_block_only_when_the_block_cut_timer_fires() -> None:
    r = busy_primary(block_txs_max=10, block_interval_ticks=5)
    out = r.step(TxsReady(txs(1, 2)))
    assert broadcasts(out, "pre_prepare") == []
    (cut_timer,) = [a for a in out if isinstance(a, SetTimer) and a.timer is Timer.BLOCK_CUT]
    assert cut_timer.ticks == 5
    heartbeat = r.step(Tick(Timer.STATUS, r.timer_tokens[Timer.STATUS]))
    assert [p.message.payload.height for p in broadcasts(heartbeat, "pre_prepare")] == [1]
    out = r.step(Tick(Timer.BLOCK_CUT, cut_timer.token))
    (proposal,) = broadcasts(out, "pre_prepare")
    assert list(proposal.blocks[0].txs) == list(txs(1, 2))


def test_primary_never_proposes_an_empty_block() -> None:
    r = busy_primary(block_txs_max=10)
    out = r.step(TxsReady(txs(1)))
    (cut_timer,) = [a for a in out if isinstance(a, SetTimer) and a.timer is Timer.BLOCK_CUT]
    assert len(broadcasts(r.step(Tick(Timer.BLOCK_CUT, cut_timer.token)), "pre_prepare")) == 1
    # Nothing is pending now: the same tick again, and the same tx again, cut nothing.
    assert broadcasts(r.step(Tick(Timer.BLOCK_CUT, cut_timer.token)), "pre_prepare") == []
    out = r.step(TxsReady(txs(1)))
    assert broadcasts(out, "pre_prepare") == []
    assert not any(isinstance(a, SetTimer) and a.timer is Timer.BLOCK_CUT for a in out)


# ------------------------------------------------------------------ pre-prepare rules


def test_pre_prepare_from_a_non_primary_is_rejected_as_wrong_primary() -> None:
    r = new_replica()
    forged = block(proposer=2)
    only_reject(r.step(pre_prepare(forged, by=2)), 2, "pre_prepare", Reason.WRONG_PRIMARY)
    good = block()
    assert_accepted(r.step(pre_prepare(good)), good)


def test_second_different_pre_prepare_for_a_height_is_a_conflicting_vote() -> None:
    r = new_replica()
    first, second = block(body=txs(1)), block(body=txs(2))
    assert_accepted(r.step(pre_prepare(first)), first)
    only_reject(r.step(pre_prepare(second)), 0, "pre_prepare", Reason.CONFLICTING_VOTE)
    # The first block stays the accepted one: its prepares still complete the quorum.
    r.step(prepare(0, first))
    out = r.step(prepare(2, first))
    assert [b.message.payload.digest for b in broadcasts(out, "commit")] == [first.digest]


@pytest.mark.parametrize("attached", ["none", "other block"])
def test_pre_prepare_without_its_block_is_a_digest_mismatch(attached: str) -> None:
    r = new_replica()
    info = block(body=txs(1))
    blocks = [] if attached == "none" else [block(body=txs(2)).block]
    out = r.step(pre_prepare(info, attached=blocks))
    only_reject(out, 0, "pre_prepare", Reason.DIGEST_MISMATCH)
    assert_accepted(r.step(pre_prepare(info)), info)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ((make_tx(0, 1), forge_tx(2)), Reason.BAD_TX),
        ((make_tx(0, 1), make_tx(0, 1)), Reason.BAD_TX),
        ((), Reason.EMPTY_BLOCK),
    ],
    ids=["unsigned tx", "duplicate tx", "empty"],
)
def test_pre_prepare_with_a_bad_block_body_is_rejected(
    body: tuple[bytes, ...], reason: Reason
) -> None:
    r = new_replica()
    only_reject(r.step(pre_prepare(block(body=body))), 0, "pre_prepare", reason)
    good = block(body=txs(1, 3))
    assert_accepted(r.step(pre_prepare(good)), good)


def test_pre_prepare_reusing_a_tx_of_another_logged_block_is_a_bad_tx() -> None:
    r = new_replica()
    first = block(1, txs(1))
    r.step(pre_prepare(first))
    reuse = block(2, txs(2, 1), parent=first.digest)
    only_reject(r.step(pre_prepare(reuse)), 0, "pre_prepare", Reason.BAD_TX)
    good = block(2, txs(2), parent=first.digest)
    out = r.step(pre_prepare(good))
    assert rejects(out) == []
    assert any(
        SlotRecord(2, 0, good.block, -1, None, ()) in p.records
        for p in out
        if isinstance(p, Persist)
    )


@pytest.mark.parametrize(
    "info",
    [block(view=1, proposer=0), block(proposer=2), block(height=2)],
    ids=["header view", "header proposer", "header height"],
)
def test_pre_prepare_whose_header_disagrees_with_it_is_a_bad_block(info: BlockInfo) -> None:
    r = new_replica()
    msg = received(0, "pre_prepare", vote(0, 1, info.digest), [info.block])
    only_reject(r.step(msg), 0, "pre_prepare", Reason.BAD_BLOCK)
    good = block()
    assert_accepted(r.step(pre_prepare(good)), good)


def test_pre_prepare_with_the_wrong_parent_is_rejected_as_bad_parent() -> None:
    r = new_replica()
    stray = block(parent=sha256(b"not the genesis"))
    only_reject(r.step(pre_prepare(stray)), 0, "pre_prepare", Reason.BAD_PARENT)
    good = block()
    assert_accepted(r.step(pre_prepare(good)), good)


def test_votes_above_the_high_watermark_are_outside_the_window() -> None:
    r = new_replica(log_window_blocks=16)
    far = block(17, parent=sha256(b"16"))
    only_reject(r.step(pre_prepare(far)), 0, "pre_prepare", Reason.OUTSIDE_WINDOW)
    only_reject(r.step(prepare(0, far)), 0, "prepare", Reason.OUTSIDE_WINDOW)
    assert rejects(r.step(prepare(2, block(16, parent=sha256(b"15"))))) == []
    # A second peer (f+1 in all) beyond the window proves we are behind: fetch up to it.
    out = r.step(prepare(2, far))
    assert rejects(out) == [(KEYS[2], "prepare", Reason.OUTSIDE_WINDOW)]
    assert [(a.from_height, a.to_height) for a in out if isinstance(a, FetchBlocks)] == [(1, 16)]
    good = block()
    assert_accepted(r.step(pre_prepare(good)), good)


def test_message_replayed_to_its_own_signer_is_rejected() -> None:
    r = new_replica()
    info = block()
    only_reject(r.step(prepare(1, info)), 1, "prepare", Reason.OWN_MESSAGE)
    only_reject(r.step(commit(1, info)), 1, "commit", Reason.OWN_MESSAGE)
    # The replayed votes were not counted as ours: we still send our own PREPARE.
    assert_accepted(r.step(pre_prepare(info)), info)


def test_message_for_another_channel_is_rejected() -> None:
    r = new_replica()
    info = block()
    msg = MessageReceived(signed(0, "pre_prepare", vote(0, 1, info.digest), "other"), (info.block,))
    only_reject(r.step(msg), 0, "pre_prepare", Reason.WRONG_CHANNEL)
    assert_accepted(r.step(pre_prepare(info)), info)


# ------------------------------------------------------------------ votes


def test_second_different_prepare_from_a_sender_is_a_conflicting_vote() -> None:
    r = new_replica()
    info, other = block(body=txs(1)), block(body=txs(2))
    r.step(pre_prepare(info))
    assert rejects(r.step(prepare(2, info))) == []
    only_reject(r.step(prepare(2, other)), 2, "prepare", Reason.CONFLICTING_VOTE)
    assert effects(r.step(prepare(2, info))) == []  # a repeat is not a conflict
    out = r.step(prepare(0, info))
    assert [b.message.payload.digest for b in broadcasts(out, "commit")] == [info.digest]


def test_second_different_commit_from_a_sender_is_a_conflicting_vote() -> None:
    info, other = block(body=txs(1)), block(body=txs(2))
    r = prepared_replica(info)
    assert rejects(r.step(commit(2, info))) == []
    only_reject(r.step(commit(2, other)), 2, "commit", Reason.CONFLICTING_VOTE)
    out = r.step(commit(0, info))
    assert [(a.height, a.digest) for a in out if isinstance(a, ExecuteBlock)] == [(1, info.digest)]


def test_first_vote_of_a_sender_wins_over_its_later_conflicting_vote() -> None:
    r = new_replica()
    info, other = block(body=txs(1)), block(body=txs(2))
    r.step(prepare(2, other))
    r.step(pre_prepare(info))
    only_reject(r.step(prepare(2, info)), 2, "prepare", Reason.CONFLICTING_VOTE)
    # Own + validator 0 = 2 matching prepares: below quorum, so no COMMIT yet.
    assert broadcasts(r.step(prepare(0, info)), "commit") == []
    assert len(broadcasts(r.step(prepare(3, info)), "commit")) == 1


# ------------------------------------------------------------------ catch-up


def bad_commit_cert(case: str, info: BlockInfo) -> list[pb.SignedMessage]:
    if case == "short":
        return commit_cert(info, [0, 2])
    if case == "other digest":
        return commit_cert(block(body=txs(2)), [0, 2, 3])
    if case == "other height":
        return [received(s, "commit", vote(0, 2, info.digest)).message.to_pb() for s in (0, 2, 3)]
    assert case == "forged signature"
    return [*commit_cert(info, [0, 2]), forged(commit_cert(info, [3])[0])]


@pytest.mark.parametrize("case", ["short", "other digest", "other height", "forged signature"])
def test_fetched_block_with_a_bad_commit_certificate_is_not_executed(case: str) -> None:
    r = new_replica()
    info = block()
    bad = pb.CertifiedBlock(block=info.block, commits=bad_commit_cert(case, info))
    only_reject(r.step(BlocksFetched((bad,))), b"", "fetched_block", Reason.BAD_FETCHED_BLOCK)
    good = pb.CertifiedBlock(block=info.block, commits=commit_cert(info, [0, 2, 3]))
    out = r.step(BlocksFetched((good,)))
    assert rejects(out) == []
    assert [(a.height, a.digest) for a in out if isinstance(a, ExecuteBlock)] == [(1, info.digest)]


def test_pre_prepare_waiting_for_a_parent_that_came_by_block_sync_is_taken_then() -> None:
    """Block 2's pre-prepare arrives before block 1 is known; block 1 then arrives by
    block sync. The replica must accept 2 at once (and commit it with the votes it kept),
    not wait for a retransmission and stay one block behind."""
    r = new_replica()
    one = block()
    two = block(2, txs(2), parent=one.digest)
    assert effects(r.step(pre_prepare(two))) == []  # parent unknown: waits
    for by in (0, 2):
        r.step(prepare(by, two))
        r.step(commit(by, two))
    good = pb.CertifiedBlock(block=one.block, commits=commit_cert(one, [0, 2, 3]))
    out = r.step(BlocksFetched((good,)))
    assert [a.height for a in out if isinstance(a, ExecuteBlock)] == [1, 2]
    assert [b.message.payload.height for b in broadcasts(out, "prepare")] == [2]


# ------------------------------------------------------------------ transactions


def test_oversize_tx_is_rejected_and_the_rest_of_the_batch_is_ordered() -> None:
    r = new_replica(0, tx_bytes_max=64, block_txs_max=1)
    big, small = make_tx(0, 1, pad=64), make_tx(0, 2)
    assert len(big) > 64 >= len(small)
    out = r.step(TxsReady((big, small)))
    assert rejects(out) == [(b"", "tx", Reason.TX_TOO_LARGE)]
    (proposal,) = broadcasts(out, "pre_prepare")
    assert list(proposal.blocks[0].txs) == [small]


@pytest.mark.parametrize("limit", [{"pending_txs_max": 2}, {"pending_bytes_max": 100}])
def test_pending_queue_bound_rejects_the_overflow(limit: dict[str, int]) -> None:
    r = new_replica(**limit)
    assert all(len(t) == 41 for t in txs(1, 2, 3))  # two fit in 100 bytes, three do not
    assert rejects(r.step(TxsReady(txs(1, 2, 3)))) == [(b"", "tx", Reason.PENDING_FULL)]
    assert rejects(r.step(TxsReady(txs(1, 2)))) == []  # already pending: not counted again
    # Once a block takes the pending txs, the refused one fits again.
    taken = block(body=txs(1, 2))
    assert_accepted(r.step(pre_prepare(taken)), taken)
    assert rejects(r.step(TxsReady(txs(3)))) == []


# ------------------------------------------------------------------ retransmission


def test_a_heartbeat_resends_a_block_only_to_peers_that_may_lack_it() -> None:
    """Under load blocks stay in flight across heartbeats: a peer that signed a vote for
    the block has it. A peer's STATUS claim decides nothing (a liar would only deprive
    itself, but its lost votes would cost the honest a quorum under loss)."""
    r = new_replica(0, block_txs_max=1)
    (proposal,) = broadcasts(r.step(TxsReady(txs(1))), "pre_prepare")  # full: cut at once
    digest = proposal.message.payload.digest
    heartbeat = r.step(Tick(Timer.STATUS, r.timer_tokens[Timer.STATUS]))
    assert [p.message.payload.height for p in broadcasts(heartbeat, "pre_prepare")] == [1]
    r.step(received(1, "prepare", vote(0, 1, digest)))  # backup 1 has the block
    r.step(received(3, "commit", vote(0, 1, digest)))  # and backup 3
    done = pb.Status(view=0, view_active=True, executed_height=1, stable_height=0)
    r.step(received(2, "status", done))  # backup 2 claims height 1: not believed
    heartbeat = r.step(Tick(Timer.STATUS, r.timer_tokens[Timer.STATUS]))
    assert broadcasts(heartbeat, "pre_prepare") == []
    sends = [a for a in heartbeat if isinstance(a, Send) and a.message.kind == "pre_prepare"]
    assert [(a.to, a.message.payload.digest) for a in sends] == [(KEYS[2], digest)]
    assert sends[0].blocks == proposal.blocks
