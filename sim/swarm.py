"""Seeded swarm runs: one seed picks the cluster, the Byzantine set and every fault rate.

A run is chaos first (safety is checked after every step), then healing: faults stop,
crashed nodes restart, Byzantine nodes keep misbehaving, and every honest replica must
reach the same height with every submitted tx committed within a bounded number of
ticks (liveness). A failure names its seed and the command that replays it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sim.byzantine import BEHAVIOURS
from sim.cluster import Cluster, Faults
from sim.invariants import SafetyViolation


class LivenessFailure(AssertionError):
    pass


def replay_command(seed: int) -> str:
    return f".venv/bin/python scripts/sim_campaign.py --replay {seed}"


@dataclass
class SwarmPlan:
    seed: int
    n: int
    byzantine: dict[int, str]
    faults: Faults
    config: dict[str, int]
    chaos_ticks: int
    tx_batches: int
    tx_pad: int
    notes: list[str] = field(default_factory=list)
    clock_offsets_ms: list[int] = field(default_factory=list)  # per node, honest ones within

    @classmethod
    def from_seed(cls, seed: int) -> SwarmPlan:
        rng = random.Random(seed ^ 0x5EED)
        n = rng.choice((1, 2, 3, 4, 4, 4, 4, 5, 6, 7, 7))
        f = (n - 1) // 3
        names = sorted(BEHAVIOURS)
        byz_count = rng.randint(0, f)
        byz_nodes = rng.sample(range(n), byz_count)
        byzantine = {i: rng.choice(names) for i in sorted(byz_nodes)}
        faults = Faults(
            drop_rate=rng.choice((0.0, 0.02, 0.1, 0.25)),
            dup_rate=rng.choice((0.0, 0.05, 0.2)),
            delay_max_ticks=rng.choice((0, 1, 3, 8)),
            crash_rate=rng.choice((0.0, 0.002, 0.01)),
            crash_mid_step_rate=rng.choice((0.0, 0.001, 0.005)),
            partition_rate=rng.choice((0.0, 0.01, 0.03)),
        )
        interval = rng.choice((2, 4, 8))
        config = {
            "block_txs_max": rng.choice((1, 3, 10, 50)),
            "block_interval_ticks": rng.choice((1, 2, 4)),
            "in_flight_blocks_max": rng.choice((1, 2, 4)),
            "checkpoint_interval_blocks": interval,
            "log_window_blocks": interval * rng.choice((2, 3)),
            "view_change_timeout_ticks": rng.choice((10, 20, 40)),
            "view_change_timeout_max_ticks": 160,
            "status_interval_ticks": rng.choice((5, 10)),
            "fetch_blocks_max": rng.choice((2, 8, 32)),
            "future_messages_per_peer_max": rng.choice((16, 64)),
        }
        plan = cls(
            seed, n, byzantine, faults, config, rng.choice((200, 400)), 40, rng.choice((0, 64))
        )
        # Clocks are drawn from their own stream so that adding them left every earlier
        # seed's plan unchanged: a skew bound, and per node a clock error within a third of
        # it (Byzantine nodes may be anywhere).
        clocks = random.Random(seed ^ 0xC10C)
        skew = clocks.choice((2_000, 10_000))
        plan.config["block_time_skew_ms"] = skew
        plan.clock_offsets_ms = [
            clocks.randint(-skew // 3, skew // 3)
            if i not in byzantine
            else clocks.randint(-3 * skew, 3 * skew)
            for i in range(n)
        ]
        # Flaky links (a node told its link to a live peer is lost: a wrong suspicion of
        # the primary), also from their own stream.
        plan.faults.link_flap_rate = random.Random(seed ^ 0xF1A9).choice((0.0, 0.02, 0.1))
        return plan

    def describe(self) -> str:
        f = self.faults
        byz = ", ".join(f"{i}:{b}" for i, b in self.byzantine.items()) or "none"
        return (
            f"n={self.n} byzantine=[{byz}] drop={f.drop_rate} dup={f.dup_rate} "
            f"delay<={f.delay_max_ticks} crash={f.crash_rate} crash_mid={f.crash_mid_step_rate} "
            f"partition={f.partition_rate} flaps={f.link_flap_rate} "
            f"clocks_ms={self.clock_offsets_ms} {self.config}"
        )


@dataclass
class SwarmResult:
    seed: int
    ticks: int
    steps: int
    height: int
    executions: int
    txs: int
    max_view: int


def run_swarm(seed: int, liveness_ticks: int = 6000) -> SwarmResult:
    """Run one seed; raise SafetyViolation or LivenessFailure naming the seed."""
    plan = SwarmPlan.from_seed(seed)
    byz = {i: BEHAVIOURS[name] for i, name in plan.byzantine.items()}
    cluster = Cluster(plan.n, seed, byzantine=byz, **plan.config)
    cluster.faults = plan.faults
    for node, offset in zip(cluster.nodes, plan.clock_offsets_ms, strict=True):
        node.clock_offset_ms = offset
    rng = random.Random(seed ^ 0xC11E)
    try:
        for _ in range(plan.chaos_ticks):
            if rng.random() < plan.tx_batches / plan.chaos_ticks:
                cluster.submit(rng.randint(1, 12), plan.tx_pad)
            if cluster.now % 50 == 0:
                cluster.resubmit_uncommitted()
            cluster.tick()
        cluster.heal()
        cluster.resubmit_uncommitted()
        ok = cluster.run_until(cluster.all_committed, liveness_ticks)
    except SafetyViolation as e:
        raise SafetyViolation(
            f"seed={seed}: {e}\n{plan.describe()}\nreplay: {replay_command(seed)}"
        ) from e
    if not ok:
        raise LivenessFailure(
            f"seed={seed}: no liveness within {liveness_ticks} ticks after healing\n"
            f"{plan.describe()}\n{cluster.describe()}\nreplay: {replay_command(seed)}"
        )
    return SwarmResult(
        seed,
        cluster.now,
        cluster.steps,
        cluster.honest_nodes()[0].height,
        cluster.invariants.executions,
        len(cluster.submitted),
        cluster.max_view(),
    )
