"""Same seed, same run: in one process and across processes with other hash seeds."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from sim.byzantine import Mixed
from sim.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]


def fingerprint(seed: int) -> str:
    cluster = Cluster(
        4, seed, byzantine={2: Mixed}, checkpoint_interval_blocks=4, log_window_blocks=8
    )
    cluster.faults.drop_rate = 0.1
    cluster.faults.delay_max_ticks = 3
    cluster.faults.crash_rate = 0.005
    for _ in range(40):
        cluster.submit(4)
        cluster.run(3)
    h = hashlib.sha256()
    for node in cluster.nodes:
        h.update(b"".join(node.digests))
        h.update(b"%d/%d" % (node.replica.view, node.height))
    h.update(b"%d/%d/%d" % (cluster.steps, cluster.net.sent, cluster.net.dropped))
    return h.hexdigest()


def test_same_seed_gives_the_same_run() -> None:
    assert fingerprint(3) == fingerprint(3)
    assert fingerprint(3) != fingerprint(4)


def test_same_seed_gives_the_same_run_under_another_hash_seed() -> None:
    code = "from tests.sim.test_determinism import fingerprint; print(fingerprint(3))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == fingerprint(3)
