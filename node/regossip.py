"""Txs left waiting are offered again: to this node's core and to the channel's primary.

Why. A tx is gossiped to every peer once, when it is admitted. Under overload a peer's
send queue drops its oldest frames, and a core whose pending queue is full skips what it
cannot hold; a tx lost that way stayed in the mempool of the node that admitted it,
accepted, never proposed and never committed (a 1,000,000-tx run left 744 and 352 such
txs on two validators while the chain stood still, docs/benchmark.md). Every second this
task takes the txs that have waited more than REGOSSIP_AFTER_S (node/mempool.py `stale`,
oldest first, at most REGOSSIP_MAX txs and REGOSSIP_BYTES_MAX bytes: a quarter of a peer
queue's default byte bound) and offers them again to the node's own core (which
skips what it already holds) and to the current primary, which proposes blocks. If the
primary is faulty, the request timer changes the view and the next round reaches the
new one. Counted in `govchain_txs_regossiped_total`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.node import Channel, Node

REGOSSIP_AFTER_S = 2.0
REGOSSIP_MAX = 2000
REGOSSIP_BYTES_MAX = 1 << 20
PERIOD_S = 1.0


def regossip_once(node: Node, name: str, ch: Channel) -> int:
    """One round for one channel; how many txs were offered again."""
    stale = ch.admission.mempool.stale(REGOSSIP_AFTER_S, REGOSSIP_MAX, REGOSSIP_BYTES_MAX)
    if not stale:
        return 0
    runtime = ch.runtime
    runtime.add_txs(stale)
    primary = runtime.replica.cfg.primary(runtime.replica.view)
    link = node.links.get(primary)
    if primary != node.public_key and link is not None and not node.halted:
        link.send_txs(name, stale)
    runtime.regossiped += len(stale)
    return len(stale)


async def regossip_forever(node: Node, name: str, ch: Channel) -> None:
    while True:
        await asyncio.sleep(PERIOD_S)  # a period between rounds, not a wait for anything
        regossip_once(node, name, ch)
