"""The node's side of block sync against slow, failing and oversized peers (issue 11 §5).

A channel runtime asks the peers the core names, in order: a peer that hangs is given
fetch_timeout_s and the next is asked; every failure is counted per peer and reason and
reported to the core; blocks go to the core with the peer that served them. Node.fetch
applies the node's limits: a rate per peer, a deadline, a bound on the answer.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import grpc
import pytest

from chains.kv import KvApplication
from consensus.actions import FetchBlocks
from consensus.config import ConsensusConfig
from consensus.crypto import Ed25519Signer
from consensus.events import BlocksFetched
from node.config import Limits
from node.executor import Executor
from node.fetching import FetchFailed, bounded_reply, check_reply
from node.mempool import Mempool
from node.node import Node
from node.ratelimit import RateLimiter
from node.runtime import ChannelRuntime
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from storage.ledger import ChannelLedger
from storage.stores import MemoryStore

CHAIN, CHANNEL = "govchain-test", "license"
SIGNERS = [Ed25519Signer(bytes([i]) * 32) for i in range(1, 5)]
KEYS = [s.public_key for s in SIGNERS]


def certified(height: int, pad: int = 0) -> pb.CertifiedBlock:
    return pb.CertifiedBlock(block=pb.Block(header=b"h%d" % height, txs=[b"x" * pad]))


def answer(*heights: int) -> api.FetchBlocksResponse:
    return api.FetchBlocksResponse(blocks=[certified(h) for h in heights])


def runtime(fetch) -> ChannelRuntime:
    cfg = ConsensusConfig(channel=CHANNEL, validators=tuple(KEYS))
    verifier = BatchVerifier(threads=1)
    return ChannelRuntime(
        cfg,
        SIGNERS[0],
        verifier,
        NodeTxChecker(verifier, CHAIN, CHANNEL, 1 << 16),
        ChannelLedger(MemoryStore(), CHANNEL, cfg.genesis_hash),
        Executor(KvApplication(), CHAIN, CHANNEL, 1 << 16),
        Mempool(100, 1 << 20),
        50,
        send=lambda *_: None,
        fetch=fetch,
    )


def submitted(rt: ChannelRuntime) -> list[BlocksFetched]:
    events = []
    while not rt.queue.empty():
        events.append(rt.queue.get_nowait())
    return events


def test_a_peer_that_hangs_is_timed_out_and_the_next_peer_serves() -> None:
    asked: list[bytes] = []

    async def fetch(peer: bytes, channel: str, first: int, last: int):
        asked.append(peer)
        if peer == KEYS[1]:
            await asyncio.Event().wait()  # never answers
        if peer == KEYS[2]:
            raise FetchFailed("error", "connection refused")
        return answer(first, first + 1)

    rt = runtime(fetch)
    rt.fetch_timeout_s = 0.05
    action = FetchBlocks(5, 6, (KEYS[1], KEYS[2], KEYS[3]))
    asyncio.run(asyncio.wait_for(rt._fetch_blocks(action), 5))
    assert asked == [KEYS[1], KEYS[2], KEYS[3]]
    events = submitted(rt)
    # Each failure is reported to the core against its peer; then the blocks, with theirs.
    assert [(e.source, e.failure, len(e.blocks)) for e in events] == [
        (KEYS[1], "timeout", 0),
        (KEYS[2], "error", 0),
        (KEYS[3], "", 2),
    ]
    assert rt.fetch_failures == {(KEYS[1], "timeout"): 1, (KEYS[2], "error"): 1}


def test_a_throttled_peer_is_skipped_without_counting_against_it() -> None:
    async def fetch(peer: bytes, channel: str, first: int, last: int):
        if peer == KEYS[1]:
            raise FetchFailed("throttled")
        return answer(first)

    rt = runtime(fetch)
    asyncio.run(rt._fetch_blocks(FetchBlocks(1, 1, (KEYS[1], KEYS[2]))))
    assert [(e.source, e.failure) for e in submitted(rt)] == [(KEYS[2], "")]
    assert rt.fetch_failures == {(KEYS[1], "throttled"): 1}


class Stub:
    def __init__(self, reply: api.FetchBlocksResponse | None = None, code=None) -> None:
        self.reply, self.code, self.calls = reply, code, 0

    async def FetchBlocks(self, request, timeout: float):
        self.calls += 1
        assert timeout == Limits().fetch_timeout_ms / 1000
        if self.code is not None:
            raise grpc.aio.AioRpcError(self.code, grpc.aio.Metadata(), grpc.aio.Metadata())
        return self.reply


def fake_node(stub: Stub, **limits: int) -> SimpleNamespace:
    config = SimpleNamespace(limits=Limits(**limits))
    link = SimpleNamespace(stub=lambda: stub)
    limiter = RateLimiter("fetch", config.limits.fetch_peer_calls_per_s, clock=lambda: 0.0)
    return SimpleNamespace(config=config, links={KEYS[1]: link}, fetch_limiter=limiter)


def node_fetch(node: SimpleNamespace, peer: bytes = KEYS[1], first: int = 1, last: int = 2):
    return asyncio.run(Node.fetch(node, peer, CHANNEL, first, last))  # type: ignore[arg-type]


def reason_of(node: SimpleNamespace, **kwargs) -> str:
    with pytest.raises(FetchFailed) as failed:
        node_fetch(node, **kwargs)
    return failed.value.reason


def test_node_fetch_applies_the_deadline_the_size_bound_and_a_rate_per_peer() -> None:
    assert node_fetch(fake_node(Stub(answer(1, 2)))).blocks[1].block.header == b"h2"
    assert reason_of(fake_node(Stub(answer(1, 2))), peer=KEYS[2]) == "error"  # no link
    late = Stub(code=grpc.StatusCode.DEADLINE_EXCEEDED)
    assert reason_of(fake_node(late)) == "timeout"
    assert reason_of(fake_node(Stub(code=grpc.StatusCode.UNAVAILABLE))) == "error"
    assert reason_of(fake_node(Stub(answer(1, 2, 3)))) == "too_many_blocks"
    big = api.FetchBlocksResponse(blocks=[certified(1, pad=4096)])
    assert reason_of(fake_node(Stub(big), fetch_answer_bytes_max=4096)) == "too_large"
    stub = Stub(answer(1))
    node = fake_node(stub, fetch_peer_calls_per_s=3)
    for _ in range(3):
        node_fetch(node)
    assert reason_of(node) == "throttled" and stub.calls == 3  # the peer was not asked


def test_a_server_answer_fits_the_bound_a_requester_checks() -> None:
    blocks = [certified(h, pad=1000) for h in range(1, 33)]
    reply = bounded_reply(blocks, (), 10_000)
    assert 1 <= len(reply.blocks) < 32 and reply.ByteSize() <= 10_000
    assert check_reply(reply, 1, 32, 10_000) is None
    assert [b.block.header for b in reply.blocks] == [b"h%d" % h for h in range(1, 10)]
    # One block larger than the bound still goes out alone: a chain must always sync.
    assert len(bounded_reply(blocks, (), 10).blocks) == 1
