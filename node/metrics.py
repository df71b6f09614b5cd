"""Prometheus metrics of one node, per channel, served on `metrics_listen`.

Speed is a feature, so the hot path does almost nothing for metrics: gauges and counters
the node keeps anyway (heights, views, mempool, refusal counts) are read only when
Prometheus scrapes (`NodeCollector`), and the three histograms are observed once per
verification batch and once per block, never per tx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from node.compact_blocks import OUTCOMES

if TYPE_CHECKING:
    from consensus.status import ReplicaStatus
    from node.node import Channel, Node

Family = GaugeMetricFamily | CounterMetricFamily
# Each channel the node serves, with its core's status read once per scrape.
Channels = list[tuple[str, "Channel", "ReplicaStatus"]]

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NodeMetrics:
    """The registry of one node and the histograms its components observe."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # process_resident_memory_bytes, process_cpu_seconds_total, open fds: the
        # dashboards' memory and CPU panels (a registry of our own starts without them)
        ProcessCollector(registry=self.registry)
        self.verify_batch_size = Histogram(
            "govchain_verify_batch_size",
            "Signatures per verification batch sent to the pool (cache misses only)",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.verify_batch_seconds = Histogram(
            "govchain_verify_batch_seconds",
            "Wall time of one verification batch on the pool",
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.block_commit_seconds = Histogram(
            "govchain_block_commit_seconds",
            "From the primary's block timestamp to this node's durable commit of the block",
            ["channel"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )

    def serve(self, node: Node, listen: str) -> None:
        """Register the scrape-time collector and serve /metrics on a daemon thread."""
        self.registry.register(NodeCollector(node))
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host or "0.0.0.0", registry=self.registry)


class NodeCollector(Collector):
    """Reads the node's state at scrape time (on the HTTP thread; plain reads of ints and
    dict sizes, which the GIL keeps consistent enough for monitoring)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Family]:
        """Every metric, family by family (the order they appear in on /metrics). Each
        channel's core status is read once per scrape, so its numbers agree."""
        node = self.node
        channels = [(name, ch, ch.runtime.replica.status()) for name, ch in node.channels.items()]
        yield from _positions(channels)
        yield from _intake(node, channels)
        yield from _holdings(channels)
        yield from _sync(channels)
        yield from _snapshots(node, channels)
        yield from _membership(channels)
        yield from _failures(node)
        yield _fetch_failures(node)
        yield from _compact_blocks(node)
        yield from _peers(node)
        yield from _process(node)
        yield from _calls(node)
        yield from _revocation(node)


def _positions(channels: Channels) -> Iterator[Family]:
    """Where each channel's core is: heights, view and whether it is changing."""
    height = GaugeMetricFamily("govchain_height", "Executed block height", labels=["channel"])
    stable = GaugeMetricFamily(
        "govchain_stable_height", "Height of the last stable checkpoint", labels=["channel"]
    )
    view = GaugeMetricFamily("govchain_view", "Current PBFT view", labels=["channel"])
    view_active = GaugeMetricFamily(
        "govchain_view_active",
        "1 when the view is active, 0 during a view change",
        labels=["channel"],
    )
    view_changes = CounterMetricFamily(
        "govchain_view_changes", "Views this node entered since it started", labels=["channel"]
    )
    for name, ch, st in channels:
        height.add_metric([name], st.executed_height)
        stable.add_metric([name], st.stable_height)
        view.add_metric([name], st.view)
        view_active.add_metric([name], 1 if st.view_active else 0)
        view_changes.add_metric([name], ch.runtime.views_entered)
    yield from (height, stable, view, view_active, view_changes)


def _intake(node: Node, channels: Channels) -> Iterator[Family]:
    """What comes in: the mempool, txs by admission status (txs naming no channel this
    node serves are counted under the channel ""), and consensus messages refused."""
    mempool_txs = GaugeMetricFamily(
        "govchain_mempool_txs", "Txs in the mempool", labels=["channel"]
    )
    mempool_bytes = GaugeMetricFamily(
        "govchain_mempool_bytes", "Bytes of txs in the mempool", labels=["channel"]
    )
    txs = CounterMetricFamily(
        "govchain_txs",
        "Txs submitted or gossiped, by admission status",
        labels=["channel", "status"],
    )
    refused = CounterMetricFamily(
        "govchain_consensus_refused",
        "Consensus messages refused, by reason",
        labels=["channel", "reason"],
    )
    for name, ch, _ in channels:
        mempool_txs.add_metric([name], len(ch.admission.mempool))
        mempool_bytes.add_metric([name], ch.admission.mempool.bytes)
        for status, count in sorted(ch.admission.counts.items()):
            txs.add_metric([name, status], count)
        for reason, count in sorted(ch.runtime.rejected.items(), key=lambda kv: kv[0].value):
            refused.add_metric([name, reason.value], count)
    for status, count in sorted(node.unrouted_counts.items()):
        txs.add_metric(["", status], count)
    yield from (mempool_txs, mempool_bytes, txs, refused)


def _holdings(channels: Channels) -> Iterator[Family]:
    """What each channel holds in memory on behalf of others: the core's log and
    buffers, the runtime's inbox and admission's cache of verified tx ids."""
    held = GaugeMetricFamily(
        "govchain_consensus_held",
        "What the consensus core holds, by kind: pending txs, txs in the log, log slots, "
        "recent committed ids, buffered future messages and their block bytes, orphans",
        labels=["channel", "kind"],
    )
    buffered = GaugeMetricFamily(
        "govchain_buffered_bytes",
        "Bytes the consensus core holds in buffers peers fill, by buffer: early votes "
        "(future), pre-prepares waiting for their parent (orphans), peers' VIEW-CHANGEs",
        labels=["channel", "buffer"],
    )
    inbox = GaugeMetricFamily(
        "govchain_runtime_queue_events",
        "Events waiting for the channel's consensus core (received, not yet processed)",
        labels=["channel"],
    )
    inbox_bytes = GaugeMetricFamily(
        "govchain_runtime_queue_bytes",
        "Bytes of peers' messages waiting for the channel's consensus core "
        "(bounded by runtime_queue_bytes_max)",
        labels=["channel"],
    )
    verified_ids = GaugeMetricFamily(
        "govchain_verified_tx_ids", "Tx ids known valid and not yet committed", labels=["channel"]
    )
    for name, ch, st in channels:
        for kind, size in st.held.items():
            held.add_metric([name, kind], size)
        for kind, size in st.buffered_bytes.items():
            buffered.add_metric([name, kind], size)
        inbox.add_metric([name], ch.runtime.queue.qsize())
        inbox_bytes.add_metric([name], ch.runtime.queued_message_bytes)
        verified_ids.add_metric([name], len(ch.admission.checker.verified_ids))
    yield from (held, buffered, inbox, inbox_bytes, verified_ids)


def _sync(channels: Channels) -> Iterator[Family]:
    """Block sync (catch-up): blocks executed from it, and how far a running one has to go."""
    synced = CounterMetricFamily(
        "govchain_sync_blocks", "Blocks executed from block sync (catch-up)", labels=["channel"]
    )
    sync_lag = GaugeMetricFamily(
        "govchain_sync_lag_blocks",
        "Blocks still to fetch in a running catch-up",
        labels=["channel"],
    )
    regossiped = CounterMetricFamily(
        "govchain_txs_regossiped",
        "Txs that waited in the mempool and were offered again to the core and the primary",
        labels=["channel"],
    )
    for name, ch, st in channels:
        synced.add_metric([name], ch.runtime.synced_blocks)
        sync_lag.add_metric([name], max(0, st.fetch_target - st.executed_height))
        regossiped.add_metric([name], ch.runtime.regossiped)
    yield from (synced, sync_lag, regossiped)


def _snapshots(node: Node, channels: Channels) -> Iterator[Family]:
    """Snapshots made and offered here (node/snapshots.py), and chunks a state sync took."""
    made = CounterMetricFamily(
        "govchain_snapshots_made", "Snapshots made since start", labels=["channel"]
    )
    offered = GaugeMetricFamily(
        "govchain_snapshot_height",
        "Height of the newest snapshot offered (0: none)",
        labels=["channel"],
    )
    for name, ch, _st in channels:
        snaps = ch.runtime.snapshots
        made.add_metric([name], snaps.made if snaps else 0)
        offers = snaps.offers() if snaps else []
        offered.add_metric([name], offers[0].height if offers else 0)
    chunks = CounterMetricFamily(
        "govchain_state_sync_chunks",
        "Snapshot parts a state sync installed, or refused: forged, cut otherwise than its "
        "manifest lists, or not answered",
        labels=["outcome"],
    )
    for outcome in ("installed", "forged", "mismatch", "unavailable"):
        chunks.add_metric([outcome], node.state_sync_chunks[outcome])
    yield from (made, offered, chunks)


def _membership(channels: Channels) -> Iterator[Family]:
    """Each channel's validator set, this node's place in it, and a scheduled change."""
    validators = GaugeMetricFamily(
        "govchain_validators", "Validators in the channel's current set", labels=["channel"]
    )
    member = GaugeMetricFamily(
        "govchain_member",
        "1 if this node votes in the current set, 0 if it observes",
        labels=["channel"],
    )
    next_set = GaugeMetricFamily(
        "govchain_next_set_height",
        "First height of a validator set scheduled by governance (0: none)",
        labels=["channel"],
    )
    for name, _, st in channels:
        validators.add_metric([name], len(st.validators))
        member.add_metric([name], 1 if st.member else 0)
        next_set.add_metric([name], st.next_set_from_height)
    yield from (validators, member, next_set)


def _peers(node: Node) -> Iterator[Family]:
    """The outgoing stream to each peer: up or not, frames dropped and waiting."""
    peers = GaugeMetricFamily(
        "govchain_peer_connected",
        "1 while the outgoing stream to a peer is up",
        labels=["peer"],
    )
    dropped = CounterMetricFamily(
        "govchain_peer_frames_dropped",
        "Frames dropped for a peer that could not keep up",
        labels=["peer"],
    )
    queued = GaugeMetricFamily(
        "govchain_peer_queued_frames",
        "Envelopes and txs waiting to be sent to a peer",
        labels=["peer"],
    )
    for link in node.links.values():
        peers.add_metric([link.node_id], 1 if link.connected else 0)
        dropped.add_metric([link.node_id], link.dropped)
        waiting = sum(len(q) for table in (link.consensus, link.txs) for q in table.values())
        queued.add_metric([link.node_id], waiting)
    yield from (peers, dropped, queued)


def _process(node: Node) -> Iterator[Family]:
    """Node-wide work: signatures verified or found in the cache, event-loop stalls."""
    verified = CounterMetricFamily(
        "govchain_signatures_verified", "Ed25519 signatures checked (cache misses)"
    )
    verified.add_metric([], node.verifier.verified_count)
    hits = CounterMetricFamily("govchain_signature_cache_hits", "Signatures found already verified")
    hits.add_metric([], node.verifier.cache_hits)
    stalls = CounterMetricFamily(
        "govchain_loop_stalls", "Event-loop stalls over 1 s (each logged with its stack)"
    )
    stalls.add_metric([], node.stallwatch.stalls)
    longest = GaugeMetricFamily(
        "govchain_loop_stall_longest_seconds", "Longest event-loop stall since start"
    )
    longest.add_metric([], node.stallwatch.longest_s)
    yield from (verified, hits, stalls, longest)


def _calls(node: Node) -> Iterator[Family]:
    """Calls in flight and refusals over a caller's bound (node/call_limits.py)."""
    refused = CounterMetricFamily(
        "govchain_calls_refused",
        "Calls refused over a caller's bound on calls in flight, by pool and kind",
        labels=["pool", "kind"],
    )
    for (pool, kind), count in sorted(node.call_limits.refused.items()):
        refused.add_metric([pool, kind], count)
    in_flight = GaugeMetricFamily(
        "govchain_calls_in_flight", "Calls and streams running, by pool", labels=["pool"]
    )
    for name, pool in node.call_limits.pools.items():
        in_flight.add_metric([name], pool.total)
    yield refused
    yield in_flight


def _revocation(node: Node) -> Iterator[Family]:
    """Calls refused for a revoked TLS certificate and the CRL in force (node/crl.py);
    nothing when the node has no `[tls] crl`."""
    guard = node.revocation_guard
    if guard is None:
        return
    refused = CounterMetricFamily(
        "govchain_tls_revoked_refused",
        "Calls and stream frames refused for a revoked TLS certificate, by caller",
        labels=["caller"],
    )
    for caller, count in sorted(guard.refused.items()):
        refused.add_metric([caller], count)
    revoked = GaugeMetricFamily("govchain_tls_crl_revoked", "Certificates the CRL in force revokes")
    revoked.add_metric([], guard.crl.revoked_count)
    next_update = GaugeMetricFamily(
        "govchain_tls_crl_next_update_seconds",
        "Unix time of the CRL's next update (0: none); past it, re-sign the CRL",
    )
    when = guard.crl.next_update
    next_update.add_metric([], when.timestamp() if when is not None else 0)
    failures = CounterMetricFamily(
        "govchain_tls_crl_reload_failures",
        "Changed CRL files refused at reload (the previous CRL stayed in force)",
    )
    failures.add_metric([], guard.crl.reload_failures)
    yield from (refused, revoked, next_update, failures)


def _failures(node: Node) -> Iterator[Family]:
    """What failed: channels stopped by an exception, failures by kind (channel,
    storage, task, loop), and requests refused because they did not decode."""
    failed = GaugeMetricFamily(
        "govchain_channel_failed", "1 once the channel's runtime has failed", labels=["channel"]
    )
    for name, ch in node.channels.items():
        failed.add_metric([name], 0 if ch.runtime.failed is None else 1)
    failures = CounterMetricFamily(
        "govchain_failures",
        "Unexpected failures, by kind: channel, storage, task (background), loop",
        labels=["kind"],
    )
    for kind in ("channel", "storage", "task", "loop"):
        failures.add_metric([kind], node.failure_counts[kind])
    undecodable = CounterMetricFamily(
        "govchain_undecodable_requests",
        "Requests or stream frames refused with INVALID_ARGUMENT: they did not decode",
        labels=["method"],
    )
    for method, count in sorted(node.undecodable.items()):
        undecodable.add_metric([method], count)
    yield from (failed, failures, undecodable)


def _fetch_failures(node: Node) -> CounterMetricFamily:
    """Block fetches from each peer that gave nothing usable, by reason: the node's
    (timeout, error, too_large, too_many_blocks, throttled) and the core's (invalid:
    forged or wrong blocks). A peer named here often is slow, down or lying."""
    family = CounterMetricFamily(
        "govchain_fetch_failures",
        "Block fetches from a peer that gave no usable answer, by reason",
        labels=["channel", "peer", "reason"],
    )
    for name, ch in node.channels.items():
        counts = {(p.hex()[:16], r): c for (p, r), c in ch.runtime.fetch_failures.items()}
        for peer, count in ch.runtime.replica.status().fetch_invalid.items():
            counts[(peer.hex()[:16], "invalid")] = count
        for (peer, reason), count in sorted(counts.items()):
            family.add_metric([name, peer, reason], count)
    return family


def _compact_blocks(node: Node) -> Iterator[Family]:
    """Pre-prepare blocks by how they arrived (node/compact_blocks.py), and the compact
    ones refused, by reason: a peer named in the refusal log often is a Byzantine primary."""
    blocks = CounterMetricFamily(
        "govchain_compact_blocks",
        "Pre-prepare blocks received: rebuilt from the mempool, fetched, full, or failed",
        labels=["channel", "outcome"],
    )
    refusals = CounterMetricFamily(
        "govchain_compact_refusals",
        "Compact blocks not rebuilt, by reason",
        labels=["channel", "reason"],
    )
    for name, ch in node.channels.items():
        rebuilds = ch.runtime.compact.rebuilds
        for outcome in OUTCOMES:
            blocks.add_metric([name, outcome], rebuilds.outcomes[outcome])
        for reason, count in sorted(rebuilds.refusals.items()):
            refusals.add_metric([name, reason], count)
    yield from (blocks, refusals)
