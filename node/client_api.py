"""The Client gRPC service (api.proto): submit txs, read blocks, txs, state and status,
stream committed blocks. Handlers decode, check, enqueue and read the ledger; nothing else.

Named `*_api` like the Peer and DataShare services beside it, so it does not read as the
service-item application (`chains/service.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import structlog

from client.archive import ArchiveError
from node.admission import Unavailable
from node.archive_serving import block_event
from node.call_limits import guard_call
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from storage.ledger import ChannelLedger, Pruned

if TYPE_CHECKING:
    from node.node import Channel, Node

log = structlog.get_logger("client_api")


class ClientService(api_grpc.ClientServicer):
    """Every method first passes the per-connection call limit (guard_call)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def _need_channel(self, name: str, context: grpc.aio.ServicerContext) -> Channel:
        await guard_call(self.node, context)
        ch = self.node.channels.get(name)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {name!r}")
        return ch  # type: ignore[return-value]

    @staticmethod
    async def _absent(
        ledger: ChannelLedger, height: int, context: grpc.aio.ServicerContext, what: str
    ) -> None:
        """NOT_FOUND for a block that is not here: `pruned: …` with the lowest retained
        height when pruning removed it (and no archive served here holds it), else
        plainly absent."""
        base = ledger.pruned_height()
        if 1 <= height <= base:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, str(Pruned(ledger.channel, height, base + 1))
            )
        await context.abort(grpc.StatusCode.NOT_FOUND, what)

    @staticmethod
    async def _event(
        ch: Channel, height: int, context: grpc.aio.ServicerContext
    ) -> api.BlockEvent | None:
        """Block `height` from the ledger, or from the archive for a pruned height
        (`archive_dir`); DATA_LOSS when the archive's file changed under the node."""
        try:
            return block_event(ch.ledger, ch.archive, height)
        except ArchiveError as e:
            log.error("archive unreadable", channel=ch.ledger.channel, height=height, why=str(e))
            await context.abort(grpc.StatusCode.DATA_LOSS, f"archived block {height}: {e}")
        return None  # not reached: abort raises

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
        event = await self._event(ch, height, context)
        if event is None:
            await self._absent(ch.ledger, height, context, f"no block at height {height}")
        return api.GetBlockResponse(
            height=height, hash=event.hash, block=event.block, results=event.results
        )

    async def GetTransaction(self, request, context):
        ch = await self._need_channel(request.channel, context)
        location = ch.ledger.tx_location(request.tx_id)
        if location is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such committed tx")
        height, index = location
        event = await self._event(ch, height, context)
        if event is None:
            await self._absent(ch.ledger, height, context, f"no block at height {height}")
        block, results = event.block, event.results
        txs = list(block.block.txs)
        siblings = ch.ledger.hashing.merkle_proof(txs, index)  # the channel's suite hash
        proof = api.MerkleProof(index=index, leaf_count=len(txs), siblings=siblings)
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
        # The height first: a block's write lands (on the channel's writer thread) before
        # the tip moves, so the value read after it is at least that new, never older.
        height = ch.ledger.tip().height
        value = ch.ledger.get_state(request.key)
        return api.GetStateResponse(found=value is not None, value=value or b"", height=height)

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
                event = await self._event(ch, height, context)
                if event is None:  # pruned, and no archive holds it
                    await self._absent(ch.ledger, height, context, "")
                yield event
                height += 1
            async with cond:
                await cond.wait_for(lambda h=height: ch.ledger.tip().height >= h)
