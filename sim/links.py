"""What the node tells its core about its peer links, in the simulator.

A killed process closes its TCP connections at once, so the node of every live peer sees
its inbound stream from it end and feeds `PeerLinkChanged(peer, up=False)`; a restart
opens them again (`up=True`). A flaky link does the same to one node while the peer lives:
`flap` plays that at random, so the swarm checks that a wrong suspicion of the primary
neither breaks safety nor starts a view-change storm.

Link events are the node's own observations: scheduled from a node to itself, they arrive
whatever the link faults (as a fetch the node gave up on does), one tick later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consensus.events import PeerLinkChanged

if TYPE_CHECKING:
    from sim.cluster import Cluster, SimNode

FLAP_TICKS = (1, 40)  # how long a flapped link stays down


def announce(cluster: Cluster, node: SimNode, up: bool) -> None:
    """Every other live node sees its link to `node` end (a crash) or return (a restart)."""
    key = node.signer.public_key
    for other in cluster.nodes:
        if other is not node and other.alive:
            event = PeerLinkChanged(key, up)
            cluster.net.schedule(cluster.now + 1, other.index, other.index, event)


def flap(cluster: Cluster) -> None:
    """One live node loses its link to one live peer for a while, the peer being alive."""
    alive = [n for n in cluster.nodes if n.alive]
    if len(alive) < 2:
        return
    node, peer = cluster.rng.sample(alive, 2)
    key = peer.signer.public_key
    back = cluster.now + cluster.rng.randint(*FLAP_TICKS)
    cluster.net.schedule(cluster.now + 1, node.index, node.index, PeerLinkChanged(key, False))
    cluster.net.schedule(back, node.index, node.index, PeerLinkChanged(key, True))
