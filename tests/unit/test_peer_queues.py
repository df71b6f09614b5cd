"""What waits for a slow or absent peer is bounded in bytes, oldest dropped first: a
queue of whole blocks must not pin hundreds of MB (consensus retransmits what matters)."""

from __future__ import annotations

from consensus.crypto import Ed25519Signer
from node.config import Limits
from node.transport import PeerLink

QUEUE_BYTES_MAX = Limits().peer_queue_bytes_max


def link(**bounds: int) -> PeerLink:
    limits = Limits()
    return PeerLink(
        "chain",
        Ed25519Signer(bytes(32)),
        "peer",
        "127.0.0.1:1",
        bytes(32),
        1 << 20,
        queue_frames_max=bounds.get("frames", limits.peer_queue_frames_max),
        queue_bytes_max=bounds.get("bytes", limits.peer_queue_bytes_max),
    )


def test_a_queue_keeps_at_most_its_byte_budget_newest_first() -> None:
    peer = link()
    block = 1 << 20
    for i in range(10):
        peer.send_consensus("license", bytes([i]) * block)
    queue = peer.consensus["license"]
    assert queue.size <= QUEUE_BYTES_MAX
    assert [q[0] for q in queue] == [6, 7, 8, 9]
    assert peer.dropped == 6
    assert peer.queued_bytes == queue.size
    # Another channel's queue has its own budget: small votes are not pushed out by blocks.
    peer.send_consensus("catalog", b"vote")
    assert list(peer.consensus["catalog"]) == [b"vote"]
    assert peer.queued_bytes == queue.size + 4


def test_one_item_larger_than_the_budget_is_still_sent() -> None:
    peer = link()
    peer.send_consensus("license", b"x" * (QUEUE_BYTES_MAX + 1))
    assert len(peer.consensus["license"]) == 1 and peer.dropped == 0


def test_the_bounds_are_the_configured_limits_per_channel_and_kind() -> None:
    peer = link(frames=3, bytes=100)
    for i in range(5):
        peer.send_consensus("license", bytes([i]) * 10)
    assert [q[0] for q in peer.consensus["license"]] == [2, 3, 4]  # the count bound
    peer.send_txs("license", [b"t" * 60, b"u" * 60])
    assert list(peer.txs["license"]) == [b"u" * 60]  # the byte bound, txs on their own
    assert len(peer.consensus["license"]) == 3


def test_a_link_sends_a_frame_of_gossip_then_the_votes_then_the_rest() -> None:
    """The txs gossiped just before a block reach the peer ahead of the compact
    pre-prepare naming them, but a vote never waits behind a whole gossip backlog."""
    import asyncio

    peer = link()
    batch = PeerLink.BATCH_ENVELOPES_MAX
    peer.send_txs("license", [b"t%d" % i for i in range(2 * batch + 10)])
    peer.send_consensus("license", b"vote")

    async def frames() -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        stream = peer._frames()
        await stream.__anext__()  # the hello
        while len(out) < 4:
            frame = await asyncio.wait_for(stream.__anext__(), 5)
            kind = frame.WhichOneof("kind")
            out.append(
                (kind, len(frame.txs.txs) if kind == "txs" else len(frame.consensus.envelopes))
            )
        return out

    assert asyncio.run(frames()) == [("txs", batch), ("consensus", 1), ("txs", batch), ("txs", 10)]
