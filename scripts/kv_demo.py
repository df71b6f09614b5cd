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

import nacl.signing

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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=ROOT / "testnet-kv")
    parser.add_argument("--txs", type=int, default=2000, help="transactions in all (default 2000)")
    parser.add_argument(
        "--batch", type=int, default=50, help="transactions per SubmitTransactions call"
    )
    parser.add_argument("--base-port", type=int, default=7150)
    return parser.parse_args()


def start_testnet(args: argparse.Namespace) -> list[Path]:
    """Create the testnet (only the first time) and start its nodes; their directories."""
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
    return sorted(p.parent for p in args.dir.glob("*/config.toml"))


def sign_txs(key: nacl.signing.SigningKey, chain_id: str, count: int) -> list[tuple[str, bytes]]:
    """`count` kv.put txs, signed before the clock starts, spread over the channels."""
    nonce = time.time_ns()
    return [
        (
            CHANNELS[i % 5],
            kv_put_tx(
                key, chain_id, CHANNELS[i % 5], b"demo-%d" % i, b"value-%d" % i, nonce=nonce + i
            ),
        )
        for i in range(count)
    ]


def submit_all(stubs: list, txs: list[tuple[str, bytes]], batch: int) -> dict[bytes, float]:
    """Submit in batches, each to the next node in turn: accepted tx id -> submit time."""
    submitted: dict[bytes, float] = {}
    for k in range(0, len(txs), batch):
        chunk = txs[k : k + batch]
        t0 = time.monotonic()
        for r in submit(stubs[(k // batch) % len(stubs)], [tx for _, tx in chunk]):
            if r.status == api.ACCEPTED:
                submitted[r.tx_id] = t0
    return submitted


def print_figures(
    stub, submitted: dict[bytes, float], seen: dict[bytes, float], begin: float
) -> list[bytes]:
    """Each channel's height, the committed tx/s and the commit latency; the txs seen
    committed."""
    done = [t for t in submitted if t in seen]
    elapsed = max(seen[t] for t in done) - begin if done else 0.0
    latencies = sorted((seen[t] - submitted[t]) * 1000 for t in done)
    status = stub.GetStatus(api.GetStatusRequest(), timeout=5)
    for c in status.channels:
        print(f"  {c.channel:15} height {c.height:5}  view {c.view}  peers {c.peers_connected}")
    rate = len(done) / max(elapsed, 1e-9)
    print(f"committed {len(done)}/{len(submitted)} txs in {elapsed:.2f} s: {rate:.0f} tx/s")
    if latencies:
        print(
            f"commit latency ms: p50 {statistics.median(latencies):.0f}  "
            f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.0f}  max {latencies[-1]:.0f}"
        )
    return done


def main() -> int:
    args = parse_args()
    dirs = start_testnet(args)
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
    txs = sign_txs(key, chain_id, args.txs)
    print(f"submitting {len(txs)} signed txs to {len(CHANNELS)} channels via {len(stubs)} nodes")
    begin = time.monotonic()
    submitted = submit_all(stubs, txs, args.batch)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([t for t in submitted if t in seen]) < len(submitted):
        time.sleep(0.05)
    stop.set()
    done = print_figures(stubs[0], submitted, seen, begin)
    print(f"still running: `govchain testnet status --dir {args.dir}`; `make down` stops it")
    return 0 if len(done) == len(submitted) == len(txs) else 1


if __name__ == "__main__":
    sys.exit(main())
