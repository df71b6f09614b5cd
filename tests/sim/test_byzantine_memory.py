"""A Byzantine validator cannot make an honest replica hold more than its buffer bounds.

Issue 11 §3: votes for future views were buffered whole, with their blocks, up to 256
per peer and with no byte bound; one peer with a valid key drove honest nodes to 550 MB.
Here one Byzantine replica floods ever higher views with near-max-size blocks on every
tick, and the bytes each honest replica buffers are measured after every step, straight
from its buffers (not through the replica's own accounting).
"""

from __future__ import annotations

from consensus.events import MessageReceived
from consensus.replica import Replica
from sim.byzantine import BigFutureFlooder
from sim.cluster import Cluster, SimNode

LIMITS = {
    "checkpoint_interval_blocks": 4,
    "log_window_blocks": 8,
    "block_txs_max": 20,
    "block_bytes_max": 32 << 10,
    "tx_bytes_max": 8 << 10,
    "future_bytes_per_peer_max": 128 << 10,
    "orphan_bytes_max": 128 << 10,
}


def held_bytes(r: Replica) -> int:
    """Early votes and orphans with their blocks, whatever the buffers' shape."""

    def size(ev: MessageReceived) -> int:
        blocks = sum(len(b.header) + sum(map(len, b.txs)) for b in ev.blocks)
        return len(ev.message.body) + len(ev.message.signature) + blocks

    future = sum(size(ev) for queue in r.future.values() for ev in queue)
    return future + sum(size(ev) for ev in r.orphans.values())


def test_future_view_flood_with_large_blocks_stays_within_the_byte_bounds() -> None:
    cluster = Cluster(4, seed=31, byzantine={3: BigFutureFlooder}, **LIMITS)
    cfg = cluster.cfg
    bound = (cfg.n - 1) * cfg.future_bytes_per_peer_max + cfg.orphan_bytes_max
    most = 0
    step = cluster.step

    def measured(node: SimNode, event: object) -> None:
        nonlocal most
        step(node, event)  # type: ignore[arg-type]
        for honest in cluster.honest_nodes():
            held = held_bytes(honest.replica)
            most = max(most, held)
            assert held <= bound, f"node {honest.index} buffers {held} bytes > {bound}"

    cluster.step = measured  # type: ignore[method-assign]
    for _ in range(40):
        cluster.submit(5)
        cluster.run(5)
    assert cluster.run_until(cluster.all_committed, 500), cluster.describe()
    flooded = sum(n.rejected.get("future_buffer_full", 0) for n in cluster.honest_nodes())
    assert flooded > 0  # the flood did reach the bound, and was refused there
    assert most > cfg.future_bytes_per_peer_max // 2
    for honest in cluster.honest_nodes():
        assert honest.replica.buffered_bytes() <= bound
