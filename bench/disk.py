"""Disk used per 1,000,000 committed txs, with and without pruning (docs/benchmark.md
"Disk per 1,000,000 txs").

    make bench-disk                       # 1,000,000 txs (about 10 minutes, saturating)
    python -m bench.disk --txs 300        # a smoke run

A real 4-validator testnet on one channel: validators 0 and 1 keep every block, 2 and 3
run with `retain_blocks`. Client processes sign and submit kv puts (closed loop, a
refused batch is offered again) until `--txs` are accepted; when every node stands at
one height with an empty mempool (or with no new block for 30 s: txs left in a mempool
are reported), the txs in blocks 1..tip of node 0 are counted (the run fails below 99 %
of `--txs`) and the figures scale by that count; the nodes stop, and for each node's
channel LevelDB the script prints the bytes on disk (as `du` counts them) as the node
left it and after a full compaction (LevelDB reclaims a pruned block's space only
when compaction reaches its files), scaled to 1,000,000 txs, and what one pruned
node's keys hold by prefix.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import init_testnet, wait_ready
from cli.processes import NodeProcesses
from client.tls import TlsFiles
from node.config import load_config
from protos import api_pb2 as api

CLIENTS = mp.get_context("spawn")  # the parent runs gRPC threads: never fork it
PROGRESS_EVERY_S = 10.0
SETTLE_TIMEOUT_S = 300.0
QUIET_S = 30.0  # no new block for this long: what is committed is all there is
DONE = (api.ACCEPTED, api.DUPLICATE, api.ALREADY_COMMITTED)  # a resent tx counts once


@dataclass(frozen=True)
class Share:
    """One client process's part of the load."""

    index: int
    address: str
    chain_id: str
    channel: str
    first: int  # tx numbers first..first+count-1 (the kv keys, so every put is new)
    count: int
    batch: int
    payload_bytes: int
    tls: TlsFiles | None


def submit_share(share: Share, accepted: Any) -> None:
    """Process entry point: sign a batch, submit it until every tx is in, add to the
    shared `accepted` counter; a full mempool or a failed call backs off and retries."""
    import nacl.signing

    from client.connection import connect
    from client.txs import kv_put_tx

    key = nacl.signing.SigningKey.generate()
    stub = connect(share.address, share.tls)
    value = os.urandom(share.payload_bytes)
    end = share.first + share.count
    for start in range(share.first, end, share.batch):
        pending = [
            kv_put_tx(key, share.chain_id, share.channel, b"d%d" % i, value, nonce=i)
            for i in range(start, min(start + share.batch, end))
        ]
        backoff_s = 0.05
        while pending:
            try:
                reply = stub.SubmitTransactions(api.SubmitRequest(txs=pending), timeout=30)
                statuses = [r.status for r in reply.results]
            except Exception:  # overload or a slow node: offer the same batch again
                statuses = [api.TX_STATUS_UNSPECIFIED] * len(pending)
            done = sum(1 for s in statuses if s in DONE)
            with accepted.get_lock():
                accepted.value += done
            pending = [tx for tx, s in zip(pending, statuses, strict=True) if s not in DONE]
            if pending:  # back-pressure, not synchronisation: the mempool is full
                time.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 1.0)
            else:
                backoff_s = 0.05


def bytes_on_disk(path: Path) -> int:
    """What `du` counts: allocated blocks of every file under `path`."""
    return sum(
        os.stat(Path(root) / name).st_blocks * 512
        for root, _, files in os.walk(path)
        for name in files
    )


def compact(path: Path) -> None:
    """A full LevelDB compaction of a stopped node's channel store. The range is given:
    plyvel's `compact_range()` without one left the pruned blocks' files in place
    (146.6 MiB before and after on a pruned 1M-tx store; 71.7 MiB with the range)."""
    import plyvel

    db = plyvel.DB(str(path))
    try:
        db.compact_range(start=b"\x00", stop=b"\xff" * 8)  # every key of the layout
    finally:
        db.close()


def key_bytes_by_prefix(path: Path) -> dict[str, int]:
    """Key + value bytes of a stopped node's channel store, by key prefix (up to the
    first `:`): what the remaining disk holds."""
    import plyvel

    out: dict[str, int] = {}
    db = plyvel.DB(str(path))
    try:
        for key, value in db:
            cut = key.find(b":")
            prefix = (key[: cut + 1] if 0 <= cut < 8 else key[:2]).decode(errors="replace")
            out[prefix] = out.get(prefix, 0) + len(key) + len(value)
    finally:
        db.close()
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def load(args: argparse.Namespace, nodes: NodeProcesses, chain_id: str) -> float:
    """Submit `args.txs` txs from `args.clients` processes (one node each, round robin);
    return the seconds it took until every one was accepted."""
    accepted = CLIENTS.Value("q", 0)
    per = -(-args.txs // args.clients)
    shares = [
        Share(
            i,
            nodes.specs[i % len(nodes)].address,
            chain_id,
            args.channel,
            i * per,
            min(per, args.txs - i * per),
            args.batch,
            args.payload,
            nodes.tls,
        )
        for i in range(args.clients)
    ]
    procs = [CLIENTS.Process(target=submit_share, args=(s, accepted)) for s in shares]
    begin = time.time()
    for p in procs:
        p.start()
    while alive := [p for p in procs if p.is_alive()]:
        alive[0].join(PROGRESS_EVERY_S)  # a progress line at most every 10 s
        print(f"  {time.time() - begin:5.0f} s: {accepted.value:,} txs accepted", flush=True)
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit("a load client failed")
    return time.time() - begin


def settle(nodes: NodeProcesses, channel: str) -> tuple[int, int]:
    """Poll until every node stands at one height with an empty mempool, or at one height
    that has not moved for QUIET_S (txs left in a mempool are reported, not waited for
    past that); (that height, txs left in mempools). Deadline SETTLE_TIMEOUT_S."""
    from client.connection import connect

    stubs = [connect(s.address, nodes.tls) for s in nodes.specs]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        states = []
        for stub in stubs:
            st = stub.GetStatus(api.GetStatusRequest(), timeout=10)
            states += [(c.height, c.mempool_txs) for c in st.channels if c.channel == channel]
        heights, left = {h for h, _ in states}, sum(m for _, m in states)
        if len(heights) == 1 and (left == 0 or time.monotonic() - since > QUIET_S):
            return states[0][0], left
        if max(heights) != last:
            last, since = max(heights), time.monotonic()
        time.sleep(0.5)  # polling against a deadline
    raise SystemExit(f"the nodes did not settle in {SETTLE_TIMEOUT_S:.0f} s: {states}")


def count_txs(nodes: NodeProcesses, channel: str, tip: int) -> int:
    """The txs in blocks 1..tip of node 0 (which keeps every block)."""
    from client.connection import connect

    stub = connect(nodes.specs[0].address, nodes.tls)
    total = 0
    for height in range(1, tip + 1):
        request = api.GetBlockRequest(channel=channel, height=height)
        total += len(stub.GetBlock(request, timeout=30).block.block.txs)
    return total


def measure(nodes: NodeProcesses, channel: str, retain: list[int], txs: int) -> list[dict]:
    """Per node (stopped): bytes of its channel LevelDB as left and after compaction."""
    rows = []
    for i, spec in enumerate(nodes.specs):
        path = load_config(spec.config).data_dir / channel
        left = bytes_on_disk(path)
        compact(path)
        compacted = bytes_on_disk(path)
        rows.append(
            {
                "node": spec.name,
                "retain_blocks": retain[i],
                "bytes": left,
                "bytes_compacted": compacted,
                "bytes_per_1m_txs": round(left * 1_000_000 / txs),
                "bytes_compacted_per_1m_txs": round(compacted * 1_000_000 / txs),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    mb = 1 << 20
    out = [
        "| node | retain_blocks | MiB on disk | MiB compacted | MiB per 1M txs "
        "| compacted, per 1M txs |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        keep = r["retain_blocks"] or "0 (all)"
        out.append(
            f"| {r['node']} | {keep} | {r['bytes'] / mb:,.1f} | {r['bytes_compacted'] / mb:,.1f} "
            f"| {r['bytes_per_1m_txs'] / mb:,.1f} | {r['bytes_compacted_per_1m_txs'] / mb:,.1f} |"
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> dict:
    """The testnet in `--workdir`, else in a temp dir removed afterwards (GBs at 1M txs)."""
    if args.workdir:
        return run_in(args, args.workdir / "net")
    with tempfile.TemporaryDirectory(prefix="govchain-disk-") as work:
        return run_in(args, Path(work) / "net")


def run_in(args: argparse.Namespace, root: Path) -> dict:
    init_testnet(root, 4, [args.channel], args.block_txs_max)
    nodes = NodeProcesses.of_testnet(root)
    retain = [0, 0, args.retain_blocks, args.retain_blocks]
    for spec, keep in zip(nodes.specs, retain, strict=True):
        if keep:
            spec.config.write_text(f"retain_blocks = {keep}\n" + spec.config.read_text())
    chain_id = load_config(nodes.specs[0].config).chain_id
    nodes.start_all()
    try:
        wait_ready(nodes)
        print(f"load: {args.txs:,} txs on {args.channel}, {args.clients} clients", flush=True)
        seconds = load(args, nodes, chain_id)
        tip, left = settle(nodes, args.channel)
        committed = count_txs(nodes, args.channel, tip)
    finally:
        nodes.stop_all()
    if committed < args.txs * 0.99:
        raise SystemExit(f"{committed:,} txs committed of {args.txs:,} accepted")
    rows = measure(nodes, args.channel, retain, committed)
    pruned = load_config(nodes.specs[2].config).data_dir / args.channel
    return {
        "txs": committed,
        "blocks": tip,
        "accepted": args.txs,
        "left_in_mempools": left,
        "load_seconds": round(seconds, 1),
        "block_txs_max": args.block_txs_max,
        "payload_bytes": args.payload,
        "nodes": rows,
        "pruned_node_bytes_by_prefix": key_bytes_by_prefix(pruned),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.disk", description=__doc__.splitlines()[0])
    p.add_argument("--txs", type=int, default=1_000_000, help="committed txs to reach")
    p.add_argument("--retain-blocks", type=int, default=100, help="of validators 2 and 3")
    p.add_argument("--channel", default="license")
    p.add_argument("--block-txs-max", type=int, default=1000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--batch", type=int, default=500, help="txs per SubmitTransactions call")
    p.add_argument("--payload", type=int, default=100, help="value bytes per tx")
    p.add_argument("--workdir", type=Path, help="keep the testnet here (default: a temp dir)")
    p.add_argument("--json", type=Path, help="write the figures here too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = run(args)
    print(
        f"{result['txs']:,} txs committed in {result['blocks']:,} blocks "
        f"({result['load_seconds']} s of load; {result['left_in_mempools']} left in mempools)"
    )
    print(table(result["nodes"]))
    print("pruned node's keys by prefix (key + value bytes):")
    for prefix, size in result["pruned_node_bytes_by_prefix"].items():
        print(f"  {prefix:8} {size / (1 << 20):10,.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
