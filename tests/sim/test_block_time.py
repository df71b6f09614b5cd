"""Block time is Byzantine-tolerant (consensus/block_time.py): a primary that lies about
time never gets its block committed, and honest primaries whose clocks differ by less than
the skew bound stay live. The invariants also check, on every run of the simulator, that
chain time strictly increases."""

from __future__ import annotations

import random

import pytest

from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from sim.byzantine import TimeLiar
from sim.cluster import TICK_MS, Cluster, Faults

SKEW_MS = 1_000  # 20 ticks of 50 ms: short, so idle gaps beyond it are cheap to simulate
SMALL = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, "block_txs_max": 10}
IDLE_TICKS = 2 * SKEW_MS // TICK_MS  # longer than the skew: "just after the parent" is stale


def liar_cluster(seed: int, *modes: str) -> tuple[Cluster, TimeLiar]:
    """Node 0 (the primary of view 0, and of every 4th view after) lies about time."""
    liars: list[TimeLiar] = []

    def make(cluster: Cluster, index: int) -> TimeLiar:
        liars.append(TimeLiar(cluster, index, *modes))
        return liars[-1]

    cluster = Cluster(4, seed, byzantine={0: make}, block_time_skew_ms=SKEW_MS, **SMALL)
    return cluster, liars[0]


def committed_digests(cluster: Cluster) -> set[bytes]:
    return {d for n in cluster.honest_nodes() for d in n.digests}


@pytest.mark.parametrize("mode", ["future", "past", "parent"])
def test_a_primary_lying_about_time_never_gets_the_block_committed(mode: str) -> None:
    cluster, liar = liar_cluster(11, mode)
    for _ in range(6):
        cluster.run(IDLE_TICKS)  # the chain idles past the skew before each batch
        cluster.submit(5)
        assert cluster.run_until(cluster.all_committed, 2_000), cluster.describe()
    assert liar.lies, "the liar never proposed: the test would prove nothing"
    assert not liar.lies & committed_digests(cluster)
    refused = sum(n.rejected.get(Reason.BAD_TIMESTAMP, 0) for n in cluster.honest_nodes())
    assert refused > 0
    assert cluster.max_view() > 0  # the lying primary was voted out


def test_refused_time_is_judged_on_the_clock_at_arrival() -> None:
    """The same block time is fine for a replica whose clock agrees and refused by one
    whose clock is more than the skew away: each replica judges by its own clock."""
    cluster = Cluster(4, seed=12, block_time_skew_ms=SKEW_MS, **SMALL)
    cluster.nodes[3].clock_offset_ms = 3 * SKEW_MS  # a broken clock on one backup
    cluster.submit(10)
    assert cluster.run_until(lambda: cluster.nodes[1].height >= 1, 200)
    assert cluster.nodes[3].rejected.get(Reason.BAD_TIMESTAMP, 0) > 0
    assert all(cluster.nodes[i].rejected.get(Reason.BAD_TIMESTAMP, 0) == 0 for i in (1, 2))
    assert cluster.run_until(cluster.all_committed, 2_000)  # node 3 catches up by sync


def test_honest_primaries_with_clocks_within_the_skew_stay_live() -> None:
    cluster = Cluster(4, seed=13, block_time_skew_ms=SKEW_MS, **SMALL)
    offsets = [int(0.4 * SKEW_MS), -int(0.4 * SKEW_MS), int(0.2 * SKEW_MS), 0]
    for node, offset in zip(cluster.nodes, offsets, strict=True):
        node.clock_offset_ms = offset
    cluster.faults = Faults(delay_max_ticks=2)
    for round_ in range(40):
        cluster.submit(3)
        cluster.run(3 if round_ % 10 else IDLE_TICKS)
    assert cluster.run_until(cluster.all_committed, 2_000), cluster.describe()
    assert all(n.rejected.get(Reason.BAD_TIMESTAMP, 0) == 0 for n in cluster.nodes)
    assert cluster.max_view() == 0
    times = [cluster.invariants.chain_time[h] for h in sorted(cluster.invariants.chain_time)]
    assert times == sorted(set(times))  # strictly increasing, genesis first


def test_a_primary_with_a_clock_beyond_the_skew_is_replaced_and_the_chain_goes_on() -> None:
    cluster = Cluster(4, seed=14, block_time_skew_ms=SKEW_MS, **SMALL)
    cluster.nodes[0].clock_offset_ms = 5 * SKEW_MS  # honest code, wrong clock
    cluster.submit(20)
    assert cluster.run_until(cluster.all_committed, 3_000), cluster.describe()
    assert cluster.max_view() >= 1
    primaries = {
        cluster.index_of[cb_proposer]
        for n in cluster.honest_nodes()
        for cb_proposer in proposers(n.ledger)
    }
    assert 0 not in primaries


def proposers(ledger: list[pb.CertifiedBlock]) -> list[bytes]:
    return [pb.BlockHeader.FromString(cb.block.header).proposer for cb in ledger]


@pytest.mark.parametrize("seed", range(100, 112))
def test_time_liar_under_chaos_then_healed(seed: int) -> None:
    """Drops, duplicates, delays, crashes and partitions with a time liar among the four
    (future times, or its parent's: lies that break the rule whatever the timing); after
    healing every tx commits, and no falsely stamped block is in any ledger."""
    cluster, liar = liar_cluster(seed, "future", "parent")
    rng = random.Random(seed)
    cluster.faults = Faults(
        drop_rate=0.05,
        dup_rate=0.05,
        delay_max_ticks=4,
        crash_rate=0.002,
        partition_rate=0.005,
    )
    for _ in range(600):
        if rng.random() < 0.08:
            cluster.submit(rng.randint(1, 8))
        if cluster.now % 50 == 0:
            cluster.resubmit_uncommitted()
        cluster.tick()
    cluster.heal()
    cluster.resubmit_uncommitted()
    assert cluster.run_until(cluster.all_committed, 6_000), f"seed={seed}\n{cluster.describe()}"
    assert not liar.lies & committed_digests(cluster), f"seed={seed}"
