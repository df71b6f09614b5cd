"""`govchain status`: the whole testnet at a glance, one line per node and channel.

Pure formatting over GetStatus replies, so it is tested without a network. Lag is how
many blocks a node is behind the highest height any reachable node reports for the same
channel; the primary is shown by node id (from the nodes' own status replies).

Governance shows in the last columns: whether the node votes in the channel's current
set (member) or only follows it (observer), and, while a validator change is scheduled,
whether it is about to join or leave; the channel's governance sequence (what the next
proposal must name); and "next set from height X (n validators)" until the switch.

Failures are never hidden: a failed channel shows `FAILED` as its state and the reason
at the end of its line, and a node's failed background tasks get a line each.
"""

from __future__ import annotations

from protos import api_pb2 as api

HEADER = (
    f"{'node':18} {'channel':15} {'height':>7} {'lag':>4} {'view':>5} {'state':7} "
    f"{'primary':18} {'stable':>7} {'peers':>5} {'mempool':>8} {'role':8} {'gov':>4}"
)


def role(node_key: bytes, ch: api.ChannelStatus) -> str:
    """member or observer; joining or leaving while the next set would change that."""
    if ch.next_set_from_height:
        if not ch.member and node_key in ch.next_validators:
            return "joining"
        if ch.member and node_key not in ch.next_validators:
            return "leaving"
    return "member" if ch.member else "observer"


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
            state = "FAILED" if ch.failure else "active" if ch.view_active else "change"
            scheduled = (
                f"  next set from height {ch.next_set_from_height} "
                f"({len(ch.next_validators)} validators)"
                if ch.next_set_from_height
                else ""
            )
            if ch.failure:
                scheduled += f"  FAILED: {ch.failure}"
            lines.append(
                f"{r.node_id:18} {ch.channel:15} {ch.height:7} {top[ch.channel] - ch.height:4} "
                f"{ch.view:5} {state:7} {primary:18} {ch.stable_height:7} "
                f"{ch.peers_connected:>2}/{len(ch.validators) - ch.member:<2} {ch.mempool_txs:8} "
                f"{role(r.public_key, ch):8} {ch.governance_sequence:4}{scheduled}"
            )
        lines += [f"{r.node_id:18} FAILED task {failure}" for failure in r.failures]
    return "\n".join(lines)
