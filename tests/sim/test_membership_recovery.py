"""A set switch with messages lost at the worst moment: replicas that would otherwise be
left behind for good (found in review; `test_membership.py` has the main scenarios).

- A validator removed at E that loses the CHECKPOINTs at E: the others switch and stop
  sending to it, so it must find the checkpoint itself and become an observer that keeps
  following the chain (not a "member" that answers clients and gossips into the void).
- A member still waiting for a NEW-VIEW when the set switches: the new set's primary of
  that view may not be the replica that sent it, so the NEW-VIEW never comes again; the
  member takes the view f+1 members work in and votes again.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consensus.membership import switch_height
from protos import consensus_pb2 as pb
from sim.cluster import Cluster, SimNode
from sim.governance import (
    SMALL,
    busy_until,
    everywhere,
    gov_tx,
    replayable,
    voted_heights,
    where,
)


def dropping(c: Cluster, victim: int, drop: Callable[[pb.ConsensusMessage], bool]) -> list[bool]:
    """Make the network lose the messages to `victim` that `drop` picks, while the
    returned flag is set."""
    on = [True]
    deliver = c.deliver

    def lossy(dst: SimNode, data: object) -> None:
        if on[0] and dst.index == victim and isinstance(data, bytes):
            body = pb.Envelope.FromString(data).message.body
            if drop(pb.ConsensusMessage.FromString(body)):
                return
        deliver(dst, data)

    c.deliver = lossy  # type: ignore[method-assign]
    return on


@pytest.mark.parametrize("seed", [11, 12, 13])
@replayable
def test_removed_validator_that_missed_the_checkpoint_at_e_becomes_an_observer(
    seed: int,
) -> None:
    c = Cluster(5, seed, **SMALL)
    c.faults.delay_max_ticks = 1
    x = 4
    busy_until(c, lambda: c.nodes[0].height >= 3, 200)
    tx = gov_tx(c, [0, 1, 2, 3], 0, remove=x)
    c.submit_txs([tx])
    assert c.run_until(everywhere(c, tx), 800)
    at = where(c, tx)
    assert at is not None
    end = switch_height(at, c.cfg)
    on = dropping(
        c, x, lambda m: m.WhichOneof("kind") == "checkpoint" and m.checkpoint.height == end
    )
    assert c.run_until(lambda: all(c.nodes[i].replica.cfg.n == 4 for i in range(4)), 800)
    on[0] = False
    removed = c.nodes[x].replica
    assert c.run_until(lambda: not removed.is_member and removed.stable.height >= end, 800), (
        f"stuck: stable {removed.stable.height}, set of {removed.cfg.n}, end {end}"
    )
    assert removed.me not in removed.audience  # it no longer takes client txs
    c.submit(5, to=[0, 1, 2, 3])
    top = lambda: max(c.nodes[i].height for i in range(4))  # noqa: E731
    assert c.run_until(lambda: c.nodes[x].height == top() > end, 1500)  # still following


@pytest.mark.parametrize("seed", [7, 8, 9])
@replayable
def test_member_waiting_for_a_new_view_at_the_switch_votes_again(seed: int) -> None:
    c = Cluster(5, seed, **SMALL)
    c.faults.delay_max_ticks = 1
    y = 4
    on = dropping(c, y, lambda m: m.WhichOneof("kind") == "new_view")
    busy_until(c, lambda: c.nodes[0].height >= 3, 200)
    c.net.isolate(0)
    others = c.nodes[1:4]
    assert busy_until(
        c, lambda: all(n.replica.view >= 1 and n.replica.view_active for n in others), 600
    )
    c.net.heal()
    tx = gov_tx(c, [1, 2, 3, 4], 0, remove=0)  # the view-1 primary changes with the set
    c.submit_txs([tx])
    assert busy_until(c, everywhere(c, tx), 800)
    assert busy_until(c, lambda: all(n.replica.cfg.n == 4 for n in others), 800)
    on[0] = False
    mark = max(n.height for n in c.nodes)
    busy_until(c, lambda: max(n.height for n in c.nodes) > mark + 20, 1500)
    votes = sorted(h for h in voted_heights(c, y) if h > mark)
    assert votes, f"node {y} never votes again: {c.describe()}"
    assert c.nodes[y].replica.view_active
