"""The simulator is only worth its green runs if it can fail: plant a bug, watch it fail."""

from __future__ import annotations

from consensus.config import ConsensusConfig
from sim.byzantine import SplitBrain
from sim.cluster import Cluster
from sim.invariants import SafetyViolation


class WrongQuorumConfig(ConsensusConfig):
    """A copy of the config whose quorum is f+1 instead of ceil((n+f+1)/2)."""

    @property
    def quorum(self) -> int:
        return self.f + 1


def run_until_violation(config: type[ConsensusConfig], seeds: range) -> list[str]:
    found = []
    for seed in seeds:
        cluster = Cluster(
            4,
            seed,
            byzantine={0: SplitBrain},
            config=config,
            checkpoint_interval_blocks=4,
            log_window_blocks=8,
            block_txs_max=5,
        )
        try:
            for _ in range(40):
                cluster.submit(5)
                cluster.run(3)
        except SafetyViolation as e:
            found.append(f"seed={seed}: {e}")
    return found


def test_planted_wrong_quorum_is_caught_as_a_safety_violation() -> None:
    found = run_until_violation(WrongQuorumConfig, range(10))
    assert len(found) == 10, "the simulator missed a quorum of f+1"
    assert all("agreement violated" in f for f in found)


def test_same_runs_with_the_right_quorum_are_safe() -> None:
    assert run_until_violation(ConsensusConfig, range(10)) == []
