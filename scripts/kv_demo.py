#!/usr/bin/env python3
"""Load demo: a 4-validator key-value testnet with all five channels, txs committing.

Creates the testnet with `govchain testnet init --app kv` (once, in ./testnet-kv), starts it with
`govchain testnet up`, submits signed kv.put transactions to every channel through
different nodes, follows the commits on every channel with StreamBlocks, and prints the
committed transactions per second and the commit latency it saw. The testnet keeps
running afterwards; `make down` stops it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.testnet_files import tls_of_testnet  # noqa: E402
from client.connection import connect, load_signing_key  # noqa: E402
from client.tls import TlsFiles  # noqa: E402
from client.txs import kv_put_tx, submit  # noqa: E402
from node.config import CHANNELS, load_config  # noqa: E402
from protos import api_pb2 as api  # noqa: E402


def govchain(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, check=True)


def follow(
    address: str,
    channel: str,
    start: int,
    seen: dict[bytes, float],
    stop: threading.Event,
    tls: TlsFiles | None,
) -> None:
    """Record the time each tx id is seen committed on `channel` (StreamBlocks)."""
    import hashlib

    stream = connect(address, tls).StreamBlocks(
        api.StreamBlocksRequest(channel=channel, from_height=start + 1)
    )
    for event in stream:
        now = time.monotonic()
        for tx in event.block.block.txs:
            seen[hashlib.sha256(tx).digest()] = now
        if stop.is_set():
            stream.cancel()
            return


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=ROOT / "testnet-kv")
    parser.add_argument("--txs", type=int, default=2000, help="transactions in all (default 2000)")
    parser.add_argument(
        "--batch", type=int, default=50, help="transactions per SubmitTransactions call"
    )
    parser.add_argument("--base-port", type=int, default=7150)
    args = parser.parse_args()
    if not (args.dir / "genesis").exists():
        govchain(
            "testnet",
            "init",
            "--app",
            "kv",
            "--validators",
            "4",
            "--out",
            str(args.dir),
            "--base-port",
            str(args.base_port),
        )
    govchain("testnet", "up", "--dir", str(args.dir))
    dirs = sorted(p.parent for p in args.dir.glob("*/config.toml"))
    addresses = [load_config(d / "config.toml").listen for d in dirs]
    chain_id = load_config(dirs[0] / "config.toml").chain_id
    key = load_signing_key(args.dir / "keys" / "client.key")
    tls = tls_of_testnet(args.dir)
    stubs = [connect(a, tls) for a in addresses]
    status = stubs[0].GetStatus(api.GetStatusRequest(), timeout=5)
    start_heights = {c.channel: c.height for c in status.channels}

    seen: dict[bytes, float] = {}
    stop = threading.Event()
    followers = [
        threading.Thread(
            target=follow, args=(addresses[0], ch, start_heights[ch], seen, stop, tls), daemon=True
        )
        for ch in CHANNELS
    ]
    for t in followers:
        t.start()
    nonce = time.time_ns()
    txs = [
        (
            CHANNELS[i % 5],
            kv_put_tx(
                key, chain_id, CHANNELS[i % 5], b"demo-%d" % i, b"value-%d" % i, nonce=nonce + i
            ),
        )
        for i in range(args.txs)
    ]
    print(f"submitting {len(txs)} signed txs to {len(CHANNELS)} channels via {len(stubs)} nodes")
    submitted: dict[bytes, float] = {}
    begin = time.monotonic()
    for k in range(0, len(txs), args.batch):
        chunk = txs[k : k + args.batch]
        t0 = time.monotonic()
        for r in submit(stubs[(k // args.batch) % len(stubs)], [tx for _, tx in chunk]):
            if r.status == api.ACCEPTED:
                submitted[r.tx_id] = t0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([t for t in submitted if t in seen]) < len(submitted):
        time.sleep(0.05)
    stop.set()
    done = [t for t in submitted if t in seen]
    elapsed = max(seen[t] for t in done) - begin if done else 0.0
    latencies = sorted((seen[t] - submitted[t]) * 1000 for t in done)
    status = stubs[0].GetStatus(api.GetStatusRequest(), timeout=5)
    for c in status.channels:
        print(f"  {c.channel:15} height {c.height:5}  view {c.view}  peers {c.peers_connected}")
    rate = len(done) / max(elapsed, 1e-9)
    print(f"committed {len(done)}/{len(submitted)} txs in {elapsed:.2f} s: {rate:.0f} tx/s")
    if latencies:
        print(
            f"commit latency ms: p50 {statistics.median(latencies):.0f}  "
            f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.0f}  max {latencies[-1]:.0f}"
        )
    print(f"still running: `govchain testnet status --dir {args.dir}`; `make down` stops it")
    return 0 if len(done) == len(submitted) == len(txs) else 1


if __name__ == "__main__":
    sys.exit(main())
