"""What the benchmark watches: commits on every node, and the nodes' CPU and memory."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import grpc

from chains.tx import tx_id
from client.connection import connect
from client.tls import TlsFiles
from protos import api_pb2 as api
from protos.consensus_pb2 import BlockHeader

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class CommitWatcher:
    """Follows StreamBlocks of every channel on every node; remembers when each tx id was
    first seen committed on each node, and each block's time and size on the first node."""

    def __init__(
        self,
        addresses: list[str],
        channels: list[str],
        quorum: int,
        block_node: int = 0,
        tls: TlsFiles | None = None,
        tx_hash: Callable[[bytes], bytes] = tx_id,
    ) -> None:
        self.tls = tls
        self.tx_hash = tx_hash  # the chain's suite hash names its txs (SM3 on sm2-sm3)
        self.block_node = block_node  # whose block times are recorded (a node that stays up)
        self.addresses = addresses
        self.channels = channels
        self.quorum = quorum
        self.seen: dict[bytes, list[float]] = defaultdict(list)
        # tx id -> its block's time (the primary's clock when it cut the block, in s)
        self.proposed: dict[bytes, float] = {}
        self.blocks: list[tuple[float, str, int, int]] = []  # (time, channel, height, txs)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.streams: list[grpc.Future] = []
        self.threads: list[threading.Thread] = []

    def start(self, from_heights: dict[tuple[int, str], int]) -> None:
        for n, address in enumerate(self.addresses):
            for channel in self.channels:
                start = from_heights.get((n, channel), 0) + 1
                t = threading.Thread(
                    target=self._follow, args=(n, address, channel, start), daemon=True
                )
                t.start()
                self.threads.append(t)

    def _follow(self, node: int, address: str, channel: str, start: int) -> None:
        stream = connect(address, self.tls).StreamBlocks(
            api.StreamBlocksRequest(channel=channel, from_height=start)
        )
        self.streams.append(stream)
        try:
            for event in stream:
                now = time.time()
                ids = [self.tx_hash(tx) for tx in event.block.block.txs]
                cut_s = BlockHeader.FromString(event.block.block.header).timestamp_ms / 1000
                with self.lock:
                    for tid in ids:
                        self.seen[tid].append(now)
                        self.proposed.setdefault(tid, cut_s)
                    if node == self.block_node:
                        self.blocks.append((now, channel, event.height, len(ids)))
                if self.stop.is_set():
                    return
        except grpc.RpcError:
            return

    def commit_time(self, tx_id: bytes) -> float | None:
        """When the tx was committed network-wide: seen on a quorum of nodes."""
        times = sorted(self.seen.get(tx_id, ()))
        return times[self.quorum - 1] if len(times) >= self.quorum else None

    def close(self) -> None:
        self.stop.set()
        for stream in self.streams:
            stream.cancel()


class ProcessSampler:
    """CPU % and peak RSS of the node processes, from /proc, sampled every second; the RSS
    of every node every `timeline_s` seconds, to show whether memory levels off."""

    def __init__(self, pids: list[int], timeline_s: float = 10.0) -> None:
        self.pids = pids
        self.peak_rss = [0] * len(pids)
        self.timeline_s = timeline_s
        self.rss_timeline: list[tuple[float, list[int]]] = []
        self._next_point = 0.0
        self.first: list[tuple[float, float]] = []
        self.last: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read(pid: int) -> tuple[float, int]:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return cpu, int(fields[21]) * PAGE_BYTES

    def sample(self) -> list[tuple[float, float]]:
        out = []
        rss_now = []
        for i, pid in enumerate(self.pids):
            try:
                cpu, rss = self._read(pid)
            except (OSError, IndexError, ValueError):
                cpu, rss = 0.0, 0
            self.peak_rss[i] = max(self.peak_rss[i], rss)
            rss_now.append(rss)
            out.append((time.time(), cpu))
        now = time.time()
        if now >= self._next_point:
            self.rss_timeline.append((now, rss_now))
            self._next_point = now + self.timeline_s
        return out

    def start(self) -> None:
        self.first = self.sample()
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self.last = self.sample()

    def cpu_seconds(self) -> list[float | None]:
        """CPU seconds (user + system) per node between the first and the last sample."""
        pairs = zip(self.first, self.last, strict=True)
        return [c1 - c0 if c1 >= c0 else None for (_, c0), (_, c1) in pairs]

    def finish(self) -> list[float | None]:
        """CPU % per node over the run; None for a node whose process was replaced."""
        self.stop.set()
        self.last = self.sample()
        return [
            100.0 * (c1 - c0) / max(t1 - t0, 1e-9) if c1 >= c0 else None
            for (t0, c0), (t1, c1) in zip(self.first, self.last, strict=True)
        ]


PROGRESS_EVERY_S = 10.0
INTERNALS = (
    "govchain_consensus_held",
    "govchain_verified_tx_ids",
    "govchain_mempool_txs",
    "govchain_mempool_bytes",
    "govchain_peer_queued_frames",
)


def scrape_internals(listen: str | None) -> dict[str, float]:
    """What a node holds at the end of the run (its buffers, by kind, summed over
    channels), from its Prometheus endpoint: where memory goes when RSS grows."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    if not listen:
        return {}
    try:
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in INTERNALS:
            continue
        for sample in family.samples:
            kind = sample.labels.get("kind", "")
            key = family.name.removeprefix("govchain_") + (f".{kind}" if kind else "")
            out[key] = out.get(key, 0) + sample.value
    return out


def progress(begin: float, watcher: CommitWatcher, sampler: ProcessSampler) -> None:
    """One line every PROGRESS_EVERY_S while the load runs."""
    elapsed = time.time() - begin
    with watcher.lock:
        committed = sum(n for _, _, _, n in watcher.blocks)
    rss = max(sampler.peak_rss) / 2**20
    print(
        f"  {elapsed:5.0f} s: {committed:,} txs committed ({committed / max(elapsed, 1e-9):,.0f}"
        f" tx/s so far), peak node RSS {rss:.0f} MB",
        flush=True,
    )
