"""Validator-set changes by governance, on the simulated cluster (consensus/membership.py).

A governance tx committed in block H changes the set from E + 1 on, E = switch_height(H):
every honest node must switch at that same height, the new set must order (and sign)
every block above E, and the chain must stay safe (sim/invariants.py, which also
demands equal governance verdicts everywhere) and live through the change.
"""

from __future__ import annotations

import pytest

from consensus.membership import switch_height
from protos import consensus_pb2 as pb
from sim.cluster import Cluster, SimNode
from sim.governance import (
    SMALL,
    WINDOW,
    busy_until,
    change_set,
    check_certificates,
    cluster,
    commit_signers,
    everywhere,
    gov_tx,
    grow_and_shrink_under_chaos,
    keys,
    replayable,
    settle,
    switched,
    verdict,
    voted_heights,
    where,
)

# ------------------------------------------------------------------ grow and shrink


def grow(seed: int) -> tuple[Cluster, int]:
    """4 -> 5 under load: node 4 (an observer) is added by 3 approvals of 4."""
    c = cluster(seed)
    busy_until(c, lambda: c.nodes[0].height >= 5, 200)
    assert voted_heights(c, 4) == set() and c.nodes[4].height <= c.nodes[0].height
    _, end = change_set(c, gov_tx(c, [0, 1, 2], 0, add=4), [0, 1, 2, 3], [0, 1, 2, 3, 4])
    assert busy_until(c, lambda: min(n.height for n in c.nodes) > end + 2 * WINDOW, 1000)
    settle(c)
    return c, end


@pytest.mark.parametrize("seed", [101, 102, 103])
@replayable
def test_added_validator_catches_up_switches_at_e_and_votes(seed: int) -> None:
    c, end = grow(seed)
    top = c.nodes[0].height
    votes = voted_heights(c, 4)
    assert votes and min(votes) > end, "node 4 voted under the old set"
    assert votes >= set(range(end + 1, top + 1)), "node 4 missed commits after E"
    for h in range(end + 1, top + 1):
        assert any(4 in commit_signers(c, n.ledger[h - 1]) for n in c.nodes), f"block {h}"
    for node in c.nodes:
        check_certificates(c, node, [(1, [0, 1, 2, 3]), (end + 1, [0, 1, 2, 3, 4])])
    assert c.nodes[4].replica.is_member and c.nodes[4].replica.stable.height >= end


@pytest.mark.parametrize("seed", [111, 112])
@replayable
def test_removed_validator_stops_voting_and_follows_as_observer(seed: int) -> None:
    c, end = grow(seed)
    tx = gov_tx(c, [1, 2, 3, 4], 1, remove=4)  # 4 of 5, the leaving node approving too
    _, end2 = change_set(c, tx, [0, 1, 2, 3, 4], [0, 1, 2, 3])
    grown = c.nodes[0].height
    assert busy_until(c, lambda: min(n.height for n in c.nodes) > end2 + 3 * WINDOW, 1500)
    settle(c)
    assert c.nodes[4].height == c.nodes[0].height > grown, "the observer stopped following"
    assert not c.nodes[4].replica.is_member
    assert max(voted_heights(c, 4)) <= end2, "node 4 voted after its removal"
    sets = [(1, [0, 1, 2, 3]), (end + 1, [0, 1, 2, 3, 4]), (end2 + 1, [0, 1, 2, 3])]
    for node in c.nodes:
        check_certificates(c, node, sets)


@pytest.mark.parametrize("seed", [121, 122])
@replayable
def test_idle_chain_cuts_empty_blocks_to_reach_the_switch(seed: int) -> None:
    c = cluster(seed)
    c.submit(12)
    assert c.run_until(c.all_committed, 300)
    tx = gov_tx(c, [1, 2, 3], 0, add=4)
    height, end = change_set(c, tx, [0, 1, 2, 3], [0, 1, 2, 3, 4], busy=False)
    assert height < end
    c.run(300)  # idle after the switch: no more empty blocks, no view change
    for node in c.nodes:
        assert node.height == end, f"node {node.index} at {node.height}, E={end}"
        assert all(not cb.block.txs for cb in node.ledger[height:]), "filler blocks carry txs"
        assert node.replica.view == 0
    c.submit(3)
    settle(c, 300)
    assert c.nodes[0].height == end + 1
    assert 4 in commit_signers(c, c.nodes[4].ledger[end]), "the new set does not commit"


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("seed", [131, 132])
@replayable
def test_refused_proposals_change_nothing_and_every_node_agrees(seed: int) -> None:
    c = cluster(seed, observers=2, log_window_blocks=16)  # E far enough to refuse in time
    genesis = c.nodes[0].replica.membership

    def judged(tx: bytes) -> str:
        c.submit_txs([tx])
        assert busy_until(c, everywhere(c, tx), 400), c.describe()
        return verdict(c, tx)

    assert "2 approvals, 3 of 4" in judged(gov_tx(c, [0, 1], 0, add=4))
    assert "not a validator at this height" in judged(gov_tx(c, [0, 1, 4], 0, add=4))
    assert "sequence 1; the channel is at 0" in judged(gov_tx(c, [0, 1, 2], 1, add=4))
    assert all(n.replica.membership == genesis for n in c.honest_nodes())
    assert all(n.membership is None for n in c.nodes), "a refusal reached the world state"

    accepted = gov_tx(c, [0, 1, 2], 0, add=4, nonce=7)
    assert judged(accepted) == ""
    scheduled = c.nodes[0].replica.membership
    replay = gov_tx(c, [0, 1, 2], 0, add=4, nonce=8)  # the same approvals, another tx
    pending = gov_tx(c, [0, 1, 2], 1, add=5)
    c.submit_txs([replay, pending])
    assert busy_until(c, lambda: everywhere(c, replay)() and everywhere(c, pending)(), 400)
    assert "sequence 0; the channel is at 1" in verdict(c, replay)
    assert "a validator change is pending" in verdict(c, pending)
    assert (where(c, pending) or 0) <= switch_height(where(c, accepted) or 0, c.cfg)
    c.submit_txs([accepted])  # the very same tx again: never executed twice (invariants)
    assert all(n.replica.membership == scheduled for n in c.honest_nodes())

    assert busy_until(c, switched(c, [0, 1, 2, 3, 4]), 800), c.describe()
    assert "not a validator" in judged(gov_tx(c, [0, 1, 2, 3], 1, remove=5))
    assert "not a validator at this height" in judged(gov_tx(c, [0, 1, 2, 5], 1, remove=3))
    settle(c)
    assert all(n.replica.membership == scheduled for n in c.honest_nodes())
    assert scheduled.sequence == 1 and len(scheduled.epochs) == 2
    assert len({tuple(sorted(n.verdicts.items())) for n in c.honest_nodes()}) == 1
    assert sum(len(v) for v in c.nodes[0].verdicts.values()) == 8


# ------------------------------------------------------------------ the primary leaves


@pytest.mark.parametrize(("seed", "view"), [(141, 0), (142, 1)])
@replayable
def test_removing_the_current_primary_keeps_the_chain_committing(seed: int, view: int) -> None:
    c = cluster(seed, n=5, observers=0)
    if view:  # move to view 1 first: isolate node 0 until the others change view
        c.net.isolate(0)
        c.submit(4)
        assert c.run_until(lambda: all(n.replica.view >= 1 for n in c.nodes[1:]), 600)
        c.net.heal()
        settle(c)
    primary = c.primary_index()
    assert primary == view
    rest = [i for i in range(5) if i != primary]
    tx = gov_tx(c, rest[:4], 0, remove=primary)
    _, end = change_set(c, tx, list(range(5)), rest)
    assert busy_until(c, lambda: min(n.height for n in c.nodes) > end + 2 * WINDOW, 1000)
    settle(c)
    assert c.primary_index() != primary
    assert max(voted_heights(c, primary), default=0) <= end
    for cb in c.nodes[1].ledger[end:]:
        assert pb.BlockHeader.FromString(cb.block.header).proposer != c.signers[primary].public_key


# ------------------------------------------------------------------ crash around the switch


@pytest.mark.parametrize(("seed", "victim"), [(151, 2), (152, 4), (153, 0)])
@replayable
def test_node_crashed_across_the_switch_recovers_into_the_new_set(seed: int, victim: int) -> None:
    c = cluster(seed)
    busy_until(c, lambda: c.nodes[0].height >= 3, 200)
    tx = gov_tx(c, [0, 1, 3], 0, add=4)
    c.submit_txs([tx])
    # Crash once the victim knows of the change (or, for node 4, has heard of it) but
    # before the checkpoint at E is stable.
    assert busy_until(c, everywhere(c, tx), 400), c.describe()
    end = switch_height(where(c, tx) or 0, c.cfg)
    assert busy_until(c, lambda: c.nodes[0].height >= end - 2, 400), c.describe()
    assert c.nodes[victim].replica.stable.height < end
    c.crash(c.nodes[victim])
    c.restart_at[victim] = 10**9
    others = [i for i in range(5) if i != victim]

    def ahead() -> bool:
        return all(c.nodes[i].height > end + WINDOW for i in others)

    assert busy_until(c, ahead, 800), c.describe()
    assert all(c.nodes[i].replica.cfg.n == 5 for i in others), c.describe()
    c.restart(c.nodes[victim])
    ref = c.nodes[others[0]]
    top = ref.height

    def votes_again() -> bool:  # it catches up by block sync, then votes in the new set
        return max(voted_heights(c, victim), default=0) > top

    assert busy_until(c, votes_again, 800), c.describe()
    mark = ref.height
    assert busy_until(c, lambda: c.nodes[victim].height > mark + 2 * WINDOW, 800), c.describe()
    settle(c)
    back = c.nodes[victim].replica
    assert back.membership == ref.replica.membership == c.nodes[victim].membership
    assert back.cfg.validators == keys(c, [0, 1, 2, 3, 4]) and back.is_member
    votes = voted_heights(c, victim) & set(range(mark + 1, ref.height + 1))
    assert len(votes) > WINDOW, f"it votes for {sorted(votes)} only, once caught up"


@pytest.mark.parametrize("seed", [171])
@replayable
def test_member_that_missed_the_checkpoint_at_e_rejoins_the_view_change(seed: int) -> None:
    """Node 1 (in both sets) loses the CHECKPOINTs at E: it executed E but its stable
    checkpoint stays below. Node 0, primary of the new set, proposes blocks above E which
    2, 3 and 4 prepare, then crashes (f = 1 of 5). The new set needs a VIEW-CHANGE from
    each of 1..4: node 1's is refused (stable checkpoint below the set's start) and node 1
    refuses theirs (prepared certificates of the new set, checked against the old one).
    Nobody re-sends the checkpoint at E once stable and nobody has blocks past E: node 1
    learns the checkpoint from the proof a fetch answer carries even without blocks (it
    probes while stalled with peers reporting a higher stable checkpoint), re-sends its
    VIEW-CHANGE from E, and the chain goes on."""
    c = Cluster(4, seed, observers=1, **SMALL)
    tx = gov_tx(c, [0, 2, 3], 0, add=4)
    c.submit_txs([tx])
    assert c.run_until(everywhere(c, tx), 400), c.describe()
    end = switch_height(where(c, tx) or 0, c.cfg)
    deliver = c.deliver

    def lossy(dst: SimNode, data: object) -> None:
        if dst.index == 1 and isinstance(data, bytes) and c.nodes[0].alive:
            body = pb.Envelope.FromString(data).message.body
            msg = pb.ConsensusMessage.FromString(body)
            if msg.WhichOneof("kind") == "checkpoint" and msg.checkpoint.height == end:
                return
        deliver(dst, data)

    c.deliver = lossy  # type: ignore[method-assign]

    def switched_without_node_1() -> bool:
        grown = all(c.nodes[i].replica.cfg.n == 5 for i in (0, 2, 3, 4))
        return grown and c.nodes[1].height == end

    assert c.run_until(switched_without_node_1, 400), c.describe()
    assert c.nodes[1].replica.stable.height < end
    c.submit(30)  # node 0 cuts blocks above E at once; 2, 3 and 4 prepare them
    c.crash(c.nodes[0])
    c.restart_at[0] = 10**9

    def live() -> bool:
        return min(c.nodes[i].height for i in (1, 2, 3, 4)) > end + 2 * WINDOW

    assert busy_until(c, live, 600), c.describe()


# ------------------------------------------------------------------ chaos


# 163 (and 173, 217) once made a new primary equivocate: the NEW-VIEW's checkpoint was
# the switch height, and entering the new set proposed before the re-proposals were in.
@pytest.mark.parametrize("seed", [*range(161, 167), 415])
@replayable
def test_grow_and_shrink_under_chaos_stay_safe_and_live(seed: int) -> None:
    grow_and_shrink_under_chaos(seed)
