"""gRPC services: handlers decode, verify, enqueue, and read the ledger; nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import structlog

from consensus.events import MessageReceived
from consensus.hashing import merkle_proof
from consensus.messages import decode_envelope, useful_blocks
from consensus.reasons import Reason
from node.admission import Unavailable
from node.fetching import bounded_reply
from node.runtime import now_ms
from node.tls import peer_common_name, validator_key_of_peer
from node.transport import check_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

if TYPE_CHECKING:
    from node.node import Channel, Node

log = structlog.get_logger("services")


def _channel(node: Node, name: str) -> Channel | None:
    return node.channels.get(name)


async def guard_call(node: Node, context: grpc.aio.ServicerContext) -> str:
    """Refuse a call over its connection's rate with RESOURCE_EXHAUSTED; the caller's
    name (certificate common name, or address without TLS) for per-client limits."""
    if not node.call_limiter.allow(context.peer()):
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"over {node.call_limiter.rate:.0f} calls/s on this connection; retry later",
        )
    name = peer_common_name(context)
    return name if name is not None else context.peer().rsplit(":", 1)[0]


class ClientService(api_grpc.ClientServicer):
    """Every method first passes the per-connection call limit (guard_call)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def _need_channel(self, name: str, context: grpc.aio.ServicerContext) -> Channel:
        await guard_call(self.node, context)
        ch = _channel(self.node, name)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {name!r}")
        return ch  # type: ignore[return-value]

    async def SubmitTransactions(self, request, context):
        client = await guard_call(self.node, context)
        limit = self.node.config.limits.submit_txs_max
        if not self.node.tx_limiter.allow(client, len(request.txs)):
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"client {client!r} is over {self.node.tx_limiter.rate:.0f} txs/s; retry later",
            )
        if len(request.txs) > limit:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"{len(request.txs)} txs in one call > {limit}"
            )
        try:
            results = await self.node.admit(list(request.txs), from_peer=False)
        except Unavailable as e:  # a failed channel or a stopping node: say so, and why
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        denied = next((r for r in results if r.status == api.PERMISSION_DENIED), None)
        if denied is not None:
            self.node.refusals.info(
                client, "submit refused", reason="write policy", detail=denied.detail
            )
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"tx {denied.tx_id.hex()[:16]}: {denied.detail}; nothing of this call was admitted",
            )
        return api.SubmitResponse(results=results)

    async def GetBlock(self, request, context):
        ch = await self._need_channel(request.channel, context)
        height = request.height
        if request.hash:
            found = ch.ledger.height_of(request.hash)
            if found is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "no block with that hash")
            height = found
        elif height == 0:
            height = ch.ledger.tip().height
        block = ch.ledger.block(height)
        if block is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no block at height {height}")
        return api.GetBlockResponse(
            height=height,
            hash=ch.ledger.block_hash(height),
            block=block,
            results=ch.ledger.results(height),
        )

    async def GetTransaction(self, request, context):
        ch = await self._need_channel(request.channel, context)
        location = ch.ledger.tx_location(request.tx_id)
        if location is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such committed tx")
        height, index = location
        block = ch.ledger.block(height)
        results = ch.ledger.results(height)
        txs = list(block.block.txs)
        proof = api.MerkleProof(index=index, leaf_count=len(txs), siblings=merkle_proof(txs, index))
        return api.GetTransactionResponse(
            tx=txs[index],
            height=height,
            index=index,
            result=results.results[index],
            block_header=block.block.header,
            proof=proof,
        )

    async def GetState(self, request, context):
        ch = await self._need_channel(request.channel, context)
        value = ch.ledger.get_state(request.key)
        return api.GetStateResponse(
            found=value is not None, value=value or b"", height=ch.ledger.tip().height
        )

    async def GetStatus(self, request, context):
        await guard_call(self.node, context)
        out = api.GetStatusResponse(
            node_id=self.node.config.node_id,
            public_key=self.node.public_key,
            chain_id=self.node.config.chain_id,
            failures=[f"{what}: {why}" for what, why in sorted(self.node.failures.items())],
        )
        for name, ch in self.node.channels.items():
            st = ch.runtime.replica.status()
            tip = ch.ledger.tip()
            links = self.node.links
            peers = sum(1 for k in st.validators if k in links and links[k].connected)
            out.channels.append(
                api.ChannelStatus(
                    channel=name,
                    height=tip.height,
                    view=st.view,
                    view_active=st.view_active,
                    primary=st.primary,
                    validators=list(st.validators),
                    peers_connected=peers,
                    mempool_txs=len(ch.admission.mempool),
                    mempool_bytes=ch.admission.mempool.bytes,
                    stable_height=st.stable_height,
                    state_root=tip.state_root,
                    member=st.member,
                    next_validators=list(st.next_validators),
                    next_set_from_height=st.next_set_from_height,
                    governance_sequence=st.governance_sequence,
                    failure=ch.runtime.failed or "",
                )
            )
        return out

    async def StreamBlocks(self, request, context) -> AsyncIterator[api.BlockEvent]:
        ch = await self._need_channel(request.channel, context)
        height = request.from_height or ch.ledger.tip().height + 1
        cond = ch.runtime.committed
        while True:
            while height <= ch.ledger.tip().height:
                yield api.BlockEvent(
                    height=height,
                    hash=ch.ledger.block_hash(height),
                    block=ch.ledger.block(height),
                    results=ch.ledger.results(height),
                )
                height += 1
            async with cond:
                await cond.wait_for(lambda h=height: ch.ledger.tip().height >= h)


class PeerService(api_grpc.PeerServicer):
    """Validators only: under TLS, every call must present a validator certificate (a
    client certificate cannot fetch blocks or stream). A stream needs the key of a current
    or next validator of a channel served here; fetching blocks, any consortium node's
    (one about to join syncs before its set starts)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def _certified_validator(
        self, context: grpc.aio.ServicerContext, known: bool = True
    ) -> bytes | None:
        """The validator key of the caller's certificate; None in insecure mode. With
        `known`, only keys of the current and next sets of the channels served here."""
        if self.node.config.tls is None:
            return None
        key = validator_key_of_peer(context)
        if key is None or (known and key not in self.node.known_validators):
            self.node.refusals.warning(
                context.peer().rsplit(":", 1)[0],
                "peer refused",
                reason="certificate is not a known validator's",
            )
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "the Peer service needs a validator certificate of a channel served here",
            )
        return key

    async def Stream(self, request_iterator, context):
        node = self.node
        cert_key = await self._certified_validator(context)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("kind") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a peer stream starts with hello")
        hello = first.hello
        if hello.public_key not in node.known_validators:
            key = hello.public_key.hex()[:16]
            node.refusals.warning(key, "peer refused", reason="unknown identity", key=key)
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "not a validator of any channel here"
            )
        why = check_hello(
            hello, node.config.chain_id, node.public_key, node.known_validators, node.verifier
        )
        if why is not None:
            key = hello.public_key.hex()[:16]
            node.refusals.warning(key, "peer refused", reason=why, key=key)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, why)
        if cert_key is not None and cert_key != hello.public_key:
            node.refusals.warning(
                hello.public_key.hex()[:16],
                "peer refused",
                reason="certificate bound to another validator key",
                key=hello.public_key.hex()[:16],
                cert_key=cert_key.hex()[:16],
            )
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "the TLS certificate is bound to another validator key than the hello's",
            )
        peer = hello.public_key
        limiter_key = peer.hex()[:16]
        async for frame in request_iterator:
            kind = frame.WhichOneof("kind")
            items = len(frame.consensus.envelopes) if kind == "consensus" else len(frame.txs.txs)
            if not node.peer_limiter.allow(limiter_key, items):
                continue  # throttled (logged by the limiter); consensus retransmits
            if kind == "consensus":
                await self._consensus(peer, frame.consensus)
            elif kind == "txs":
                ch = _channel(node, frame.txs.channel)
                if ch is None or peer not in ch.runtime.replica.audience:
                    continue  # e.g. a validator removed while its stream stayed open
                await node.admit(list(frame.txs.txs), from_peer=True)
        return api.PeerAck()

    async def _consensus(self, peer: bytes, batch: api.ConsensusBatch) -> None:
        ch = _channel(self.node, batch.channel)
        if ch is None or peer not in ch.runtime.replica.audience:
            who = peer.hex()[:16]
            self.node.refusals.info(who, "consensus frame refused", channel=batch.channel, peer=who)
            return
        if ch.runtime.failed is not None:
            return  # it takes no events: verifying them would be wasted work
        runtime = ch.runtime
        audience = runtime.replica.audience
        arrived_ms = now_ms()  # block times are judged against the clock at arrival
        decoded = []
        for data in batch.envelopes:
            item = decode_envelope(
                data, runtime.cfg, self.node.config.limits.message_bytes_max, audience
            )
            if isinstance(item, Reason) or item[0].sender != peer:
                reason = item if isinstance(item, Reason) else Reason.UNKNOWN_SENDER
                runtime.count_refused(reason, peer)
                continue
            decoded.append(item)
        oks = await self.node.verifier.verify_batch(
            [(s.sender, s.body, s.signature) for s, _ in decoded]
        )
        for (signed, blocks), ok in zip(decoded, oks, strict=True):
            if not ok:
                runtime.count_refused(Reason.BAD_SIGNATURE, peer)
                continue
            # Only what the core reads is queued: one checked block per pre-prepare,
            # judged against the set ordering now (governance may have changed it).
            blocks = useful_blocks(signed, blocks, runtime.replica.cfg)
            if (
                signed.kind == "pre_prepare"
                and signed.msg.pre_prepare.height > runtime.replica.executed_height
                and signed.sender == runtime.replica.cfg.primary(signed.msg.pre_prepare.view)
            ):
                # A pre-prepare for a height already executed here (a lagging node that
                # caught up by block sync) will be refused as stale, and one from a
                # non-primary as such: verifying its txs would waste the pool and
                # remember ids that never commit. `blocks` is the named block only.
                for block in blocks:
                    await ch.admission.checker.preverify(list(block.txs))
            runtime.offer_message(MessageReceived(signed, blocks, arrived_ms), peer)

    async def FetchBlocks(self, request, context):
        # Any consortium node may read committed blocks: one about to be added syncs from
        # genesis before its set starts, and a removed one keeps following the chain.
        await guard_call(self.node, context)
        await self._certified_validator(context, known=False)
        ch = _channel(self.node, request.channel)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {request.channel!r}")
        count_max = ch.runtime.cfg.fetch_blocks_max
        proof = list(ch.runtime.replica.stable.proof)
        # The asker refuses an answer over fetch_answer_bytes_max: stay under it.
        room = self.node.config.limits.fetch_answer_bytes_max - sum(p.ByteSize() + 8 for p in proof)
        blocks = ch.ledger.blocks(request.from_height, request.to_height, count_max, room - 1024)
        return bounded_reply(blocks, proof, self.node.config.limits.fetch_answer_bytes_max)
