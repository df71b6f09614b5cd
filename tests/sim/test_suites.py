"""The real core on each crypto suite a genesis can name (issue 14 §1): the same campaign
signed and verified with ed25519-sha256 and with sm2-sm3, on a few seeds (SM2 verifies
about 2,000 signatures a second, so the long campaigns keep the cheap simulated scheme).

SM2 signatures are randomised: a replica that restarts from its persisted state and
re-sends a vote signs it anew, with other signature bytes. The campaign crashes replicas
between persisting and sending, and runs an equivocating primary, so the invariants
(every vote checked, no conflicting votes from an honest replica) see exactly that.
The suite's hash is the core's too: blocks are named, and their txs rooted, by SM3 on
sm2-sm3.
"""

from __future__ import annotations

import hashlib

import pytest

from consensus.reasons import Reason
from crypto import SUITE_NAMES, suite_by_name
from protos import consensus_pb2 as pb
from sim.byzantine import Equivocator
from sim.cluster import Cluster

SMALL = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, "block_txs_max": 10}


@pytest.mark.parametrize("suite", SUITE_NAMES)
@pytest.mark.parametrize("seed", [31, 32])
def test_crashes_mid_step_on_each_suite_commit_every_tx_once(suite: str, seed: int) -> None:
    cluster = Cluster(4, seed=seed, suite=suite, **SMALL)
    cluster.faults.crash_mid_step_rate = 0.02
    cluster.faults.restart_after_ticks = (1, 10)
    for _ in range(20):
        cluster.submit(3)
        cluster.run(3)
    cluster.heal()
    cluster.resubmit_uncommitted()
    assert cluster.run_until(cluster.all_committed, 3000), cluster.describe()
    key_bytes = 65 if suite == "sm2-sm3" else 32
    assert {len(s.public_key) for s in cluster.signers} == {key_bytes}
    assert all(len(cb.commits[0].signature) == 64 for cb in cluster.nodes[1].ledger)
    # The suite's hash names the blocks and roots their txs: SM3 on sm2-sm3.
    hash_ = suite_by_name(suite).hash
    node = cluster.nodes[1]
    for cb, digest in zip(node.ledger, node.digests, strict=True):
        header = pb.BlockHeader.FromString(cb.block.header)
        assert digest == hash_(cb.block.header)
        assert header.tx_root == suite_by_name(suite).merkle_root(list(cb.block.txs))
    assert (cluster.hash(b"x") == hashlib.new("sm3", b"x").digest()) == (suite == "sm2-sm3")


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_an_equivocating_primary_cannot_split_replicas_on_each_suite(suite: str) -> None:
    cluster = Cluster(4, seed=33, byzantine={0: Equivocator}, suite=suite, **SMALL)
    for _ in range(8):
        cluster.submit(5)
        cluster.run(3)
    assert cluster.run_until(cluster.all_committed, 2000), cluster.describe()
    rejected = sum(n.rejected.get(Reason.CONFLICTING_VOTE, 0) for n in cluster.honest_nodes())
    assert rejected > 0
