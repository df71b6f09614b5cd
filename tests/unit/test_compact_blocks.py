"""Compact blocks (node/compact_blocks.py and the receive side in node/peer_api.py).

The pure part: a block sent as header + tx ids is rebuilt exactly from the txs held,
and every malformed or lying compact block is refused with its reason. The receive
side against a real gRPC sender: txs missing here are fetched and the block delivered;
a sender that withholds them, answers with other or more txs, or never had them gets
its block refused (counted, not delivered), within the bound on blocks waiting.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import grpc
import pytest

from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.crypto import Ed25519Signer
from consensus.hashing import sha256
from consensus.messages import sign, vote
from node.compact_blocks import (
    CompactBlocks,
    Partial,
    Rebuilds,
    SentBlocks,
    compact_form,
    fill,
    finish,
    is_compact,
    open_compact,
)
from node.peer_api import PeerService
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import consensus_pb2 as pb

SIGNERS = [Ed25519Signer(bytes([i]) * 32) for i in range(1, 5)]
CFG = ConsensusConfig(
    channel="license", validators=tuple(s.public_key for s in SIGNERS), block_txs_max=8
)
PRIMARY = SIGNERS[0]
TXS = [b"tx-%d" % i * 10 for i in range(6)]


def block_of(txs: list[bytes], height: int = 1) -> pb.Block:
    info = make_block(CFG, height, 0, b"\0" * 32, txs, PRIMARY.public_key, 1000)
    return info.block


def held(txs: list[bytes]):
    index = {sha256(t): t for t in txs}
    return index.get


# ------------------------------------------------------------------ the pure part


def test_a_compact_block_with_every_tx_held_rebuilds_the_exact_block() -> None:
    block = block_of(TXS)
    compact = compact_form(block, sha256)
    assert is_compact([compact]) and not is_compact([block])
    assert list(compact.tx_ids) == [sha256(t) for t in TXS] and not compact.txs
    partial = open_compact(compact, CFG, held(TXS))
    assert isinstance(partial, Partial) and partial.missing == ()
    rebuilt = finish(partial.header, list(partial.txs), CFG)
    assert rebuilt == block  # same header, same txs in the same order


def test_missing_txs_are_named_and_filled_by_an_exact_answer() -> None:
    compact = compact_form(block_of(TXS), sha256)
    partial = open_compact(compact, CFG, held(TXS[:2] + TXS[3:]))
    assert isinstance(partial, Partial) and partial.missing == (2,)
    assert not partial.wants_whole()
    txs = fill(partial, [TXS[2]], sha256)
    assert txs == TXS and finish(partial.header, txs, CFG) == block_of(TXS)
    # Most missing: the whole block is asked for, and must come whole, in order.
    most = open_compact(compact, CFG, held(TXS[:1]))
    assert isinstance(most, Partial) and most.wants_whole()
    assert fill(most, TXS, sha256) == TXS
    assert fill(most, TXS[1:], sha256) == "bad_answer"


@pytest.mark.parametrize(
    "answer",
    [[TXS[3]], [TXS[2], TXS[3]], [], [TXS[2] + b"x"]],
    ids=["wrong tx", "extra tx", "nothing", "altered tx"],
)
def test_an_answer_with_other_or_more_txs_is_refused(answer: list[bytes]) -> None:
    partial = open_compact(compact_form(block_of(TXS), sha256), CFG, held(TXS[:2] + TXS[3:]))
    assert isinstance(partial, Partial)
    assert fill(partial, answer, sha256) == "bad_answer"


def test_malformed_compact_blocks_are_refused_before_anything_is_fetched() -> None:
    block = block_of(TXS)
    ids = [sha256(t) for t in TXS]
    both = pb.Block(header=block.header, txs=TXS, tx_ids=ids)
    short_id = pb.Block(header=block.header, tx_ids=[*ids[:-1], b"short"])
    dup = pb.Block(header=block.header, tx_ids=[*ids, ids[0]])
    many = pb.Block(header=block.header, tx_ids=[sha256(b"%d" % i) for i in range(9)])
    assert open_compact(both, CFG, held(TXS)) == "malformed"
    assert open_compact(short_id, CFG, held(TXS)) == "malformed"
    assert open_compact(dup, CFG, held(TXS)) == "duplicate_ids"
    assert open_compact(many, CFG, held(TXS)) == "too_many_ids"  # block_txs_max is 8


def test_ids_the_header_does_not_commit_to_are_refused() -> None:
    header = block_of(TXS).header
    assert finish(header, list(reversed(TXS)), CFG) == "root_mismatch"
    assert finish(header, TXS[:-1], CFG) == "root_mismatch"
    assert finish(b"\xff\xff", TXS, CFG) == "malformed"
    small = ConsensusConfig(channel="license", validators=CFG.validators, block_bytes_max=20)
    assert finish(header, TXS, small) == "too_large"


def test_the_sender_keeps_few_blocks_and_answers_exactly_what_is_asked() -> None:
    sent = SentBlocks(blocks_max=2, bytes_max=1 << 20)
    ids = [sha256(t) for t in TXS]
    for digest in (b"a", b"b", b"c"):
        sent.remember("license", digest, ids, list(TXS))
    assert len(sent) == 2 and sent.answer("license", b"a", []) is None  # the oldest went
    assert sent.answer("license", b"c", []) == TXS
    assert sent.answer("license", b"c", [ids[4], ids[1]]) == [TXS[4], TXS[1]]
    assert sent.answer("license", b"c", [sha256(b"nobody has it")]) is None
    assert sent.answer("service", b"c", []) is None
    by_bytes = SentBlocks(blocks_max=10, bytes_max=len(b"".join(TXS)) + 1)
    by_bytes.remember("license", b"a", ids, list(TXS))
    by_bytes.remember("license", b"b", ids, list(TXS))
    assert len(by_bytes) == 1 and by_bytes.bytes == len(b"".join(TXS))


def test_blocks_waiting_on_a_fetch_are_bounded_in_count_and_bytes() -> None:
    waiting = Rebuilds(count_max=2, bytes_max=100)
    assert waiting.reserve(60) and not waiting.reserve(50)  # bytes
    assert waiting.reserve(40) and not waiting.reserve(0)  # count
    waiting.release(60)
    assert waiting.reserve(10) and (waiting.count, waiting.bytes) == (2, 50)


def test_a_primary_broadcasts_only_pre_prepares_in_compact_form() -> None:
    compact = CompactBlocks(CFG, sha256)
    block = block_of(TXS)
    digest = sha256(block.header)
    pre_prepare = sign(PRIMARY, "license", "pre_prepare", vote(0, 1, digest))
    prepare = sign(PRIMARY, "license", "prepare", vote(0, 1, digest))
    sent = pb.Envelope.FromString(compact.encode_broadcast(pre_prepare, [block]))
    assert list(sent.blocks) == [compact_form(block, sha256)]
    assert compact.sent.answer("license", digest, []) == TXS
    as_is = pb.Envelope.FromString(compact.encode_broadcast(prepare, [block]))
    assert list(as_is.blocks) == [block]


# ------------------------------------------------------------------ the receive side


class Sender(api_grpc.PeerServicer):
    """The primary's FetchTxs, honest or not: `mode` says how it answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent = SentBlocks()
        self.asked: list[api.FetchTxsRequest] = []

    async def FetchTxs(self, request, context):
        self.asked.append(request)
        if self.mode == "withhold":
            await asyncio.Event().wait()  # never answers: the asker's deadline ends it
        if self.mode == "forgot":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such block")
        txs = self.sent.answer(request.channel, request.digest, request.tx_ids) or []
        if self.mode == "wrong":
            txs = [t + b"!" for t in txs]
        if self.mode == "extra":
            txs = [*txs, TXS[0]]
        return api.FetchTxsResponse(txs=txs)


class Refusals:
    def __init__(self) -> None:
        self.lines: list[dict] = []

    def info(self, key: str, event: str, /, **fields) -> bool:
        self.lines.append(fields)
        return True


def receiver(stub: api_grpc.PeerStub, mempool_txs: list[bytes]):
    """A PeerService over a node and channel reduced to what the receive side reads."""
    offered: list = []
    failures: list = []
    runtime = SimpleNamespace(
        replica=SimpleNamespace(cfg=CFG, executed_height=0, view=0),
        mempool=SimpleNamespace(raw=held(mempool_txs)),
        compact=CompactBlocks(CFG, sha256),
        channel="license",
        offer_message=lambda message, peer: offered.append(message),
    )

    async def preverify(txs: list[bytes]) -> None:
        return None

    checker = SimpleNamespace(tx_id=sha256, preverify=preverify)
    ch = SimpleNamespace(runtime=runtime, admission=SimpleNamespace(checker=checker))
    node = SimpleNamespace(
        links={PRIMARY.public_key: SimpleNamespace(stub=lambda: stub)},
        config=SimpleNamespace(limits=SimpleNamespace(fetch_timeout_ms=300)),
        refusals=Refusals(),
        on_task_failure=lambda name, why: failures.append((name, why)),
    )
    return PeerService(node), ch, offered, failures


async def _receive(mode: str, mempool_txs: list[bytes], txs: list[bytes] = TXS):
    block = block_of(txs)
    digest = sha256(block.header)
    sender = Sender(mode)
    sender.sent.remember("license", digest, [sha256(t) for t in txs], list(txs))
    server = grpc.aio.server()
    api_grpc.add_PeerServicer_to_server(sender, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            service, ch, offered, failures = receiver(api_grpc.PeerStub(channel), mempool_txs)
            signed = sign(PRIMARY, "license", "pre_prepare", vote(0, 1, digest))
            compact = compact_form(block, sha256)
            await service._compact(ch, PRIMARY.public_key, signed, [compact], 5)
            deadline = asyncio.get_running_loop().time() + 10
            rebuilds = ch.runtime.compact.rebuilds
            while rebuilds.count and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)  # the fetch task, until it released its room
            assert not failures
            return offered, rebuilds, sender, service.node.refusals.lines
    finally:
        await server.stop(None)


def receive(mode: str, mempool_txs: list[bytes], txs: list[bytes] = TXS):
    return asyncio.run(_receive(mode, mempool_txs, txs))


def test_a_block_whose_txs_are_all_held_is_delivered_without_a_fetch() -> None:
    offered, rebuilds, sender, _ = receive("honest", TXS)
    assert not sender.asked and rebuilds.outcomes["complete"] == 1
    (message,) = offered
    assert message.blocks == (block_of(TXS),)


def test_missing_txs_are_fetched_from_the_primary_and_the_block_delivered() -> None:
    offered, rebuilds, sender, _ = receive("honest", TXS[:2] + TXS[3:])
    (asked,) = sender.asked
    assert list(asked.tx_ids) == [sha256(TXS[2])]
    assert rebuilds.outcomes["fetched"] == 1 and offered[0].blocks == (block_of(TXS),)
    offered, rebuilds, sender, _ = receive("honest", [])  # nothing held: the whole block
    assert list(sender.asked[0].tx_ids) == [] and rebuilds.outcomes["full"] == 1
    assert offered[0].blocks == (block_of(TXS),)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("withhold", "unavailable"),  # a primary that withholds the missing txs
        ("forgot", "unavailable"),  # ids for txs nobody has
        ("wrong", "bad_answer"),
        ("extra", "bad_answer"),
    ],
)
def test_a_block_that_cannot_be_rebuilt_is_counted_and_not_delivered(
    mode: str, reason: str
) -> None:
    offered, rebuilds, sender, lines = receive(mode, TXS[:2] + TXS[3:])
    assert sender.asked and not offered
    assert rebuilds.outcomes["failed"] == 1 and rebuilds.refusals == {reason: 1}
    assert lines[-1]["reason"] == reason and (rebuilds.count, rebuilds.bytes) == (0, 0)


def test_compact_blocks_refused_on_their_face_are_never_fetched() -> None:
    async def run() -> tuple:
        block = block_of(TXS)
        digest = sha256(block.header)
        ids = [sha256(t) for t in TXS]
        service, ch, offered, _ = receiver(api_grpc.PeerStub(grpc.aio.insecure_channel("x")), [])
        signed = sign(PRIMARY, "license", "pre_prepare", vote(0, 1, digest))
        for bad in (
            pb.Block(header=block.header, tx_ids=[*ids, ids[0]]),
            pb.Block(header=block.header, tx_ids=[sha256(b"%d" % i) for i in range(9)]),
        ):
            await service._compact(ch, PRIMARY.public_key, signed, [bad], 5)
        # Every tx held, but not what the header commits to: refused before the core.
        ch.runtime.mempool.raw = held(TXS)
        swapped = pb.Block(header=block.header, tx_ids=[ids[1], ids[0], *ids[2:]])
        await service._compact(ch, PRIMARY.public_key, signed, [swapped], 5)
        return offered, ch.runtime.compact.rebuilds

    offered, rebuilds = asyncio.run(run())
    assert not offered and rebuilds.count == 0
    assert rebuilds.refusals == {"duplicate_ids": 1, "too_many_ids": 1, "root_mismatch": 1}


def test_blocks_beyond_the_waiting_bound_are_refused_as_busy() -> None:
    async def run() -> Rebuilds:
        block = block_of(TXS)
        digest = sha256(block.header)
        service, ch, _, _ = receiver(api_grpc.PeerStub(grpc.aio.insecure_channel("x")), [])
        ch.runtime.compact.rebuilds = Rebuilds(count_max=0)
        signed = sign(PRIMARY, "license", "pre_prepare", vote(0, 1, digest))
        await service._compact(ch, PRIMARY.public_key, signed, [compact_form(block, sha256)], 5)
        return ch.runtime.compact.rebuilds

    assert asyncio.run(run()).refusals == {"busy": 1}


def test_a_future_view_s_primary_cannot_make_a_node_fetch() -> None:
    """A validator that leads a later view signs compact pre-prepares for it naming txs
    nobody has: were they fetched, it would hold every waiting slot and starve the honest
    primary's blocks (an adversarial review found it). Only the current view's are."""

    async def run() -> tuple[Rebuilds, list]:
        block = block_of(TXS)
        digest = sha256(block.header)
        service, ch, offered, _ = receiver(api_grpc.PeerStub(grpc.aio.insecure_channel("x")), [])
        later = SIGNERS[1]  # the primary of view 1; the replica is in view 0
        signed = sign(later, "license", "pre_prepare", vote(1, 1, digest))
        await service._compact(ch, later.public_key, signed, [compact_form(block, sha256)], 5)
        return ch.runtime.compact.rebuilds, offered

    rebuilds, offered = asyncio.run(run())
    assert rebuilds.refusals == {"not_current_view": 1} and rebuilds.count == 0
    assert offered == []


def test_fetch_txs_answers_only_a_validator_of_the_block_s_channel() -> None:
    """A validator of another channel served here may not read this channel's proposed
    txs (some never commit) by naming a block digest."""

    class Aborted(Exception):
        pass

    class Context:
        def peer(self) -> str:
            return "ipv4:127.0.0.1:1"

        def auth_context(self) -> dict:
            return {}

        async def abort(self, code, detail):  # as grpc.aio does: the call ends here
            raise Aborted(code, detail)

    async def run() -> tuple:
        service, ch, _, _ = receiver(api_grpc.PeerStub(grpc.aio.insecure_channel("x")), [])
        ch.runtime.replica.audience = frozenset(s.public_key for s in SIGNERS[:3])
        ch.runtime.cfg = CFG
        service.node.channels = {"license": ch}
        service.node.call_limiter = SimpleNamespace(allow=lambda _peer: True, rate=1.0)

        async def certified(_context, known: bool = True) -> bytes:
            return SIGNERS[3].public_key  # a known validator, but not of this channel

        service._certified_validator = certified  # type: ignore[method-assign]
        request = api.FetchTxsRequest(channel="license", digest=bytes(32))
        try:
            await service.FetchTxs(request, Context())
        except Aborted as refused:
            return refused.args
        return ()

    code, detail = asyncio.run(run())
    assert code == grpc.StatusCode.PERMISSION_DENIED and "not a validator" in detail
