"""The Peer gRPC service (api.proto), validators only: the consensus and tx-gossip
stream, and fetching blocks and checkpoint proofs for catch-up. Handlers check who calls,
decode, and enqueue to a channel's runtime; nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
import structlog

from client.archive import ArchiveError
from consensus.events import MessageReceived, PeerLinkChanged
from consensus.messages import Signed, decode_envelope, useful_blocks
from consensus.reasons import Reason
from node.call_limits import guard_call
from node.compact_blocks import Partial, fetch_txs, fill, finish, is_compact, open_compact
from node.fetching import bounded_reply
from node.runtime import now_ms
from node.supervise import spawn
from node.tls import validator_key_of_peer
from node.transport import check_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from storage.ledger import Pruned

if TYPE_CHECKING:
    from node.node import Channel, Node
    from node.runtime import ChannelRuntime
    from node.snapshots import SnapshotMaker

log = structlog.get_logger("peer_api")
# Consensus messages in one frame verified on the event loop rather than the pool (about
# 60 µs each): the pool is a FIFO shared with admission, where votes waited behind txs.
CONSENSUS_INLINE_MAX = 8


class PeerService(api_grpc.PeerServicer):
    """Validators only: under TLS, every call must present a validator certificate (a
    client certificate cannot fetch blocks or stream). A stream needs the key of a current
    or next validator of a channel served here; fetching blocks, any consortium node's
    (one about to join syncs before its set starts)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.streams: dict[bytes, int] = {}  # peer -> its inbound streams open now

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
        self._link(peer, opened=True)
        try:
            async for frame in request_iterator:
                kind = frame.WhichOneof("kind")
                n = len(frame.consensus.envelopes) if kind == "consensus" else len(frame.txs.txs)
                if not node.peer_limiter.allow(limiter_key, n):
                    continue  # throttled (logged by the limiter); consensus retransmits
                if kind == "consensus":
                    await self._consensus(peer, frame.consensus)
                elif kind == "txs":
                    ch = node.channels.get(frame.txs.channel)
                    if ch is None or peer not in ch.runtime.replica.audience:
                        continue  # e.g. a validator removed while its stream stayed open
                    await node.admit(list(frame.txs.txs), from_peer=True)
        finally:  # ended, failed or cancelled (the peer's connection closed)
            self._link(peer, opened=False)
        return api.PeerAck()

    def _link(self, peer: bytes, opened: bool) -> None:
        """Tell the cores when the first stream from `peer` opens and its last closes
        (`PeerLinkChanged`): a killed process closes its connections at once, so a dead
        primary is suspected well before the request timer would expire. Counted per
        peer, as a reconnect may open the new stream before the old one ends."""
        count = self.streams.get(peer, 0) + (1 if opened else -1)
        if count > 0:
            self.streams[peer] = count
        else:
            self.streams.pop(peer, None)
        if count == (1 if opened else 0):
            if not opened:
                log.info("peer link lost", peer=peer.hex()[:16])
            for ch in self.node.channels.values():
                if peer in ch.runtime.replica.audience:
                    ch.runtime.submit(PeerLinkChanged(peer, opened))

    async def _consensus(self, peer: bytes, batch: api.ConsensusBatch) -> None:
        ch = self.node.channels.get(batch.channel)
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
        items = [(s.sender, s.body, s.signature) for s, _ in decoded]
        verifier = self.node.verifier
        if len(items) <= CONSENSUS_INLINE_MAX:
            # A few votes are checked here and now: on the pool they would wait behind
            # the txs being admitted (one FIFO), and every vote delayed delays a block.
            oks = [verifier.verify(*item) for item in items]
        else:
            oks = await verifier.verify_batch(items)
        for (signed, blocks), ok in zip(decoded, oks, strict=True):
            if not ok:
                runtime.count_refused(Reason.BAD_SIGNATURE, peer)
                continue
            if signed.kind == "pre_prepare" and is_compact(blocks):
                if self._worth_judging(runtime, signed):
                    await self._compact(ch, peer, signed, blocks, arrived_ms)
                continue
            await self._deliver(ch, peer, signed, blocks, arrived_ms)

    @staticmethod
    def _worth_judging(runtime: ChannelRuntime, signed: Signed) -> bool:
        """A pre-prepare the core will judge: for a height not executed here (a lagging
        node that caught up by block sync would refuse it as stale), from the primary
        of its view. Verifying (or fetching) the txs of any other would be wasted work."""
        vote = signed.msg.pre_prepare
        replica = runtime.replica
        return vote.height > replica.executed_height and signed.sender == replica.cfg.primary(
            vote.view
        )

    async def _deliver(
        self,
        ch: Channel,
        peer: bytes,
        signed: Signed,
        blocks: Sequence,
        arrived_ms: int,
        rebuilt: bool = False,
    ) -> None:
        """Queue one verified message for the core, with the blocks it may read
        (`rebuilt`: a compact block's, already counted)."""
        runtime = ch.runtime
        # Only what the core reads is queued: one checked block per pre-prepare,
        # judged against the set ordering now (governance may have changed it).
        blocks = useful_blocks(signed, blocks, runtime.replica.cfg)
        if signed.kind == "pre_prepare" and self._worth_judging(runtime, signed):
            if blocks and not rebuilt:  # sent whole (a retransmission, or no compact form)
                ch.runtime.compact.rebuilds.outcomes["full"] += bool(len(blocks[0].txs))
            # `blocks` is the named block only: pre-verified on the pool, in batches.
            for block in blocks:
                await ch.admission.checker.preverify(list(block.txs))
        runtime.offer_message(MessageReceived(signed, blocks, arrived_ms), peer)

    async def _compact(
        self, ch: Channel, peer: bytes, signed: Signed, blocks: Sequence, arrived_ms: int
    ) -> None:
        """Rebuild a compact pre-prepare's block from the mempool and deliver it; if txs
        are missing, fetch them from the sender in a task of its own (the stream goes on
        meanwhile), within the bound on blocks waiting."""
        cfg = ch.runtime.replica.cfg
        digest = signed.msg.pre_prepare.digest
        block = next((b for b in blocks if cfg.hashing.hash(b.header) == digest), None)
        if block is None:  # the core finds no named block: DIGEST_MISMATCH, counted there
            await self._deliver(ch, peer, signed, (), arrived_ms)
            return
        partial = open_compact(block, cfg, ch.runtime.mempool.raw)
        if isinstance(partial, str):
            self._refuse_compact(ch, peer, partial)
            return
        if not partial.missing:
            await self._complete(ch, peer, signed, partial, list(partial.txs), arrived_ms)
            return
        if signed.msg.pre_prepare.view != ch.runtime.replica.view:
            # Only the current view's primary may make us fetch: a validator signing
            # compact pre-prepares for a future view it leads (naming txs nobody has)
            # would otherwise hold the waiting slots and starve the honest primary's.
            self._refuse_compact(ch, peer, "not_current_view")
            return
        rebuilds = ch.runtime.compact.rebuilds
        size = partial.held_bytes
        if not rebuilds.reserve(size):
            self._refuse_compact(ch, peer, "busy")
            return
        work = self._fetch_then_deliver(ch, peer, signed, partial, arrived_ms)
        task = spawn(work, f"compact-{ch.runtime.channel}", self.node.on_task_failure)
        task.add_done_callback(lambda _t: rebuilds.release(size))

    async def _fetch_then_deliver(
        self, ch: Channel, peer: bytes, signed: Signed, partial: Partial, arrived_ms: int
    ) -> None:
        link = self.node.links.get(peer)
        answer = None
        if link is not None:
            timeout_s = self.node.config.limits.fetch_timeout_ms / 1000
            digest = signed.msg.pre_prepare.digest
            answer = await fetch_txs(link.stub(), ch.runtime.channel, digest, partial, timeout_s)
        if answer is None:
            self._refuse_compact(ch, peer, "unavailable")
            return
        txs = fill(partial, answer, ch.admission.checker.tx_id)
        if isinstance(txs, str):
            self._refuse_compact(ch, peer, txs)
            return
        outcome = "full" if partial.wants_whole() else "fetched"
        await self._complete(ch, peer, signed, partial, txs, arrived_ms, outcome)

    async def _complete(
        self,
        ch: Channel,
        peer: bytes,
        signed: Signed,
        partial: Partial,
        txs: list,
        arrived_ms: int,
        outcome: str = "complete",
    ) -> None:
        """Deliver the rebuilt block if it is what the header commits to."""
        block = finish(partial.header, txs, ch.runtime.replica.cfg)
        if isinstance(block, str):
            self._refuse_compact(ch, peer, block)
            return
        ch.runtime.compact.rebuilds.outcomes[outcome] += 1
        await self._deliver(ch, peer, signed, (block,), arrived_ms, rebuilt=True)

    def _refuse_compact(self, ch: Channel, peer: bytes, reason: str) -> None:
        """A compact block not rebuilt: counted by reason, logged sampled, not delivered
        (the request timer deals with a primary whose block never arrives)."""
        rebuilds = ch.runtime.compact.rebuilds
        rebuilds.outcomes["failed"] += 1
        rebuilds.refusals[reason] += 1
        who = peer.hex()[:16]
        self.node.refusals.info(
            f"compact-{who}-{reason}",
            "compact block refused",
            channel=ch.runtime.channel,
            peer=who,
            reason=reason,
        )

    async def FetchTxs(self, request, context):
        """The txs of a block this node sent in compact form (node/compact_blocks.py),
        to a validator of the channel: at most block_txs_max ids asked."""
        await guard_call(self.node, context)
        key = await self._certified_validator(context)
        ch = self.node.channels.get(request.channel)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {request.channel!r}")
        if key is not None and key not in ch.runtime.replica.audience:  # another channel's
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not a validator of the channel")
        if len(request.tx_ids) > ch.runtime.cfg.block_txs_max:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "more ids than a block holds")
        txs = ch.runtime.compact.sent.answer(request.channel, request.digest, request.tx_ids)
        if txs is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such block or tx kept here")
        return api.FetchTxsResponse(txs=txs)

    async def FetchBlocks(self, request, context):
        # Any consortium node may read committed blocks: one about to be added syncs from
        # genesis before its set starts, and a removed one keeps following the chain.
        await guard_call(self.node, context)
        await self._certified_validator(context, known=False)
        ch = self.node.channels.get(request.channel)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {request.channel!r}")
        count_max = ch.runtime.cfg.fetch_blocks_max
        proof = list(ch.runtime.replica.stable.proof)
        # The asker refuses an answer over fetch_answer_bytes_max: stay under it.
        room = self.node.config.limits.fetch_answer_bytes_max - sum(p.ByteSize() + 8 for p in proof)
        try:
            blocks = ch.ledger.blocks(
                request.from_height, request.to_height, count_max, room - 1024
            )
        except Pruned as e:  # from the archive served here, else the asker must look elsewhere
            blocks = self._archived(ch, request, count_max, room - 1024)
            if not blocks:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        return bounded_reply(blocks, proof, self.node.config.limits.fetch_answer_bytes_max)

    async def ListSnapshots(self, request, context):
        """The snapshots of a channel offered here (node/snapshots.py), newest first."""
        await guard_call(self.node, context)
        await self._certified_validator(context, known=False)
        snaps = await self._snapshots(request.channel, context)
        return api.ListSnapshotsResponse(snapshots=snaps.offers())

    async def FetchSnapshot(self, request, context):
        """One offered snapshot's manifest or chunk, as stored (the asker checks it)."""
        await guard_call(self.node, context)
        await self._certified_validator(context, known=False)
        snaps = await self._snapshots(request.channel, context)
        part = request.WhichOneof("part")
        if part is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name the manifest or a chunk")
        data = snaps.read(request.height, None if part == "manifest" else request.chunk)
        if data is None:
            what = "manifest" if part == "manifest" else f"chunk {request.chunk}"
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no {what} of a snapshot at height {request.height} is offered here",
            )
        return api.FetchSnapshotResponse(data=data)

    async def _snapshots(self, channel: str, context: grpc.aio.ServicerContext) -> SnapshotMaker:
        ch = self.node.channels.get(channel)
        if ch is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown channel {channel!r}")
        if ch.runtime.snapshots is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "this node makes no snapshots")
        return ch.runtime.snapshots

    @staticmethod
    def _archived(ch: Channel, request, count_max: int, bytes_max: int) -> list:
        """Pruned blocks from the channel's archive (`archive_dir`): up to the archive's
        end or the prune base, whichever is lower; the asker asks again above that.
        Empty when no archive holds the first one (or its file changed: logged)."""
        if ch.archive is None:
            return []
        to = min(request.to_height, ch.ledger.pruned_height())
        try:
            return ch.archive.blocks(request.from_height, to, count_max, bytes_max)
        except ArchiveError as e:
            log.error("archive unreadable", channel=ch.ledger.channel, why=str(e))
            return []
