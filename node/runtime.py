"""One channel's runtime: a queue of events into the Replica, and the actions carried out.

Everything the core asks for happens here, in the order it asks: records and executed
blocks go into one LedgerBatch that is committed (one synced LevelDB write) before the
first send that follows them; timers become `loop.call_later`; fetches run as tasks whose
answers come back as events. One event is processed at a time, so the Replica needs no
locks and sees the same sequence a simulator would give it.

Failing (docs/architecture.md, boundary 7). A storage error while committing a batch means the node
can no longer persist what it votes for: the runtime stops at once (the sends that
followed the batch are never carried out), logs the cause (errno, path) and tells the
node, which stops every channel and exits with code 75 for its supervisor. Any other
unexpected exception marks this channel failed, with the reason: it is logged with its
traceback, the channel takes no more events or txs, and the node's health says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from chains.governance import MEMBERSHIP_KEY
from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    ExecuteBlock,
    FetchBlocks,
    Persist,
    Reject,
    Send,
    SetTimer,
)
from consensus.buffers import message_bytes
from consensus.config import ConsensusConfig
from consensus.crypto import Signer
from consensus.events import (
    BlocksFetched,
    Event,
    Executed,
    MessageReceived,
    Restored,
    Tick,
    Timer,
    TxsReady,
)
from consensus.membership import Membership
from consensus.messages import encode_envelope
from consensus.reasons import Reason
from consensus.replica import Replica
from node.compact_blocks import CompactBlocks
from node.executor import Executor
from node.fetching import failure_reason
from node.governance import membership_of
from node.logsampling import SampledLog
from node.mempool import Mempool
from node.supervise import describe, spawn
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from storage.ledger import TX_PREFIX, ChannelLedger, LedgerBatch
from storage.stores import StorageError, os_error_name

if TYPE_CHECKING:
    from node.metrics import NodeMetrics
    from node.snapshots import SnapshotMaker

log = structlog.get_logger("runtime")

RECENT_TX_BLOCKS = 64


def is_storage_failure(exc: Exception) -> bool:
    """The store failed (LevelDB's error, or the OS's on a file): the node cannot persist.
    A timeout or a dropped connection is an OSError too, but says nothing about the disk."""
    if isinstance(exc, StorageError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError | ConnectionError)


def now_ms() -> int:
    return int(time.time() * 1000)


class ChannelRuntime:
    def __init__(
        self,
        cfg: ConsensusConfig,
        signer: Signer,
        verifier: BatchVerifier,
        tx_checker: NodeTxChecker,
        ledger: ChannelLedger,
        executor: Executor,
        mempool: Mempool,
        tick_ms: int,
        send: Callable[[bytes | None, str, bytes], None],
        fetch: Callable[[bytes, str, int, int], asyncio.Future],
        metrics: NodeMetrics | None = None,
        refusal_log_interval_ms: int = 10_000,
    ) -> None:
        self.metrics = metrics
        self.views_entered = 0  # view changes completed here since start (metrics)
        self.synced_blocks = 0  # blocks received by block sync (metrics)
        self.regossiped = 0  # waiting txs offered again (node/regossip.py, metrics)
        self.fetch_timeout_s = 3.0  # a peer's time to answer a fetch (set by the node)
        self.fetch_failures: dict[tuple[bytes, str], int] = {}  # (peer, reason) -> count
        self.cfg = cfg
        self.channel = cfg.channel
        self.replica = Replica(cfg, signer, verifier, tx_checker)
        # Late (not bound to the dict): a restore replaces `recent_committed`.
        tx_checker.committed_recently = lambda tid: self.replica.is_recently_committed(tid)
        self.tx_checker = tx_checker
        self.compact = CompactBlocks(cfg, tx_checker.tx_id)  # pre-prepares' blocks: ids only
        self.ledger = ledger
        self.executor = executor
        self.mempool = mempool
        executor.decoded = mempool.decoded  # a tx admitted here is not parsed again
        self.tick_ms = tick_ms
        self._send = send
        self._fetch = fetch
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        # Peers' messages waiting in the queue, in bytes (consensus/buffers.py counts them
        # as the core's buffers do), and their bound (set by the node): a core that falls
        # behind (a slow disk) must not let peers pile up memory in front of it.
        self.queued_message_bytes = 0
        self.queue_bytes_max = 64 << 20
        self.timers: dict[Timer, asyncio.TimerHandle] = {}
        self.committed = asyncio.Condition()
        self.rejected: dict[Reason, int] = {}
        self.log = log.bind(channel=self.channel)
        # Refusals are per message, so a flood would flood the log: sampled per sender.
        self.refusals = SampledLog(self.log, refusal_log_interval_ms / 1000)
        self.failed: str | None = None  # why the channel stopped; None while it runs
        self._during = ""  # the event being processed, named if it fails
        self._task: asyncio.Task[None] | None = None
        self._fetching: asyncio.Task[None] | None = None
        # The synced write of each step runs here, off the event loop: an fsync took a
        # quarter of a loaded node's loop time (py-spy), stalling every other channel and
        # admission with it. One thread per channel keeps this channel's writes in order
        # (it awaits each before its next step) and lets the channels' disks work at once.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{cfg.channel}")
        self.membership_changes: list[Membership] = []  # executed, not yet committed
        self.snapshots: SnapshotMaker | None = None  # node/snapshots.py (set by the node)
        self._sets_logged = 1
        # The node dials validators announced on chain (set by the node).
        self.on_membership: Callable[[Membership], None] = lambda _m: None
        # Set by the node: (channel, reason, is_storage_failure) once this channel fails,
        # and (task name, reason) when a background task of it (a fetch) fails.
        self.on_failure: Callable[[str, str, bool], None] = lambda _c, _r, _s: None
        self.on_task_failure: Callable[[str, str], None] = lambda _n, _r: None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = spawn(self._run(), f"runtime-{self.channel}", self.on_task_failure)

    async def stop(self) -> None:
        self.halt()
        if self.snapshots is not None:
            self.snapshots.release()
        self._writer.shutdown(wait=True)  # a write in progress finishes: never half done

    def halt(self, reason: str | None = None) -> None:
        """Stop at once, from any task: no timer fires, no event is taken, no fetch runs.
        With a reason, the channel is marked failed (it is not merely shut down)."""
        if reason is not None and self.failed is None:
            self.failed = reason
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        for task in (self._task, self._fetching):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self.queue = asyncio.Queue()  # what was waiting is dropped with the channel
        self.queued_message_bytes = 0

    def submit(self, event: Event) -> None:
        if self.failed is None:  # a failed channel takes nothing (its queue would only grow)
            self.queue.put_nowait(event)

    def offer_message(self, event: MessageReceived, peer: bytes) -> bool:
        """Queue a peer's message unless the messages already waiting hold queue_bytes_max
        (one always fits in an empty queue); a refused one is counted and logged sampled.
        Consensus retransmits what matters, so dropping under a backlog loses nothing."""
        size = message_bytes(event)
        if self.queued_message_bytes and self.queued_message_bytes + size > self.queue_bytes_max:
            self.count_refused(Reason.QUEUE_FULL, peer)
            return False
        if self.failed is None:
            self.queued_message_bytes += size
            self.queue.put_nowait(event)
        return True

    async def _run(self) -> None:
        """Process events until cancelled; a failure stops the channel, loudly."""
        try:
            await self._process_events()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._fail(e, storage=is_storage_failure(e))

    def _fail(self, exc: Exception, storage: bool) -> None:
        reason = describe(exc)
        self.halt(reason)
        if storage:
            self.log.error(
                "storage failure",
                error=reason,
                errno=os_error_name(exc),
                path=getattr(self.ledger.store, "path", ""),
                exc_info=exc,
            )
        else:
            self.log.error("channel failed", reason=reason, during=self._during, exc_info=exc)
        self.on_failure(self.channel, reason, storage)

    async def _process_events(self) -> None:
        self._during = "Restored"
        state = self.ledger.load_consensus_state(
            RECENT_TX_BLOCKS, self.cfg.checkpoint_interval_blocks
        )
        state = replace(state, membership=self.membership())
        self._sets_logged = len(state.membership.epochs)
        await self._perform(self.replica.step(Restored(state)))
        self.log.info("channel started", height=state.executed_height, view=state.view)
        while True:
            event = _restamped(await self.queue.get())
            if isinstance(event, MessageReceived):
                self.queued_message_bytes -= message_bytes(event)
            self._during = type(event).__name__  # named in the log if the step fails
            view, active = self.replica.view, self.replica.view_active
            actions = self.replica.step(event)
            if (self.replica.view, self.replica.view_active) != (view, active):
                self._log_view_change(view)
            await self._perform(actions)

    def membership(self) -> Membership:
        """The channel's membership as the world state at the executed tip holds it."""
        return membership_of(self.ledger.get_state(MEMBERSHIP_KEY), self.cfg.validators)

    def _log_membership(self, m: Membership) -> None:
        """One line when governance schedules a new set (not for a write-policy change,
        which hands over the membership only for its sequence)."""
        if len(m.epochs) == self._sets_logged:
            return
        self._sets_logged = len(m.epochs)
        latest = m.epochs[-1]
        self.log.info(
            "validator set scheduled",
            from_height=latest.first_height,
            validators=[k.hex()[:16] for k in latest.validators],
            sequence=m.sequence,
        )

    def _log_view_change(self, old_view: int) -> None:
        """One line when this channel leaves a view and one when it enters the next:
        rare events an operator must see (with the new primary's key prefix)."""
        r = self.replica
        if r.view != old_view:
            self.views_entered += 1
        self.log.info(
            "view active" if r.view_active else "view change",
            view=r.view,
            primary=r.cfg.primary(r.view).hex()[:16],
            height=r.executed_height,
        )

    # ------------------------------------------------------------------ actions

    async def _perform(self, actions: list[Action]) -> None:
        batch = None
        executed: list[tuple[int, bytes, api.BlockResults, list[bytes], int]] = []
        for action in actions:
            if isinstance(action, Persist):
                batch = batch or self.ledger.batch()
                batch.add_records(action.records)
            elif isinstance(action, ExecuteBlock):
                batch = batch or self.ledger.batch()
                executed.append(self._execute(batch, action))
                if self.snapshots is not None and self.snapshots.due(action.height):
                    await self._commit(batch, executed)  # that state on disk on its own
                    batch, executed = None, []
                    self.snapshots.capture(action.height)
            else:
                if batch is not None:
                    await self._commit(batch, executed)
                    batch, executed = None, []
                self._carry_out(action)
        if batch is not None:
            await self._commit(batch, executed)

    def _execute(
        self, batch: LedgerBatch, action: ExecuteBlock
    ) -> tuple[int, bytes, api.BlockResults, list[bytes], int]:
        staged = batch.staged
        outcome = self.executor.execute(
            action.certified,
            action.height,
            batch.tip.state_root,
            self.ledger.state_view(batch).get,
            lambda tid: (
                staged.get(TX_PREFIX + tid) is not None or self.ledger.tx_location(tid) is not None
            ),
            dict(action.governance),
            action.membership,
            batch.tip.state_sum,
        )
        if action.membership is not None:
            self.membership_changes.append(action.membership)
        batch.add_block(
            action.height,
            action.certified,
            action.digest,
            outcome.results,
            outcome.writes,
            outcome.tx_ids,
            outcome.state_sum,
            outcome.history_root,
            governance=bool(action.governance),
        )
        return action.height, action.digest, outcome.results, outcome.tx_ids, outcome.timestamp_ms

    async def _commit(self, batch: LedgerBatch, executed: list) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self.ledger.commit, batch)
        if self.snapshots is not None:
            self.snapshots.after_commit()
        for membership in self.membership_changes:
            self._log_membership(membership)
            self.on_membership(membership)
        self.membership_changes.clear()
        if not executed:
            return
        now = now_ms()
        for height, digest, results, tx_ids, timestamp_ms in executed:
            if self.metrics is not None:
                self.metrics.block_commit_seconds.labels(self.channel).observe(
                    max(0, now - timestamp_ms) / 1000
                )
            self.mempool.remove(tx_ids)
            self.tx_checker.forget(tx_ids)
            self.submit(Executed(height, digest, results.state_root))
        async with self.committed:
            self.committed.notify_all()

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, Broadcast):
            self._send(
                None, self.channel, self.compact.encode_broadcast(action.message, action.blocks)
            )
        elif isinstance(action, Send):
            self._send(action.to, self.channel, encode_envelope(action.message, action.blocks))
        elif isinstance(action, SetTimer):
            old = self.timers.pop(action.timer, None)
            if old is not None:
                old.cancel()
            loop = asyncio.get_running_loop()
            tick = Tick(action.timer, action.token)
            self.timers[action.timer] = loop.call_later(
                action.ticks * self.tick_ms / 1000, lambda: self.submit(_stamped(tick))
            )
        elif isinstance(action, CancelTimer):
            old = self.timers.pop(action.timer, None)
            if old is not None:
                old.cancel()
        elif isinstance(action, FetchBlocks):
            if self._fetching is None or self._fetching.done():
                self._fetching = spawn(
                    self._fetch_blocks(action), f"fetch-{self.channel}", self.on_task_failure
                )
        elif isinstance(action, Reject):
            self.rejected[action.reason] = self.rejected.get(action.reason, 0) + 1
            sender = action.sender.hex()[:16]
            self.refusals.info(
                f"{sender}:{action.reason.value}",
                "rejected",
                what=action.what,
                reason=action.reason.value,
                detail=action.detail,
                sender=sender,
                height=self.replica.executed_height,
                view=self.replica.view,
            )

    async def _fetch_blocks(self, action: FetchBlocks) -> None:
        """Ask the peers the core named, in its order (anyone, if none), until one answers
        with blocks. A peer that times out, errs or answers beyond the fetch limits is
        counted, reported to the core (which asks it last for a while) and the next is
        asked; blocks go to the core with their source, so forged ones count against it."""
        peers = list(action.peers) or [v for v in self.replica.audience if v != self.replica.me]
        proofs: list[tuple[bytes, tuple]] = []
        first, last = action.from_height, action.to_height
        for peer in peers:
            try:
                call = self._fetch(peer, self.channel, first, last)
                reply = await asyncio.wait_for(call, self.fetch_timeout_s)
            except Exception as e:  # down, slow, refusing, too large: try the next one
                self._fetch_failed(peer, e)
                continue
            if reply.checkpoint and not reply.blocks:
                proofs.append((peer, tuple(reply.checkpoint)))
            if reply.blocks:
                self.synced_blocks += len(reply.blocks)
                self.log.info(
                    "block sync",
                    fetched=len(reply.blocks),
                    first=first,
                    target=self.replica.fetch_target,
                    height=self.replica.executed_height,
                    peer=peer.hex()[:16],
                )
                self.submit(BlocksFetched(tuple(reply.blocks), tuple(reply.checkpoint), peer))
                return
        # No peer had blocks past ours, but a peer's stable checkpoint may be ahead of ours:
        # the one way to learn the checkpoint at a switch of validator sets once it is
        # stable elsewhere (its votes are not sent again). The core keeps the highest.
        for peer, proof in proofs:
            self.submit(BlocksFetched((), proof, peer))

    def _fetch_failed(self, peer: bytes, error: Exception) -> None:
        reason = failure_reason(error)
        key = (peer, reason)
        self.fetch_failures[key] = self.fetch_failures.get(key, 0) + 1
        if reason == "throttled":  # our own limit, not the peer's fault (the limiter logs)
            return
        self.log.info("fetch failed", peer=peer.hex()[:16], reason=reason, error=str(error)[:200])
        self.submit(BlocksFetched((), (), peer, reason))

    def count_refused(self, reason: Reason, peer: bytes = b"") -> None:
        """An envelope refused before the core saw it (malformed, bad signature, …):
        counted exactly, logged sampled per peer and reason."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        who = peer.hex()[:16]
        self.refusals.info(
            f"{who}:{reason.value}", "envelope refused", reason=reason.value, peer=who
        )

    # ------------------------------------------------------------------ admission

    def add_txs(self, raws: list[bytes]) -> None:
        self.submit(TxsReady(tuple(raws), now_ms()))


def _restamped(event: Event) -> Event:
    """The clock when the core takes a Tick or TxsReady, not when it was queued: a primary
    stamps its blocks with it, and under a backlog the queueing time can be seconds old
    (blocks too old for the block-time rule of every backup). A MessageReceived keeps its
    arrival time: that is what the rule judges a pre-prepare by."""
    if isinstance(event, Tick | TxsReady):
        return replace(event, now_ms=now_ms())
    return event


def _stamped(tick: Tick) -> Tick:
    return Tick(tick.timer, tick.token, now_ms())
