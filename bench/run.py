"""Run the benchmark: a testnet, pre-signed load from client processes, figures out.

scripts/bench.py --validators 4 --channels 5 --duration 30 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import nacl.signing

from bench.fault import FaultRun, primary_index
from bench.load import ClientPlan, run_client
from bench.observe import (
    PROGRESS_EVERY_S,
    CommitWatcher,
    ProcessSampler,
    progress,
    scrape_internals,
)
from cli.processes import NodeExited, NodeProcesses, NotReady
from node.config import CHANNELS, load_config
from node.verifier import BatchVerifier
from protos import api_pb2 as api


def verification_baseline(items: int = 4000, threads: int = 2) -> float:
    """Ed25519 verifications per second through the node's verifier pool, on this machine."""
    key = nacl.signing.SigningKey.generate()
    public = bytes(key.verify_key)
    batch = [(public, b"tx-%d" % i, key.sign(b"tx-%d" % i).signature) for i in range(items)]
    verifier = BatchVerifier(threads=threads, cache_entries_max=1)
    start = time.perf_counter()
    ok = asyncio.run(verifier.verify_batch(batch))
    elapsed = time.perf_counter() - start
    verifier.close()
    assert all(ok)
    return items / elapsed


def start_testnet(
    root: Path, validators: int, channels: list[str], block_txs_max: int, insecure: bool = False
) -> NodeProcesses:
    from cli.main import main as cli
    from cli.ports import free_port_block

    base = free_port_block(validators)
    args = ["testnet", "init", "--app", "kv", "--validators", str(validators), "--out", str(root)]
    args += [
        "--base-port",
        str(base),
        "--block-txs-max",
        str(block_txs_max),
        "--channels",
        *channels,
    ]
    args += ["--insecure"] if insecure else []
    # Metrics on their own free ports: the report ends with what each node holds.
    args += ["--metrics-base-port", str(free_port_block(validators))]
    if cli(args) != 0:
        raise SystemExit("testnet init failed")
    nodes = NodeProcesses.of_testnet(root)
    nodes.start_all()
    return nodes


def wait_ready(nodes: NodeProcesses, timeout_s: float = 30.0) -> None:
    """Every node answers and has every peer connected on every channel."""
    try:
        nodes.wait_all_ready(
            timeout_s,
            until=lambda st: all(c.peers_connected >= len(nodes) - 1 for c in st.channels),
        )
    except NotReady as e:
        raise SystemExit(f"node {e.spec.address} not ready") from None
    except NodeExited as e:
        raise SystemExit(str(e)) from None


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


def run(args: argparse.Namespace) -> dict:
    print("baseline: Ed25519 verifications/s through the verifier pool ...", flush=True)
    verify_rate = verification_baseline(threads=2)
    bound = verify_rate / args.validators
    print(f"  {verify_rate:,.0f} verifications/s: at most {bound:,.0f} tx/s on {args.validators}")
    channels = list(CHANNELS[: args.channels])
    workdir = Path(tempfile.mkdtemp(prefix="govchain-bench-"))
    nodes = start_testnet(
        workdir / "net", args.validators, channels, args.block_txs_max, args.insecure
    )
    try:
        configs = [load_config(spec.config) for spec in nodes.specs]
        addresses = [c.listen for c in configs]
        wait_ready(nodes)
        return measure(args, configs, addresses, channels, nodes, verify_rate, bound, nodes.tls)
    finally:
        nodes.stop_all()


def measure(args, configs, addresses, channels, nodes, verify_rate, bound, tls) -> dict:
    from client.connection import connect

    n = len(addresses)
    quorum = (n + (n - 1) // 3 + 2) // 2
    total_rate = args.rate
    per_client_txs = int((total_rate or args.max_rate) * args.duration / args.clients) + args.batch
    print(
        f"signing {per_client_txs * args.clients:,} txs in {args.clients} client processes ...",
        flush=True,
    )
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 3600  # replaced once every client has signed
    ctx = mp.get_context("fork")
    plans = [
        ClientPlan(
            i,
            addresses[i % n],
            configs[0].chain_id,
            channels,
            per_client_txs,
            args.batch,
            args.payload,
            total_rate / args.clients if total_rate else 0.0,
            start_at,
            args.duration,
            tls,
        )
        for i in range(args.clients)
    ]
    ready = ctx.Value("d", 0.0)
    clients = [ctx.Process(target=run_client, args=(p, queue, ready)) for p in plans]
    for c in clients:
        c.start()
    for _ in clients:
        kind, _, _ = queue.get(timeout=600)
        assert kind == "ready", kind
    primary = primary_index(configs)
    watcher = CommitWatcher(addresses, channels, quorum, block_node=1 if n > 1 else 0, tls=tls)
    watcher.start({})
    sampler = ProcessSampler(nodes.pids)
    sampler.start()
    begin = time.time() + 0.5
    ready.value = begin
    mode = f"open loop at {total_rate:.0f} tx/s" if total_rate else "closed loop"
    print(f"load: {mode} for {args.duration} s", flush=True)
    fault = FaultRun(args, nodes, configs, addresses, primary, begin, tls) if args.fault else None
    sent: list = []
    errors: dict[str, int] = {}
    done = 0
    give_up = time.time() + args.duration + 120
    while done < len(clients):
        try:
            kind, _, payload = queue.get(timeout=PROGRESS_EVERY_S)
        except Empty:
            if time.time() > give_up:
                raise SystemExit("the load clients stopped answering") from None
            progress(begin, watcher, sampler)
            continue
        if kind == "done":
            sent.extend(payload)
            done += 1
        elif kind == "error":
            errors[payload] = errors.get(payload, 0) + 1
    for c in clients:
        c.join()
    submitted = {tid: t0 for t0, statuses in sent for tid, st in statuses if st == api.ACCEPTED}
    internals_at_load_end = [scrape_internals(c.metrics_listen) for c in configs]
    drain_until = time.time() + args.drain
    while time.time() < drain_until:
        with watcher.lock:
            pending = sum(1 for tid in submitted if watcher.commit_time(tid) is None)
        if pending == 0:
            break
        time.sleep(0.2)
    cpu = sampler.finish()
    if fault is not None:
        fault.finish()
    statuses = [connect(a, tls).GetStatus(api.GetStatusRequest(), timeout=5) for a in addresses]
    internals = [scrape_internals(c.metrics_listen) for c in configs]
    watcher.close()
    result = report(
        args,
        begin,
        sent,
        submitted,
        watcher,
        cpu,
        sampler.peak_rss,
        statuses,
        configs,
        verify_rate,
        bound,
        errors,
    )
    result["node_internals"] = {"load_end": internals_at_load_end, "drained": internals}
    result["rss_mb_timeline"] = [
        {"t_s": round(t - begin, 1), "rss_mb": [round(r / 2**20, 1) for r in rss]}
        for t, rss in sampler.rss_timeline
    ]
    if fault is not None:
        result["fault"] = fault.figures(watcher, submitted)
    if args.png:
        chart(args.png, begin, submitted, watcher)
    return result


def chart(path: Path, begin: float, submitted: dict[bytes, float], watcher: CommitWatcher) -> None:
    """Throughput and p50 latency per second (needs matplotlib: pip install '.[bench]')."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: chart skipped (pip install '.[bench]')", file=sys.stderr)
        return
    per_second: dict[int, list[float]] = {}
    for tid, t0 in submitted.items():
        t = watcher.commit_time(tid)
        if t is not None:
            per_second.setdefault(int(t - begin), []).append((t - t0) * 1000)
    xs = sorted(per_second)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(xs, [len(per_second[x]) for x in xs], color="#4c72b0", label="committed tx/s")
    ax.set_xlabel("seconds since load started")
    ax.set_ylabel("committed tx/s")
    ax2 = ax.twinx()
    ax2.plot(xs, [statistics.median(per_second[x]) for x in xs], color="#dd8452", label="p50 ms")
    ax2.set_ylabel("p50 commit latency (ms)")
    fig.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def sweep(args: argparse.Namespace) -> int:
    """One fresh testnet per configuration; one Markdown table of all rows."""
    rows, results = [], []

    def ints(text: str, default: list[int]) -> list[int]:
        return [int(x) for x in text.split(",") if x] or default

    configs = [
        (n, ch, pl, bt)
        for n in ints(args.sweep_validators, [1, 4, 7])
        for ch in ints(args.sweep_channels, [1, 5])
        for pl in ints(args.sweep_payloads, [args.payload])
        for bt in ints(args.sweep_block_txs, [args.block_txs_max])
    ]
    for k, (n, ch, pl, bt) in enumerate(configs, 1):
        print(
            f"\n=== sweep {k}/{len(configs)}: validators={n} channels={ch} payload={pl} "
            f"block_txs_max={bt}",
            flush=True,
        )
        fields = {
            **vars(args),
            "validators": n,
            "channels": ch,
            "payload": pl,
            "block_txs_max": bt,
            "sweep": False,
        }
        r = run(argparse.Namespace(**{**fields, "png": None}))
        results.append(r)
        rows.append(markdown(r).splitlines()[2])
    table = "\n".join([*markdown(results[0]).splitlines()[:2], *rows])
    print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


def report(
    args,
    begin,
    sent,
    submitted,
    watcher,
    cpu,
    peak_rss,
    statuses,
    configs,
    verify_rate,
    bound,
    errors,
) -> dict:
    failed: dict[str, int] = dict(errors)
    for _, sts in sent:
        for _, st in sts:
            if st != api.ACCEPTED:
                name = api.TxStatus.Name(st) if st >= 0 else "CALL_FAILED"
                failed[name] = failed.get(name, 0) + 1
    # The steady window ends with the load: clients that ran out of pre-signed txs (closed
    # loop faster than --max-rate) stopped early, and counting idle time would understate.
    last_send = max((t0 for t0, _ in sent), default=begin + args.duration)
    load_end = min(begin + args.duration, last_send)
    if load_end < begin + args.duration - 1.0:
        print(
            f"note: clients ran out of pre-signed txs after {load_end - begin:.1f} s; "
            "raise --max-rate for a longer closed-loop window",
            flush=True,
        )
    window = (begin + args.warmup, max(load_end, begin + args.warmup + 1.0))
    latencies, in_window, committed = [], 0, 0
    with watcher.lock:
        for tid, t0 in submitted.items():
            t = watcher.commit_time(tid)
            if t is None:
                continue
            committed += 1
            latencies.append((t - t0) * 1000)
            if window[0] <= t <= window[1]:
                in_window += 1
        blocks = [b for b in watcher.blocks if window[0] <= b[0] <= window[1]]
    failed["NOT_COMMITTED"] = len(submitted) - committed
    span = window[1] - window[0]
    latencies.sort()
    committed_tps = in_window / span
    offered = sum(len(s) for _, s in sent) / max(load_end - begin, 1e-9)
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "markdown")},
        "baseline": {"verifications_per_s": round(verify_rate), "tps_bound": round(bound)},
        "offered_tps": round(offered, 1),
        "submitted": sum(len(s) for _, s in sent),
        "succeeded": committed,
        "failed": {k: v for k, v in sorted(failed.items()) if v},
        "committed_tps": round(committed_tps, 1),
        "efficiency": round(committed_tps / bound, 3) if bound else None,
        "steady_window_s": [args.warmup, round(window[1] - begin, 2)],
        "blocks_per_s": round(len(blocks) / span, 2),
        "txs_per_block": round(statistics.mean(b[3] for b in blocks), 1) if blocks else 0,
        "latency_ms": {
            "min": round(latencies[0], 1) if latencies else None,
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(latencies[-1], 1) if latencies else None,
            "avg": round(statistics.mean(latencies), 1) if latencies else None,
        },
        "nodes": [
            {
                "node": c.node_id,
                "cpu_percent": round(u, 1) if u is not None else None,
                "peak_rss_mb": round(r / 2**20, 1),
            }
            for c, u, r in zip(configs, cpu, peak_rss, strict=True)
        ],
        "view_changes": max(ch.view for st in statuses for ch in st.channels),
    }
    return result


def markdown(r: dict) -> str:
    lat = r["latency_ms"]
    head = (
        "| Name | Succ | Fail | Send Rate (TPS) | Max Latency (s) | Min Latency (s) "
        "| Avg Latency (s) | Throughput (TPS) | p50 (ms) | p95 (ms) | p99 (ms) |"
    )
    sep = "|" + "---|" * 11
    cfg = r["config"]
    name = (
        f"n={cfg['validators']} ch={cfg['channels']} payload={cfg['payload']}B "
        f"block={cfg['block_txs_max']}"
    )
    fails = sum(r["failed"].values())

    def s(v: float | None) -> str:
        return "-" if v is None else f"{v / 1000:.3f}"

    row = (
        f"| {name} | {r['succeeded']} | {fails} | {r['offered_tps']} | {s(lat['max'])} "
        f"| {s(lat['min'])} | {s(lat['avg'])} | {r['committed_tps']} | {lat['p50']} "
        f"| {lat['p95']} | {lat['p99']} |"
    )
    nodes = ", ".join(
        f"{x['node']} {x['cpu_percent']}% CPU {x['peak_rss_mb']} MB" for x in r["nodes"]
    )
    return "\n".join(
        [
            head,
            sep,
            row,
            "",
            f"nodes: {nodes}; view changes: {r['view_changes']}; "
            f"efficiency vs the verification bound ({r['baseline']['tps_bound']} tx/s): "
            f"{r['efficiency']}",
        ]
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="govchain block-throughput benchmark")
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--channels", type=int, default=5, choices=range(1, 6))
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument(
        "--warmup", type=float, default=5.0, help="seconds excluded from the steady window"
    )
    p.add_argument("--drain", type=float, default=15.0, help="seconds to wait for the last commits")
    p.add_argument(
        "--rate", type=float, default=0.0, help="offered tx/s (0: closed loop at maximum)"
    )
    p.add_argument(
        "--max-rate", type=float, default=3000.0, help="closed loop: txs pre-signed per second"
    )
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--batch", type=int, default=200, help="txs per SubmitTransactions call")
    p.add_argument("--payload", type=int, default=100, help="value bytes per tx")
    p.add_argument("--block-txs-max", type=int, default=1000)
    p.add_argument("--fault", choices=("kill-primary",), help="kill the primary at mid-run")
    p.add_argument("--sweep", action="store_true", help="n in {1,4,7} x channels in {1,5}")
    p.add_argument("--sweep-payloads", default="", help="also sweep payload sizes, e.g. 100,1000")
    p.add_argument("--sweep-block-txs", default="", help="also sweep block sizes, e.g. 250,1000")
    p.add_argument("--sweep-validators", default="", help="validator counts (default 1,4,7)")
    p.add_argument("--sweep-channels", default="", help="channel counts (default 1,5)")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="plaintext gRPC between nodes and clients (default: mutual TLS, as deployed)",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--png", type=Path, help="throughput/latency chart (needs matplotlib)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.warmup >= args.duration:
        print("--warmup must be below --duration", file=sys.stderr)
        return 2
    if args.sweep:
        return sweep(args)
    result = run(args)
    table = markdown(result)
    print(json.dumps(result, indent=2))
    print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0 if result["succeeded"] > 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
