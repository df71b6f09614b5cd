"""Block fetches between nodes: bounds on what a requester accepts and a server sends.

A peer asked for blocks may be down, slow, or Byzantine: it may answer never, late, with
more blocks than asked, with an answer too large to hold, or with forged blocks. The
requester gives each peer `fetch_timeout_ms`, refuses an answer over
`fetch_answer_bytes_max` or with more blocks than asked, and asks one peer at most
`fetch_peer_calls_per_s` times a second; a peer that fails is reported to the core, which
asks it last for a while (consensus/catchup.py), and the next peer is asked. Forged
blocks are the core's to find (their commit certificates), and count against the peer too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

from protos import api_pb2 as api
from protos import consensus_pb2 as cpb

if TYPE_CHECKING:
    from node.node import Node

# Why a fetch from one peer gave nothing usable: the `reason` label of
# govchain_fetch_failures_total ("invalid" is the core's verdict on the blocks).
FAILURE_REASONS = ("timeout", "error", "too_large", "too_many_blocks", "throttled", "invalid")


class FetchFailed(Exception):
    """A fetch from one peer gave no usable answer; `reason` is one of FAILURE_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def failure_reason(error: BaseException) -> str:
    """The metric label of a failed fetch: its own reason, a timeout, or any other error."""
    if isinstance(error, FetchFailed):
        return error.reason
    if isinstance(error, TimeoutError):
        return "timeout"
    return "error"


def check_reply(
    reply: api.FetchBlocksResponse, first: int, last: int, bytes_max: int
) -> str | None:
    """Why an answer to a fetch of [first, last] is refused before the core sees it, or
    None. The blocks themselves (heights, parents, certificates) are the core's to judge."""
    if len(reply.blocks) > max(0, last - first + 1):
        return "too_many_blocks"
    if reply.ByteSize() > bytes_max:
        return "too_large"
    return None


def bounded_reply(
    blocks: Sequence[cpb.CertifiedBlock], proof: Sequence[cpb.SignedMessage], bytes_max: int
) -> api.FetchBlocksResponse:
    """The server's answer: the checkpoint proof and as many of the blocks, in order, as
    fit in `bytes_max` (at least one, so a single large block still syncs). A requester
    with the same bound then never refuses an honest answer as too large."""
    reply = api.FetchBlocksResponse(checkpoint=list(proof))
    size = reply.ByteSize()
    for block in blocks:
        size += block.ByteSize() + 6  # the field's tag and length prefix
        if reply.blocks and size > bytes_max:
            break
        reply.blocks.append(block)
    return reply


async def fetch_blocks(
    node: Node, peer: bytes, channel: str, first: int, last: int
) -> api.FetchBlocksResponse:
    """Ask one peer for blocks [first, last], within the node's fetch limits; raise
    FetchFailed (with the reason the metrics count) if it gives no usable answer."""
    limits = node.config.limits
    if not node.fetch_limiter.allow(peer.hex()):
        raise FetchFailed("throttled")
    link = node.links.get(peer)
    if link is None:
        raise FetchFailed("error", "no link to that peer")
    request = api.FetchBlocksRequest(channel=channel, from_height=first, to_height=last)
    try:
        reply = await link.stub().FetchBlocks(request, timeout=limits.fetch_timeout_ms / 1000)
    except grpc.aio.AioRpcError as e:
        timed_out = e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        raise FetchFailed("timeout" if timed_out else "error", e.code().name) from e
    problem = check_reply(reply, first, last, limits.fetch_answer_bytes_max)
    if problem is not None:
        raise FetchFailed(problem, f"{len(reply.blocks)} blocks, {reply.ByteSize()} bytes")
    return reply
