"""Hand-written scenarios on the simulated cluster, each named after what it shows.

Section numbers cite Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI'99.
"""

from __future__ import annotations

import pytest

from consensus.events import Timer
from consensus.reasons import Reason
from sim.byzantine import Equivocator, Forger, Silent
from sim.cluster import Cluster

SMALL = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, "block_txs_max": 10}


def committed_everywhere(cluster: Cluster, nodes: list[int] | None = None) -> bool:
    ids = list(cluster.submitted)
    chosen = [cluster.nodes[i] for i in nodes] if nodes is not None else cluster.honest_nodes()
    return all(all(t in n.executed_txs for t in ids) for n in chosen)


def test_single_validator_network_commits_alone() -> None:
    cluster = Cluster(1, seed=1)
    assert cluster.cfg.f == 0 and cluster.cfg.quorum == 1
    cluster.submit(25)
    assert cluster.run_until(cluster.all_committed, 50)
    assert cluster.nodes[0].height >= 1


def test_four_replicas_execute_every_tx_once_in_height_order() -> None:
    """§4.2 normal case: every block executes at every replica, in order, with a commit
    certificate (the invariants check order, parents and certificates at each step)."""
    cluster = Cluster(4, seed=2, **SMALL)
    for _ in range(30):
        cluster.submit(7)
        cluster.run(2)
    assert cluster.run_until(cluster.all_committed, 500)
    heights = {n.height for n in cluster.nodes}
    assert len(heights) == 1
    assert cluster.invariants.executions == 4 * heights.pop()
    assert len(cluster.invariants.chain_txs) == len(cluster.submitted) == 210


def test_primary_cuts_full_blocks_at_once_and_partial_blocks_after_the_interval() -> None:
    cluster = Cluster(4, seed=3, block_txs_max=5, block_interval_ticks=3)
    primary = cluster.nodes[0].replica
    cluster.submit(12)
    # Two full blocks are proposed immediately; the remaining 2 txs wait for the timer.
    assert primary.proposal_tip()[0] == 2
    assert Timer.BLOCK_CUT in primary.timer_tokens
    assert cluster.run_until(cluster.all_committed, 50)
    sizes = [len(cb.block.txs) for cb in cluster.nodes[1].ledger]
    assert sizes == [5, 5, 2]


def test_idle_network_cuts_no_empty_blocks() -> None:
    cluster = Cluster(4, seed=4, **SMALL)
    cluster.submit(3)
    assert cluster.run_until(cluster.all_committed, 100)
    height = cluster.nodes[0].height
    cluster.run(500)
    assert [n.height for n in cluster.nodes] == [height] * 4
    assert all(len(cb.block.txs) > 0 for cb in cluster.nodes[0].ledger)
    assert max(n.replica.view for n in cluster.nodes) == 0  # idle is not a failure


def test_pipelining_keeps_at_most_in_flight_blocks_max_uncommitted() -> None:
    cluster = Cluster(4, seed=5, in_flight_blocks_max=3, block_txs_max=1, log_window_blocks=16)
    primary = cluster.nodes[0].replica
    cluster.submit(40)
    assert primary.proposal_tip()[0] - primary.executed_height == 3
    most = 0
    for _ in range(200):
        cluster.tick()
        most = max(most, primary.proposal_tip()[0] - primary.executed_height)
    assert most <= 3
    assert cluster.all_committed()


def test_isolated_primary_is_replaced_and_prepared_block_survives() -> None:
    """§4.4: a block prepared at one replica only, then orphaned by its primary, is
    re-proposed by the new view's primary and commits with its original digest."""
    cluster = Cluster(4, seed=6, **SMALL)
    cluster.submit(5)
    nodes = cluster.nodes
    assert cluster.run_until(
        lambda: all(n.replica.slots.get(1) and n.replica.slots[1].accepted for n in nodes[1:]),
        20,
    )
    # Primary gone; replica 1 hears everyone's PREPARE, replicas 2 and 3 hear no one's.
    cluster.net.isolate(0)
    cluster.net.cut |= {(1, 2), (1, 3), (2, 3), (3, 2)}
    assert cluster.run_until(lambda: all(n.replica.view >= 1 for n in nodes[1:]), 400)
    prepared = nodes[1].replica.slots[1].prepared
    assert prepared is not None
    assert nodes[2].replica.slots[1].prepared is None
    assert all(n.height == 0 for n in nodes)
    cluster.net.cut.clear()
    cluster.net.isolate(0)
    assert cluster.run_until(lambda: committed_everywhere(cluster, [1, 2, 3]), 400)
    assert [n.digests[0] for n in nodes[1:]] == [prepared.digest] * 3
    cluster.net.heal()
    assert cluster.run_until(cluster.all_committed, 400)
    assert nodes[0].digests[0] == prepared.digest


def test_silent_primary_is_voted_out_and_txs_commit_in_the_next_view() -> None:
    cluster = Cluster(4, seed=7, byzantine={0: Silent}, **SMALL)
    cluster.submit(20)
    assert cluster.run_until(cluster.all_committed, 400)
    assert all(n.replica.view == 1 for n in cluster.honest_nodes())


def test_view_change_timeout_doubles_per_consecutive_failed_view() -> None:
    """With the next two primaries down too, each failed view waits twice as long."""
    cluster = Cluster(7, seed=8, view_change_timeout_ticks=10, view_change_timeout_max_ticks=1000)
    for i in (0, 1):
        cluster.crash(cluster.nodes[i])
        cluster.restart_at[i] = 10**9
    cluster.submit(3, to=[2, 3, 4, 5, 6])
    replica = cluster.nodes[3].replica
    waits = []
    for _ in range(400):
        before = replica.view
        cluster.tick()
        if replica.view != before:
            waits.append((replica.view, replica.view_change_timeout_ticks()))
        if replica.view_active and replica.view == 2:
            break
    assert waits[:2] == [(1, 20), (2, 40)]
    assert cluster.run_until(lambda: committed_everywhere(cluster, [2, 3, 4, 5, 6]), 400)


def test_replica_cut_off_alone_does_not_race_through_views() -> None:
    """A lone replica may start one view change, but waits for a quorum before timing
    out again (§4.5.2), so it can rejoin when the others move."""
    cluster = Cluster(4, seed=9, **SMALL)
    cluster.net.isolate(3)
    cluster.submit(5)
    cluster.run(2000)
    assert cluster.nodes[3].replica.view == 1
    assert not cluster.nodes[3].replica.view_active
    cluster.net.heal()
    assert cluster.run_until(cluster.all_committed, 600)


def test_equivocating_primary_cannot_split_honest_replicas() -> None:
    cluster = Cluster(4, seed=10, byzantine={0: Equivocator}, **SMALL)
    for _ in range(20):
        cluster.submit(5)
        cluster.run(3)
    assert cluster.run_until(cluster.all_committed, 2000)
    rejected = sum(n.rejected.get(Reason.CONFLICTING_VOTE, 0) for n in cluster.honest_nodes())
    assert rejected > 0


def test_lagging_replica_catches_up_by_fetching_certified_blocks() -> None:
    cluster = Cluster(4, seed=11, **SMALL)
    cluster.net.isolate(2)
    for _ in range(30):
        cluster.submit(10)
        cluster.run(3)
    assert cluster.run_until(lambda: committed_everywhere(cluster, [0, 1, 3]), 500)
    ahead = cluster.nodes[0].height
    assert ahead > 3 * SMALL["log_window_blocks"] and cluster.nodes[2].height == 0
    cluster.net.heal()
    assert cluster.run_until(cluster.all_committed, 500)
    assert cluster.nodes[2].digests == cluster.nodes[0].digests
    assert cluster.nodes[2].replica.stable.height > 0


def test_forged_fetched_blocks_are_refused_and_an_honest_peer_serves_instead() -> None:
    cluster = Cluster(4, seed=12, byzantine={1: Forger}, **SMALL)
    cluster.net.isolate(2)
    for _ in range(20):
        cluster.submit(10)
        cluster.run(3)
    cluster.net.heal()
    assert cluster.run_until(cluster.all_committed, 2000)
    assert cluster.nodes[2].digests == cluster.nodes[0].digests


def test_checkpoints_become_stable_and_garbage_collect_the_log() -> None:
    """§4.3: every checkpoint_interval_blocks a quorum of CHECKPOINTs makes a stable
    checkpoint; the log below it is dropped and the watermarks move."""
    cluster = Cluster(4, seed=13, **SMALL)
    for _ in range(40):
        cluster.submit(10)
        cluster.run(2)
    assert cluster.run_until(cluster.all_committed, 500)
    cluster.run(20)
    for node in cluster.nodes:
        r = node.replica
        assert r.stable.height == node.height - node.height % 4
        assert len(r.stable.proof) >= cluster.cfg.quorum
        assert all(h > r.stable.height for h in r.slots)
        assert all(h > r.stable.height for h in r.checkpoint_votes)


def test_crashed_replica_restarts_from_persisted_state_and_rejoins() -> None:
    cluster = Cluster(4, seed=14, **SMALL)
    cluster.submit(30)
    cluster.run(4)
    cluster.crash(cluster.nodes[1])
    cluster.restart_at[1] = 10**9
    cluster.submit(30)
    assert cluster.run_until(lambda: committed_everywhere(cluster, [0, 2, 3]), 300)
    cluster.restart(cluster.nodes[1])
    cluster.submit(10)
    assert cluster.run_until(cluster.all_committed, 500)


@pytest.mark.parametrize("seed", range(15, 23))
def test_crashes_between_persist_and_send_never_cause_equivocation(seed: int) -> None:
    """Crash after a random prefix of a step's actions: a replica restored from what it
    persisted re-sends only the votes it had sent (the invariants check every vote)."""
    cluster = Cluster(4, seed=seed, **SMALL)
    cluster.faults.crash_mid_step_rate = 0.02
    cluster.faults.restart_after_ticks = (1, 10)
    for _ in range(60):
        cluster.submit(3)
        cluster.run(3)
    cluster.heal()
    cluster.resubmit_uncommitted()
    assert cluster.run_until(cluster.all_committed, 3000), cluster.describe()
    assert sum(1 for _ in cluster.invariants.signed_votes) > 0


def test_real_ed25519_signatures_run_the_same_protocol() -> None:
    cluster = Cluster(4, seed=24, ed25519=True, **SMALL)
    cluster.crash(cluster.nodes[0])
    cluster.restart_at[0] = cluster.now + 100
    cluster.submit(20, to=[1, 2, 3])
    assert cluster.run_until(cluster.all_committed, 1000)
    assert cluster.nodes[1].replica.view >= 1
    assert all(len(cb.commits[0].signature) == 64 for cb in cluster.nodes[0].ledger)
