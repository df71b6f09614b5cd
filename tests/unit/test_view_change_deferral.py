"""A lagging replica does not leave a view that works for everybody else.

Under saturation a CPU-starved replica's request timer fires while the others commit in
the same view; changing view alone would cut it off from that view (it would refuse its
messages as stale) until the others change too. With f+1 peers (so at least one honest)
reporting the view active and ahead of it, it fetches the blocks and waits one more
timeout, once per height: a view that brings it no progress is still left.
"""

from __future__ import annotations

from consensus.actions import Action, FetchBlocks, SetTimer
from consensus.events import Tick, Timer, TxsReady
from protos import consensus_pb2 as pb
from tests.unit.replica_events import broadcasts, new_replica, received, txs


def status(by: int, height: int, view: int = 0, active: bool = True):
    return received(by, "status", pb.Status(view=view, view_active=active, executed_height=height))


def view_change_timer(actions: list[Action]) -> SetTimer:
    (timer,) = [a for a in actions if isinstance(a, SetTimer) and a.timer is Timer.VIEW_CHANGE]
    return timer


def test_a_lagging_replica_fetches_instead_of_changing_view_once_per_height() -> None:
    r = new_replica(1)
    timer = view_change_timer(r.step(TxsReady(txs(1, 2), 0)))  # outstanding work: armed
    for by in (0, 2):
        r.step(status(by, height=5))
    out = r.step(Tick(Timer.VIEW_CHANGE, timer.token))
    assert broadcasts(out, "view_change") == []
    (fetch,) = [a for a in out if isinstance(a, FetchBlocks)]
    assert (fetch.from_height, fetch.to_height) == (1, 5)
    retry = view_change_timer(out)
    # No progress by the next timeout: now the view change goes ahead.
    out = r.step(Tick(Timer.VIEW_CHANGE, retry.token))
    assert len(broadcasts(out, "view_change")) == 1
    assert r.view == 1 and not r.view_active


def test_f_peers_ahead_or_peers_in_another_view_do_not_hold_the_view_change() -> None:
    cases = [
        [status(0, 5)],  # only f peers ahead
        [status(0, 5), status(2, 5, view=1)],  # the second is in another view
        [status(0, 5, active=False), status(2, 5, active=False)],  # changing view
        [status(0, 0), status(2, 0)],  # not ahead
    ]
    for peers in cases:
        r = new_replica(1)
        timer = view_change_timer(r.step(TxsReady(txs(1), 0)))
        for msg in peers:
            r.step(msg)
        out = r.step(Tick(Timer.VIEW_CHANGE, timer.token))
        assert len(broadcasts(out, "view_change")) == 1, peers
