"""A validator node: every channel it serves, one gRPC server, shared peers and verifier.

Failures (docs/architecture.md, boundary 7) end here. Every background task is supervised
(node/supervise.py) and reports to `on_task_failure`; a channel whose runtime fails
reports to `on_channel_failure`. Either turns gRPC health to NOT_SERVING, is counted in
`govchain_failures_total`, and shows in GetStatus. A storage failure is fail-stop:
`halt` stops every channel and every send at once, and the process exits with
EXIT_STORAGE_FAILURE so its supervisor restarts it (and the restart checks the ledger).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass

import grpc
import nacl.signing
import structlog
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

from chains.base import Departments
from chains.governance import WRITE_POLICY_KEY
from chains.policy import PolicyError, WritePolicy
from chains.registry import (
    DEPARTMENT_KEYS_KEY,
    UnknownApplication,
    departments_in,
    make_application,
)
from chains.tx import encode_tx, suite_hashing
from client.connection import load_signing_key, suite_signer
from client.keys import KeyCustodyError, SignerKey, load_signer
from client.tls import TlsError
from consensus.crypto import Signer
from consensus.membership import Membership
from crypto import DEFAULT_SUITE, SuiteSigner, suite_by_name
from node.admission import ChannelAdmission, Unavailable, admit
from node.archive_serving import ArchiveReader, open_archive
from node.call_limits import CallLimits
from node.config import ConfigError, Genesis, NodeConfig, channels_suite, load_genesis
from node.crl import outbound_revocation, revocation_guard
from node.executor import Executor
from node.fetching import fetch_blocks
from node.integrity import check_channel
from node.logsampling import SampledLog
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.pruning import prune_forever
from node.ratelimit import RateLimiter
from node.regossip import regossip_forever
from node.runtime import ChannelRuntime
from node.server import SERVICE_NAMES, build_server, listen
from node.snapshots import snapshot_maker
from node.stallwatch import StallWatch
from node.state_sync import needs_sync, sync_channels
from node.supervise import spawn
from node.transport import PeerLink
from node.tx_signatures import NodeTxChecker
from node.verifier import BatchVerifier
from protos import api_pb2 as api
from sources.mapping import MappingError
from sources.opening import open_source
from sources.sealing import Sealer, sealing_key
from sources.sidecar import SidecarError
from storage.ledger import ChannelLedger
from storage.stores import LevelDBStore

log = structlog.get_logger("node")

# The exit status of a node that stopped because it could not persist (ENOSPC, EIO, a
# failed synced write): sysexits' EX_TEMPFAIL, "try again later". systemd's
# Restart=on-failure restarts it; 2 (a bad config) is the status it must not restart.
EXIT_STORAGE_FAILURE = 75


@dataclass
class Channel:
    genesis: Genesis
    ledger: ChannelLedger
    runtime: ChannelRuntime
    admission: ChannelAdmission
    archive: ArchiveReader | None = None  # serves pruned heights (node/archive_serving.py)


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        # The channels' crypto suite signs and verifies votes, hellos and txs.
        self.suite_name = channels_suite(config)
        self.suite = suite_by_name(self.suite_name)
        self.hashing = suite_hashing(self.suite)  # block digests, tx ids, state roots
        try:  # a key file (plaintext: warned; encrypted) or a PKCS#11 token key
            self.signer: Signer = (
                load_signer(config.key_file, config.key_secret)
                if self.suite_name == DEFAULT_SUITE
                else suite_signer(config.key_file, config.key_secret, self.suite_name)
            )
        except KeyCustodyError as e:
            raise ConfigError(f"validator key: {e}") from None
        self.public_key = self.signer.public_key
        self.metrics = NodeMetrics()
        # Failures: counts by kind (channel, storage, task, loop) for the metrics; what
        # failed outside the channels (task name -> reason) for GetStatus; and, once the
        # node cannot persist, why it stopped and the status it exits with.
        self.failure_counts: Counter[str] = Counter()
        self.failures: dict[str, str] = {}
        self.halted: str | None = None
        self.fatal = asyncio.Event()
        self.exit_code = 0
        self.undecodable: Counter[str] = Counter()  # requests that did not decode, by method
        self.state_sync_chunks: Counter[str] = Counter()  # installed / refused (state_sync.py)
        self.refusals = SampledLog(
            structlog.get_logger("services"), config.limits.refusal_log_interval_ms / 1000
        )
        self.unrouted_counts: Counter[str] = Counter()  # statuses of txs with no known channel
        self.verifier = BatchVerifier(
            threads=config.limits.verify_threads, metrics=self.metrics, suite=self.suite
        )
        try:
            self.server_credentials = config.tls.server_credentials() if config.tls else None
            link_credentials = config.tls.channel_credentials() if config.tls else None
        except TlsError as e:
            raise ConfigError(str(e)) from e
        self.revocation_guard = revocation_guard(config.tls, self.refusals)
        limits = config.limits
        self.tx_limiter = RateLimiter("client txs/s", limits.client_txs_per_s)
        self.call_limiter = RateLimiter("calls/s per connection", limits.connection_calls_per_s)
        self.peer_limiter = RateLimiter("peer items/s", limits.peer_items_per_s)
        # Calls in flight per client certificate and per validator (node/call_limits.py).
        tls = self.server_credentials is not None
        self.call_limits = CallLimits(limits, tls, lambda: self.known_validators)
        self.fetch_limiter = RateLimiter("block fetches/s per peer", limits.fetch_peer_calls_per_s)
        self.link_credentials = link_credentials
        self.stallwatch = StallWatch()
        self.started = False
        self.links: dict[bytes, PeerLink] = {}
        for peer in config.peers:
            self._add_link(peer.public_key, peer.address, peer.node_id)
        self.channels: dict[str, Channel] = {}
        self.stores: list[LevelDBStore] = []
        self.departments = Departments()  # the registry channel's, set by add_channel
        # Empty channels that join from a peer's snapshot first (node/state_sync.py).
        self.syncing = [n for n in config.channels if needs_sync(config, n)]
        for name in config.channels:
            if name not in self.syncing:
                self.add_channel(name)
        # Data sharing: this department's identity, tx key and own records.
        self.department_id = config.node_id
        self.department_key: nacl.signing.SigningKey | SignerKey | SuiteSigner | None = None
        if config.department_key_file is not None:
            try:
                self.department_key = load_signing_key(
                    config.department_key_file, config.department_key_secret, self.suite_name
                )
            except KeyCustodyError as e:
                raise ConfigError(f"department key: {e}") from None
        sealer = Sealer(sealing_key(self.department_key)) if self.department_key else None
        try:
            self.source = open_source(config.data_dir, sealer)
        except (MappingError, SidecarError) as e:  # the department's source: like the config
            raise ConfigError(str(e)) from None
        self.server: grpc.aio.Server | None = None

    def add_channel(self, name: str) -> None:
        ch = self.channels[name] = self._open_channel(name)
        self.on_membership(ch.runtime.membership())
        if ch.genesis.app.get("departments"):  # with the keys rotated on that channel since
            self.departments = ch.runtime.executor.departments
            ch.runtime.executor.on_departments = lambda d: setattr(self, "departments", d)

    def _add_link(self, key: bytes, address: str, node_id: str) -> PeerLink:
        link = PeerLink(
            self.config.chain_id,
            self.signer,
            node_id,
            address,
            key,
            self.config.limits.message_bytes_max,
            self.link_credentials,
            queue_frames_max=self.config.limits.peer_queue_frames_max,
            queue_bytes_max=self.config.limits.peer_queue_bytes_max,
            receive_bytes_max=self.config.limits.fetch_answer_bytes_max,
            revocation=outbound_revocation(self.revocation_guard, self.config.tls),
        )
        link.on_failure = self.on_task_failure
        self.links[key] = link
        if self.started:
            link.start()
        return link

    def on_membership(self, membership: Membership) -> None:
        """Dial every validator a channel's membership names at the latest address
        announced on chain, unless the config names one (the operator's word wins)."""
        pinned = {p.public_key for p in self.config.peers}
        keys = {k for epoch in membership.epochs for k in epoch.validators}
        for key in sorted(keys - pinned - {self.public_key}):
            address = membership.address_of(key)
            old = self.links.get(key)
            if not address or (old is not None and old.address == address):
                continue
            if old is not None and self.started:
                spawn(old.stop(), f"stop-{old.node_id}", self.on_task_failure)
            link = self._add_link(key, address, f"validator-{key.hex()[:8]}")
            log.info("peer announced on chain", peer=link.node_id, address=address)

    @property
    def known_validators(self) -> set[bytes]:
        """Keys whose peer streams this node takes: the current and next validator sets
        of the channels it serves (read when a stream opens)."""
        return {key for ch in self.channels.values() for key in ch.runtime.replica.audience}

    def _open_channel(self, name: str) -> Channel:
        cfg_node = self.config
        genesis = load_genesis(cfg_node.genesis_dir / f"{name}.json", cfg_node.chain_id, name)
        cfg = genesis.consensus_config()
        cfg_node.data_dir.mkdir(parents=True, exist_ok=True)
        store = LevelDBStore(cfg_node.data_dir / name)
        self.stores.append(store)
        ledger = ChannelLedger(store, name, genesis.hash, cfg.hashing)
        limits = cfg_node.limits
        check_channel(ledger, cfg, self.verifier, limits, self.public_key)
        # The genesis tx limit: the checker judges the txs of proposed blocks, whose
        # verdict must not depend on local settings (admission applies the local limit).
        checker = NodeTxChecker(self.verifier, cfg_node.chain_id, name, cfg.tx_bytes_max)
        mempool = Mempool(
            limits.mempool_txs_max,
            limits.mempool_bytes_max,
            limits.mempool_queue_ms,
            limits.mempool_floor_txs,
        )
        try:
            app, departments = make_application(genesis.app)
        except (UnknownApplication, ImportError, KeyError, ValueError) as e:
            raise ConfigError(f"channel {name}: genesis `app`: {e}") from e
        # Keys rotated since genesis (chains/registry.py).
        departments = departments_in(ledger.get_state(DEPARTMENT_KEYS_KEY), departments)
        try:
            policy = WritePolicy.from_params(genesis.app.get("write_policy"), departments)
        except PolicyError as e:
            raise ConfigError(f"channel {name}: genesis `app`: {e}") from e
        changed = ledger.get_state(WRITE_POLICY_KEY)  # set by governance since genesis
        if changed is not None:
            policy = WritePolicy.from_params(json.loads(changed), departments)
        # The genesis limit, not this node's: execution must not depend on local settings.
        executor = Executor(
            app, cfg_node.chain_id, name, cfg.tx_bytes_max, departments, policy, cfg.hashing
        )
        runtime = ChannelRuntime(
            cfg,
            self.signer,
            self.verifier,
            checker,
            ledger,
            executor,
            mempool,
            limits.tick_ms,
            self.send,
            self.fetch,
            self.metrics,
            limits.refusal_log_interval_ms,
        )
        admission = ChannelAdmission(
            checker,
            mempool,
            app,
            next_height=lambda: ledger.tip().height + 1,
            committed=lambda tid: ledger.tx_location(tid) is not None,
            enqueue=runtime.add_txs,
            policy=policy,
            member=lambda: self.public_key in runtime.replica.audience,
            unavailable=lambda: runtime.failed,
        )
        executor.on_policy = lambda p: setattr(admission, "policy", p)
        runtime.on_membership = self.on_membership
        runtime.on_failure = self.on_channel_failure
        runtime.on_task_failure = self.on_task_failure
        runtime.fetch_timeout_s = limits.fetch_timeout_ms / 1000
        runtime.queue_bytes_max = limits.runtime_queue_bytes_max
        runtime.snapshots = snapshot_maker(self, ledger, cfg.checkpoint_interval_blocks)
        archive = open_archive(cfg_node.archive_dir, genesis, ledger)
        return Channel(genesis, ledger, runtime, admission, archive)

    # ------------------------------------------------------------------ peers

    def send(self, to: bytes | None, channel: str, envelope: bytes) -> None:
        if self.halted:  # a node that cannot persist sends nothing more
            return
        if to is not None:
            link = self.links.get(to)
            if link is not None:
                link.send_consensus(channel, envelope)
            return
        for key in self.channels[channel].runtime.replica.audience:
            link = self.links.get(key)
            if link is not None:
                link.send_consensus(channel, envelope)

    async def fetch(
        self, peer: bytes, channel: str, first: int, last: int
    ) -> api.FetchBlocksResponse:
        return await fetch_blocks(self, peer, channel, first, last)

    def gossip(self, admitted: dict[str, list[bytes]]) -> None:
        if self.halted:
            return
        for channel, txs in admitted.items():
            for key in self.channels[channel].runtime.replica.audience:
                link = self.links.get(key)
                if link is not None:
                    link.send_txs(channel, txs)

    async def admit(self, raws: list[bytes], from_peer: bool) -> list[api.SubmitResult]:
        """Raises Unavailable for a client's call to a stopped node or a failed channel."""
        if self.halted:
            if from_peer:
                return []
            raise Unavailable(f"the node is stopping: {self.halted}")
        admissions = {name: ch.admission for name, ch in self.channels.items()}
        results, admitted = await admit(
            raws,
            self.config.chain_id,
            self.config.limits.tx_bytes_max,
            admissions,
            self.unrouted_counts,
            all_or_nothing=not from_peer,
            tx_hash=self.hashing.hash,
        )
        if not from_peer:
            self.gossip(admitted)
        return results

    async def submit_own_tx(
        self, channel: str, tx_type: str, payload: Message, timeout_s: float = 10.0
    ) -> tuple[bytes, api.TxResult] | None:
        """Sign a tx with the department key, admit and gossip it, and wait for its result
        in a committed block: (tx id, result), the id so a caller can point at the tx
        (an evidence bundle fetches it); None if refused at admission or not committed."""
        ch = self.channels.get(channel)
        if ch is None or self.department_key is None:
            return None
        body = api.TxBody(
            chain_id=self.config.chain_id,
            channel=channel,
            type=tx_type,
            payload=payload.SerializeToString(deterministic=True),
            nonce=time.time_ns(),
            valid_until_height=ch.ledger.tip().height + 1000,
        )
        raw = encode_tx(body, self.department_key)
        (result,) = await self.admit([raw], from_peer=False)
        if result.status not in (api.ACCEPTED, api.DUPLICATE):
            log.info("own tx refused", channel=channel, type=tx_type, status=result.status)
            return None
        tid = result.tx_id
        cond = ch.runtime.committed
        try:
            async with cond:
                await asyncio.wait_for(
                    cond.wait_for(lambda: ch.ledger.tx_location(tid) is not None), timeout_s
                )
        except TimeoutError:
            return None
        height, index = ch.ledger.tx_location(tid)  # type: ignore[misc]
        return tid, ch.ledger.results(height).results[index]

    # ------------------------------------------------------------------ failures

    @property
    def healthy(self) -> bool:
        return (
            self.halted is None
            and not self.failures
            and all(ch.runtime.failed is None for ch in self.channels.values())
        )

    def on_task_failure(self, name: str, reason: str) -> None:
        """A supervised background task failed (already logged with its traceback)."""
        self.failure_counts["task"] += 1
        self.failures[name] = reason
        self._publish_health()

    def on_channel_failure(self, channel: str, reason: str, storage: bool) -> None:
        """A channel's runtime failed (already logged); a storage failure stops the node."""
        self.failure_counts["storage" if storage else "channel"] += 1
        if storage:
            self.halt(f"storage failure in channel {channel}: {reason}")
        self._publish_health()

    def halt(self, reason: str) -> None:
        """Fail-stop: no channel takes another event and nothing more is sent, from this
        call on; then the process exits with EXIT_STORAGE_FAILURE (see cli/main.py)."""
        if self.halted is not None:
            return
        self.halted = reason
        for ch in self.channels.values():
            ch.runtime.halt(f"node stopped: {reason}")
        log.error(
            "node stopping: it cannot persist, so it must not vote",
            reason=reason,
            exit_code=EXIT_STORAGE_FAILURE,
        )
        self.exit_code = EXIT_STORAGE_FAILURE
        self.fatal.set()

    def _publish_health(self) -> None:
        if self.started:
            spawn(self._set_health(), "health", self._health_failed)

    def _health_failed(self, _name: str, _reason: str) -> None:
        self.failure_counts["task"] += 1  # logged by the supervisor; no retry loop

    async def _set_health(self) -> None:
        """What gRPC health reports, from the node's state when the task runs (so the
        last of several publications wins with the current truth)."""
        status = health_pb2.HealthCheckResponse.SERVING
        if not self.healthy:
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *SERVICE_NAMES[:-1]):
            await self.health.set(name, status)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        """Whatever asyncio would print to stderr (a callback that raised, a task nobody
        awaited): logged through the node's log, with its traceback, and counted."""
        self.failure_counts["loop"] += 1
        exc = context.get("exception")
        fields = {"exc_info": exc} if exc is not None else {}
        log.error("unhandled exception in the event loop", message=context.get("message"), **fields)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve: listen, then start the peer links and every channel's runtime, report
        health, and serve metrics if configured. A port that cannot be bound is a
        ConfigError."""
        self.server, self.health = build_server(self)
        listen(self.server, self.config.listen, self.server_credentials)
        await self.server.start()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        self.stallwatch.start(loop, self.on_task_failure)
        self.started = True
        for link in self.links.values():
            link.start()
        await sync_channels(self)  # the channels that join from a snapshot, then open them
        for name, ch in self.channels.items():
            ch.runtime.start()
            spawn(regossip_forever(self, name, ch), f"regossip-{name}", self.on_task_failure)
            if retain := self.config.retain_blocks:  # node/pruning.py; above a snapshot stay
                snaps = ch.runtime.snapshots
                floor = snaps.oldest_height if snaps else lambda: None
                task = prune_forever(ch.ledger, ch.runtime.committed, retain, floor)
                spawn(task, f"prune-{name}", self.on_task_failure)
        await self._set_health()
        if self.config.metrics_listen:
            try:
                self.metrics.serve(self, self.config.metrics_listen)
            except OSError as e:
                raise ConfigError(
                    f"cannot serve metrics on {self.config.metrics_listen}: {e.strerror}"
                ) from e
            log.info("metrics", url=f"http://{self.config.metrics_listen}/metrics")
        if self.server_credentials is None:
            log.warning(
                "INSECURE MODE: plaintext gRPC, no certificates; any host that can reach "
                "this port can talk to the node. For local development only.",
                listen=self.config.listen,
            )
        log.info(
            "node started",
            node=self.config.node_id,
            listen=self.config.listen,
            tls=self.server_credentials is not None,
            channels=list(self.channels),
        )

    async def stop(self) -> None:
        self.stallwatch.stop()
        if self.server is not None and hasattr(self, "health"):
            await self.health.enter_graceful_shutdown()
        for ch in self.channels.values():
            await ch.runtime.stop()
        for link in self.links.values():
            await link.stop()
        if self.server is not None:
            await self.server.stop(grace=0.5)
        self.verifier.close()
        for store in self.stores:
            store.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self.fatal.wait()
        finally:
            await self.stop()
