"""View rules of one real Replica, driven directly with crafted, validly signed events:
stale and future-view messages, NEW-VIEW and VIEW-CHANGE checks, joining a view change.

Validators 0..3 (n=4, f=1, quorum 3); the primary of view v is validator v mod 4. Unless a
test says otherwise the replica under test is validator 1, a backup in view 0. Every bad
input must give exactly one Reject with the right Reason and no other effect.
"""

from __future__ import annotations

import pytest

from consensus.actions import (
    Broadcast,
    Persist,
)
from consensus.events import MessageReceived
from consensus.persisted import ViewRecord
from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from tests.unit.replica_events import (
    assert_accepted,
    block,
    broadcasts,
    checkpoint_proof,
    commit,
    effects,
    forged,
    index_of,
    new_replica,
    new_view,
    only_reject,
    pre_prepare,
    prepare,
    prepares_for,
    received,
    rejects,
    txs,
    view_change,
)

# ------------------------------------------------------------------ views


def test_votes_of_an_older_view_are_stale() -> None:
    r = new_replica(2)
    r.step(new_view(1, 1, [0, 1, 3]))
    old = block()
    only_reject(r.step(prepare(3, old)), 3, "prepare", Reason.STALE_VIEW)
    only_reject(r.step(pre_prepare(old)), 0, "pre_prepare", Reason.STALE_VIEW)
    good = block(view=1)
    assert_accepted(r.step(pre_prepare(good, view=1)), good, view=1)


def test_future_view_messages_are_buffered_up_to_the_per_peer_bound() -> None:
    r = new_replica(2, future_messages_per_peer_max=3)
    future = [block(h, txs(h), view=1) for h in range(1, 5)]
    for info in future[:3]:
        assert effects(r.step(prepare(3, info, view=1))) == []
    only_reject(r.step(prepare(3, future[3], view=1)), 3, "prepare", Reason.FUTURE_BUFFER_FULL)
    only_reject(r.step(commit(3, future[3], view=1)), 3, "commit", Reason.FUTURE_BUFFER_FULL)
    # The bound is per peer: another validator's early messages are still buffered.
    assert effects(r.step(prepare(0, future[0], view=1))) == []


def test_buffered_future_pre_prepare_is_processed_once_the_view_is_entered() -> None:
    r = new_replica(2)
    info = block(view=1)
    assert effects(r.step(pre_prepare(info, view=1))) == []
    out = r.step(new_view(1, 1, [0, 1, 3]))
    assert rejects(out) == []
    persists = [a for a in out if isinstance(a, Persist)]
    assert ViewRecord(1, True) in persists[0].records
    assert_accepted(out, info, view=1)
    assert index_of(out, Broadcast, "prepare") > out.index(persists[0])


def test_new_view_with_too_few_view_changes_is_rejected() -> None:
    r = new_replica(2)
    only_reject(r.step(new_view(1, 1, [0, 3])), 1, "new_view", Reason.BAD_NEW_VIEW)
    out = r.step(new_view(1, 1, [0, 1, 3]))
    assert rejects(out) == []
    assert any(ViewRecord(1, True) in a.records for a in out if isinstance(a, Persist))


def test_new_view_with_a_duplicated_view_change_sender_is_rejected() -> None:
    r = new_replica(2)
    only_reject(r.step(new_view(1, 1, [0, 3, 3])), 1, "new_view", Reason.BAD_NEW_VIEW)


def test_new_view_carrying_view_changes_for_another_view_is_rejected() -> None:
    r = new_replica(2)
    changes = [view_change(s, 2).to_pb() for s in (0, 1, 3)]
    msg = received(1, "new_view", pb.NewView(view=1, view_changes=changes))
    only_reject(r.step(msg), 1, "new_view", Reason.BAD_NEW_VIEW)


def test_new_view_re_proposing_an_unprepared_block_is_rejected() -> None:
    r = new_replica(2)
    info = block()
    changes = [view_change(s, 1).to_pb() for s in (0, 1, 3)]
    claim = [pb.Reproposal(height=1, digest=info.digest)]
    payload = pb.NewView(view=1, view_changes=changes, reproposals=claim)
    only_reject(
        r.step(received(1, "new_view", payload, [info.block])), 1, "new_view", Reason.BAD_NEW_VIEW
    )


def test_new_view_from_a_non_primary_is_rejected_as_wrong_primary() -> None:
    r = new_replica(2)
    only_reject(r.step(new_view(3, 1, [0, 1, 3])), 3, "new_view", Reason.WRONG_PRIMARY)
    good = block()
    assert_accepted(r.step(pre_prepare(good)), good)  # still in view 0


def malformed_view_change(case: str) -> MessageReceived:
    info = block()
    attached = (info.block,)
    if case == "short prepared certificate":
        cert = pb.PreparedCertificate(prepares=prepares_for(info, [0, 3]))
    elif case == "duplicated prepare signer":
        cert = pb.PreparedCertificate(prepares=prepares_for(info, [0, 3, 3]))
    elif case == "prepared in the new view":
        votes = [prepare(s, info, view=1).message.to_pb() for s in (0, 1, 3)]
        cert = pb.PreparedCertificate(prepares=votes)
    elif case == "prepared block not attached":
        cert = pb.PreparedCertificate(prepares=prepares_for(info, [0, 1, 3]))
        attached = ()
    else:
        assert case == "forged checkpoint signature"
        proof = checkpoint_proof([0, 1, 3])
        proof[1] = forged(proof[1])
        return MessageReceived(view_change(3, 1, stable_height=8, checkpoint_proof=proof))
    return MessageReceived(view_change(3, 1, prepared=[cert]), attached)


@pytest.mark.parametrize(
    "case",
    [
        "short prepared certificate",
        "duplicated prepare signer",
        "prepared in the new view",
        "prepared block not attached",
        "forged checkpoint signature",
    ],
)
def test_malformed_view_change_is_rejected(case: str) -> None:
    r = new_replica(2)
    only_reject(r.step(malformed_view_change(case)), 3, "view_change", Reason.BAD_VIEW_CHANGE)
    # The same sender's well-formed VIEW-CHANGE is still accepted afterwards.
    good = view_change(3, 1, stable_height=8, checkpoint_proof=checkpoint_proof([0, 1, 3]))
    assert effects(r.step(MessageReceived(good))) == []
    out = r.step(MessageReceived(view_change(0, 1)))  # f+1 = 2 valid ones: we join view 1
    assert any(ViewRecord(1, False) in a.records for a in out if isinstance(a, Persist))
    assert len(broadcasts(out, "view_change")) == 1


def test_f_plus_one_valid_view_changes_make_the_replica_join_persisting_first() -> None:
    r = new_replica(2)
    info = block()
    full = pb.PreparedCertificate(prepares=prepares_for(info, [0, 1, 3]))
    assert effects(r.step(MessageReceived(view_change(3, 1)))) == []
    out = r.step(MessageReceived(view_change(0, 1, prepared=[full]), (info.block,)))
    assert rejects(out) == []
    persist_at = index_of(out, Persist)
    assert ViewRecord(1, False) in out[persist_at].records  # type: ignore[union-attr]
    assert persist_at < index_of(out, Broadcast, "view_change")
