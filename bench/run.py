"""Run the benchmark: a testnet, pre-signed load from client processes, figures out.

scripts/bench.py --validators 4 --channels 5 --duration 30 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

from bench.fault import FaultRun, primary_index
from bench.figures import chart, latency_breakdown, markdown, report, scaling_markdown
from bench.load import ClientPlan, run_client
from bench.observe import (
    PROGRESS_EVERY_S,
    CommitWatcher,
    ProcessSampler,
    progress,
    scrape_internals,
)
from chains.tx import suite_hashing
from cli.processes import NodeExited, NodeProcesses, NotReady
from crypto import DEFAULT_SUITE, SUITE_NAMES, SuiteSigner, suite_by_name
from node.config import CHANNELS, load_config
from node.verifier import BatchVerifier
from protos import api_pb2 as api

CLIENTS = mp.get_context("spawn")  # how load-client processes start


def verification_baseline(
    items: int = 4000, threads: int = 2, crypto_suite: str = DEFAULT_SUITE
) -> float:
    """Verifications per second through the node's verifier pool, on this machine, in the
    crypto suite the testnet's genesis names."""
    suite = suite_by_name(crypto_suite)
    key = SuiteSigner.from_seed(suite, os.urandom(32))
    batch = [(key.public_key, b"tx-%d" % i, key.sign(b"tx-%d" % i)) for i in range(items)]
    verifier = BatchVerifier(threads=threads, cache_entries_max=1, suite=suite)
    start = time.perf_counter()
    ok = asyncio.run(verifier.verify_batch(batch))
    elapsed = time.perf_counter() - start
    verifier.close()
    assert all(ok)
    return items / elapsed


def verify_floor_us(crypto_suite: str = DEFAULT_SUITE, items: int = 2000) -> float:
    """CPU microseconds of one signature check in one thread: what every node must spend
    per committed tx at least (the efficiency figure's floor)."""
    suite = suite_by_name(crypto_suite)
    key = SuiteSigner.from_seed(suite, os.urandom(32))
    batch = [(key.public_key, b"tx-%d" % i, key.sign(b"tx-%d" % i)) for i in range(items)]
    start = time.process_time()
    assert all(suite.verify(*item) for item in batch)
    return (time.process_time() - start) * 1e6 / items


def per_node_cost(result: dict, cpu_seconds: list[float | None], floor_us: float) -> None:
    """CPU microseconds per committed tx on each node, next to the floor (issue 16)."""
    committed = max(result["succeeded"], 1)
    for node, seconds in zip(result["nodes"], cpu_seconds, strict=True):
        us = None if seconds is None else seconds * 1e6 / committed
        node["cpu_us_per_tx"] = None if us is None else round(us, 1)
        node["over_floor"] = None if us is None else round(us / floor_us, 2)
    result["verify_floor_us_per_tx"] = round(floor_us, 1)


def init_testnet(
    root: Path,
    validators: int,
    channels: list[str],
    block_txs_max: int,
    insecure: bool = False,
    app: str = "kv",
    crypto_suite: str = DEFAULT_SUITE,
) -> None:
    """`govchain testnet init` on free local ports, with metrics endpoints."""
    from cli.main import main as cli
    from cli.ports import free_port_block

    base = free_port_block(validators)
    args = ["testnet", "init", "--app", app, "--validators", str(validators), "--out", str(root)]
    args += [
        "--base-port",
        str(base),
        "--block-txs-max",
        str(block_txs_max),
        "--channels",
        *channels,
    ]
    args += ["--insecure"] if insecure else []
    args += ["--crypto-suite", crypto_suite]
    # Metrics on their own free ports: the report ends with what each node holds.
    metrics = free_port_block(validators)
    while base - validators < metrics < base + validators:  # the blocks must not overlap
        metrics = free_port_block(validators)
    args += ["--metrics-base-port", str(metrics)]
    if cli(args) != 0:
        raise SystemExit("testnet init failed")


def start_testnet(
    root: Path,
    validators: int,
    channels: list[str],
    block_txs_max: int,
    insecure: bool = False,
    crypto_suite: str = DEFAULT_SUITE,
    limits: dict[str, int] | None = None,
) -> NodeProcesses:
    init_testnet(root, validators, channels, block_txs_max, insecure, crypto_suite=crypto_suite)
    nodes = NodeProcesses.of_testnet(root)
    if limits:  # the node config's [limits] table (docs/operations.md), on every node
        table = "".join(f"{k} = {v}\n" for k, v in limits.items())
        for spec in nodes.specs:
            spec.config.write_text(spec.config.read_text() + f"\n[limits]\n{table}")
    nodes.start_all()
    return nodes


def wait_ready(nodes: NodeProcesses, timeout_s: float | None = None) -> None:
    """Every node answers and has every peer connected on every channel. By default 30 s,
    or 6 s per node past 5: 16 node processes start on the same 2 cores (shared with other
    work), and each opens a mutual-TLS stream to every peer (n·(n-1) handshakes)."""
    timeout_s = timeout_s if timeout_s is not None else max(30.0, 6.0 * len(nodes))
    try:
        nodes.wait_all_ready(
            timeout_s,
            until=lambda st: all(c.peers_connected >= len(nodes) - 1 for c in st.channels),
        )
    except NotReady as e:
        raise SystemExit(f"node {e.spec.address} not ready") from None
    except NodeExited as e:
        raise SystemExit(str(e)) from None


def run(args: argparse.Namespace) -> dict:
    suite = args.crypto_suite
    print(f"baseline: {suite} verifications/s through the verifier pool ...", flush=True)
    verify_rate = verification_baseline(threads=2, crypto_suite=suite)
    bound = verify_rate / args.validators
    print(f"  {verify_rate:,.0f} verifications/s: at most {bound:,.0f} tx/s on {args.validators}")
    channels = list(CHANNELS[: args.channels])
    workdir = Path(tempfile.mkdtemp(prefix="govchain-bench-"))
    nodes = start_testnet(
        workdir / "net",
        args.validators,
        channels,
        args.block_txs_max,
        args.insecure,
        suite,
        dict(args.limit),
    )
    try:
        configs = [load_config(spec.config) for spec in nodes.specs]
        addresses = [c.listen for c in configs]
        wait_ready(nodes)
        return measure(args, configs, addresses, channels, nodes, verify_rate, bound, nodes.tls)
    finally:
        nodes.stop_all()


def measure(args, configs, addresses, channels, nodes, verify_rate, bound, tls) -> dict:
    """Sign the load in client processes, release it all at once while watching commits
    and the nodes' processes, let the last txs commit, and report."""
    from client.connection import connect

    n = len(addresses)
    quorum = (n + (n - 1) // 3 + 2) // 2
    # Client processes are spawned, not forked: this process already runs gRPC threads (a
    # --sweep's earlier run, the commit watcher), and a forked child's gRPC can hang.
    queue: mp.Queue = CLIENTS.Queue()
    ready = CLIENTS.Value("d", 0.0)
    clients = start_clients(args, configs, addresses, channels, tls, queue, ready)
    primary = primary_index(configs)
    tx_hash = suite_hashing(suite_by_name(args.crypto_suite)).hash
    watcher = CommitWatcher(
        addresses, channels, quorum, block_node=1 if n > 1 else 0, tls=tls, tx_hash=tx_hash
    )
    watcher.start({})
    sampler = ProcessSampler(nodes.pids)
    sampler.start()
    begin = time.time() + 0.5
    ready.value = begin
    mode = f"open loop at {args.rate:.0f} tx/s" if args.rate else "closed loop"
    print(f"load: {mode} for {args.duration} s", flush=True)
    fault = FaultRun(args, nodes, configs, addresses, primary, begin, tls) if args.fault else None
    sent, errors, busy, answered_at = gather_clients(args, clients, queue, begin, watcher, sampler)
    submitted = {tid: t0 for t0, statuses in sent for tid, st in statuses if st == api.ACCEPTED}
    internals_at_load_end = [scrape_internals(c.metrics_listen) for c in configs]
    drain(watcher, submitted, args.drain)
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
    result["busy_answers"] = busy  # txs turned away busy, then submitted again
    result["latency_breakdown_ms"] = latency_breakdown(watcher, submitted, answered_at)
    per_node_cost(result, sampler.cpu_seconds(), verify_floor_us(args.crypto_suite))
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


def start_clients(args, configs, addresses, channels, tls, queue, ready) -> list:
    """Start the load-client processes and wait until each has pre-signed its txs (so
    signing costs nothing during the run). They wait for `ready` to hold the start time."""
    n = len(addresses)
    total_rate = args.rate
    per_client_txs = int((total_rate or args.max_rate) * args.duration / args.clients) + args.batch
    print(
        f"signing {per_client_txs * args.clients:,} txs in {args.clients} client processes ...",
        flush=True,
    )
    start_at = time.time() + 3600  # replaced once every client has signed
    ctx = CLIENTS
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
            args.crypto_suite,
        )
        for i in range(args.clients)
    ]
    clients = [ctx.Process(target=run_client, args=(p, queue, ready)) for p in plans]
    for c in clients:
        c.start()
    for _ in clients:
        kind, _, _ = queue.get(timeout=600)
        assert kind == "ready", kind
    return clients


def gather_clients(
    args, clients, queue, begin, watcher, sampler
) -> tuple[list, dict[str, int], int, dict[bytes, float]]:
    """Wait for every client to finish its load, printing progress meanwhile. Returns what
    they sent ((submit time, [(tx id, final status)]) per call), their errors by kind,
    how many busy answers (MEMPOOL_FULL, retry after) they were given and resubmitted, and
    when each accepted tx's call returned."""
    sent: list = []
    errors: dict[str, int] = {}
    busy = 0
    answered_at: dict[bytes, float] = {}
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
        elif kind == "busy":
            busy += payload
        elif kind == "answered":
            answered_at.update(payload)
    for c in clients:
        c.join()
    return sent, errors, busy, answered_at


def drain(watcher: CommitWatcher, submitted: dict[bytes, float], drain_s: float) -> None:
    """Wait up to `drain_s` for every accepted tx to be seen committed."""
    drain_until = time.time() + drain_s
    while time.time() < drain_until:
        with watcher.lock:
            pending = sum(1 for tid in submitted if watcher.commit_time(tid) is None)
        if pending == 0:
            break
        time.sleep(0.2)


def sweep_configs(args: argparse.Namespace) -> list[tuple[int, int, int, int, str]]:
    """The grid: (validators, channels, payload, block_txs_max, crypto suite) per run."""

    def ints(text: str, default: list[int]) -> list[int]:
        return [int(x) for x in text.split(",") if x] or default

    suites = [x for x in args.sweep_suites.split(",") if x] or [args.crypto_suite]
    return [
        (n, ch, pl, bt, suite)
        for suite in suites
        for n in ints(args.sweep_validators, [1, 4, 7])
        for ch in ints(args.sweep_channels, [1, 5])
        for pl in ints(args.sweep_payloads, [args.payload])
        for bt in ints(args.sweep_block_txs, [args.block_txs_max])
    ]


def sweep(args: argparse.Namespace) -> int:
    """One fresh testnet per configuration; one Markdown table of all rows. A run whose
    testnet does not come up costs its row, not the sweep (the JSON is rewritten after
    every run, so an interrupted sweep keeps what it measured)."""
    rows, results, failed = [], [], []
    configs = sweep_configs(args)
    for k, (n, ch, pl, bt, suite) in enumerate(configs, 1):
        print(
            f"\n=== sweep {k}/{len(configs)}: validators={n} channels={ch} payload={pl} "
            f"block_txs_max={bt} crypto_suite={suite}",
            flush=True,
        )
        fields = {
            **vars(args),
            "validators": n,
            "channels": ch,
            "payload": pl,
            "block_txs_max": bt,
            "crypto_suite": suite,
            "sweep": False,
        }
        load_before = os.getloadavg()[0]
        try:
            r = run(argparse.Namespace(**{**fields, "png": None}))
        except SystemExit as e:
            print(f"sweep {k}/{len(configs)} not measured: {e}", flush=True)
            failed.append(f"n={n} ch={ch} payload={pl}B block={bt} {suite}: {e}")
            continue
        # The machine is shared: the load average says how far to trust a row.
        r["load_avg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results.append(r)
        rows.append(markdown(r).splitlines()[2])
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not results:
        return 1
    table = "\n".join([*markdown(results[0]).splitlines()[:2], *rows])
    table += "\n\n" + scaling_markdown(results, sim_messages_per_block(configs))
    table += "".join(f"\n\nnot measured: {f}" for f in failed)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 1 if failed else 0


def sim_messages_per_block(configs: list[tuple]) -> dict[int, float]:
    """Consensus messages per committed block for each n of the sweep, counted in the
    simulator (the nodes keep no such count; see bench/messages.py)."""
    from bench.messages import count_messages

    ns = sorted({n for n, *_ in configs if n > 1})
    return {n: count_messages(n, window_ticks=100).per_block() for n in ns}


def _limit(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if not name or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=INTEGER")
    return name, int(value)


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
    p.add_argument(
        "--crypto-suite",
        choices=SUITE_NAMES,
        default=DEFAULT_SUITE,
        help="the testnet's genesis crypto_suite; clients sign with its keys",
    )
    p.add_argument("--fault", choices=("kill-primary",), help="kill the primary at mid-run")
    p.add_argument("--sweep", action="store_true", help="n in {1,4,7} x channels in {1,5}")
    p.add_argument("--sweep-payloads", default="", help="also sweep payload sizes, e.g. 100,1000")
    p.add_argument("--sweep-block-txs", default="", help="also sweep block sizes, e.g. 250,1000")
    p.add_argument("--sweep-validators", default="", help="validator counts (default 1,4,7)")
    p.add_argument("--sweep-channels", default="", help="channel counts (default 1,5)")
    p.add_argument(
        "--sweep-suites",
        default="",
        help="crypto suites side by side, e.g. ed25519-sha256,sm2-sm3 (default: --crypto-suite)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="plaintext gRPC between nodes and clients (default: mutual TLS, as deployed)",
    )
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        type=_limit,
        metavar="NAME=VALUE",
        help="a node [limits] value on every node, e.g. mempool_queue_ms=500 (repeatable)",
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
