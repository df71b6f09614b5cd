"""Measure what one Byzantine peer's future-view flood costs an honest node in memory.

A 4-validator testnet of real processes on one channel; nodes 0-2 run, and a client
holding node 3's validator key and certificate floods node 0 with far-future-view
pre-prepares, prepares and commits, each carrying a ~1 MiB block, while a light load
keeps the channel committing. Prints node 0's peak RSS (VmHWM) before and after the
flood, its RSS a little after the flood stops, and the heights reached.

    .venv/bin/python tests/e2e/flood_peer.py [--seconds 20] [--block-bytes 1048576]

A measurement, not a test (pytest does not collect it): it lives beside the e2e testnet
harness and the Byzantine peer it drives, so that no code outside tests/ imports them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from client.connection import load_signing_key
from client.txs import kv_put_tx, submit
from tests.e2e.byzantine_peer import (
    FutureViewFlooder,
    read_peak_rss_bytes,
    read_rss_bytes,
)
from tests.e2e.harness import Testnet, wait_for

CHANNEL = "license"
MIB = 1 << 20


def scrape(net: Testnet, i: int, names: tuple[str, ...]) -> dict[str, float]:
    """Selected Prometheus samples of node i (name{labels} -> value)."""
    url = f"http://127.0.0.1:{net.metrics_base + i}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(names):
            key, _, value = line.rpartition(" ")
            out[key.split("{", 1)[-1].rstrip("}")] = float(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--block-bytes", type=int, default=MIB)
    parser.add_argument("--no-flood", action="store_true", help="the load alone (control)")
    parser.add_argument("--verbose", action="store_true", help="sample buffers every 2.5 s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        net = Testnet(Path(tmp) / "net", channels=(CHANNEL,), metrics=True)
        try:
            return run(net, args.seconds, args.block_bytes, not args.no_flood, args.verbose)
        finally:
            net.stop_all()


def run(net: Testnet, seconds: float, block_bytes: int, flood: bool, verbose: bool) -> int:
    for i in range(3):
        net.start(i)
    for i in range(3):
        net.wait_ready(i)
    key = load_signing_key(net.client_key)
    nonce = [0]

    def load(count: int = 20) -> None:
        txs = []
        for _ in range(count):
            nonce[0] += 1
            k = b"k%d" % nonce[0]
            txs.append(kv_put_tx(key, net.chain_id, CHANNEL, k, b"v", nonce=nonce[0]))
        submit(net.stub(1), txs)

    load()
    wait_for(lambda: min(net.heights(CHANNEL, [0, 1, 2])) >= 1, 30, "a first commit")
    pid = net.procs[0].pid  # type: ignore[union-attr]
    peak_before = read_peak_rss_bytes(pid)
    height_before = net.heights(CHANNEL, [0])[0]
    flooder = FutureViewFlooder(net, me=3, target=0, channel=CHANNEL, block_bytes=block_bytes)
    if flood:
        flooder.start()
    deadline = time.monotonic() + seconds
    most = 0
    start = time.monotonic()
    samples = 0
    while time.monotonic() < deadline and flooder.error is None:
        load()
        most = max(most, read_rss_bytes(pid))
        if verbose and samples % 5 == 0:
            held = scrape(net, 0, ("govchain_buffered_bytes", "govchain_runtime_queue_events"))
            print(
                f"  t={time.monotonic() - start:4.1f}s rss={read_rss_bytes(pid) / MIB:.0f} MiB",
                " ".join(f"{k}={v:.0f}" for k, v in held.items()),
            )
        samples += 1
        time.sleep(0.5)  # load pacing and RSS sampling period
    flooder.stop()
    height_flood = net.heights(CHANNEL, [0])[0]
    load()
    wait_for(lambda: net.heights(CHANNEL, [0])[0] > height_flood, 30, "a commit after the flood")
    after = read_rss_bytes(pid)
    peak = read_peak_rss_bytes(pid)
    print(f"flood: {seconds:.0f} s, {flooder.sent} envelopes, {flooder.sent_bytes / MIB:.0f} MiB")
    if flooder.error:
        print(f"flood stream ended early: {flooder.error}")
    print(f"node 0 peak RSS before the flood: {peak_before / MIB:.0f} MiB")
    print(f"node 0 peak RSS (VmHWM) after the flood: {peak / MIB:.0f} MiB")
    print(f"node 0 highest sampled RSS during the flood: {most / MIB:.0f} MiB")
    print(f"node 0 RSS after the flood stopped: {after / MIB:.0f} MiB")
    print(f"node 0 height: {height_before} before, {height_flood} at the end of the flood")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
