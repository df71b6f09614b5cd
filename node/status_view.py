"""`govchain status`: the whole testnet at a glance, one line per node and channel.

Pure formatting over GetStatus replies, so it is tested without a network. Lag is how
many blocks a node is behind the highest height any reachable node reports for the same
channel; the primary is shown by node id (from the nodes' own status replies).
"""

from __future__ import annotations

from protos import api_pb2 as api

HEADER = (
    f"{'node':18} {'channel':15} {'height':>7} {'lag':>4} {'view':>5} {'state':7} "
    f"{'primary':18} {'stable':>7} {'peers':>5} {'mempool':>8}"
)


def render_status(replies: list[tuple[str, api.GetStatusResponse | str]]) -> str:
    """`replies`: (node name or address, its GetStatus reply or why it was unreachable)."""
    names = {r.public_key: r.node_id for _, r in replies if isinstance(r, api.GetStatusResponse)}
    top: dict[str, int] = {}
    for _, r in replies:
        if isinstance(r, api.GetStatusResponse):
            for ch in r.channels:
                top[ch.channel] = max(top.get(ch.channel, 0), ch.height)
    lines = [HEADER]
    for name, r in replies:
        if not isinstance(r, api.GetStatusResponse):
            lines.append(f"{name:18} unreachable ({r})")
            continue
        for ch in r.channels:
            primary = names.get(ch.primary, ch.primary.hex()[:16])
            state = "active" if ch.view_active else "change"
            lines.append(
                f"{r.node_id:18} {ch.channel:15} {ch.height:7} {top[ch.channel] - ch.height:4} "
                f"{ch.view:5} {state:7} {primary:18} {ch.stable_height:7} "
                f"{ch.peers_connected:>2}/{len(ch.validators) - 1:<2} {ch.mempool_txs:8}"
            )
    return "\n".join(lines)
