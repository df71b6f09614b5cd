"""The figures of one benchmark run: the result dict (throughput over the steady window,
latency over every commit), its Markdown table and its chart.

Throughput and latency follow the Hyperledger PSWG definitions (see bench/__init__.py).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench.observe import CommitWatcher
from protos import api_pb2 as api


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


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
    """The run's figures: throughput over the steady window, latency over every commit."""
    failed = failures(sent, errors)
    load_end, window = steady_window(args, begin, sent)
    latencies, in_window, blocks = commits(watcher, submitted, window)
    failed["NOT_COMMITTED"] = len(submitted) - len(latencies)
    span = window[1] - window[0]
    committed_tps = in_window / span
    offered = sum(len(s) for _, s in sent) / max(load_end - begin, 1e-9)
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in ("json", "markdown")},
        "baseline": {"verifications_per_s": round(verify_rate), "tps_bound": round(bound)},
        "offered_tps": round(offered, 1),
        "submitted": sum(len(s) for _, s in sent),
        "succeeded": len(latencies),
        "failed": {k: v for k, v in sorted(failed.items()) if v},
        "committed_tps": round(committed_tps, 1),
        "efficiency": round(committed_tps / bound, 3) if bound else None,
        "steady_window_s": [args.warmup, round(window[1] - begin, 2)],
        "blocks_per_s": round(len(blocks) / span, 2),
        "txs_per_block": round(statistics.mean(b[3] for b in blocks), 1) if blocks else 0,
        "latency_ms": latency_summary(latencies),
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


def failures(sent: list, errors: dict[str, int]) -> dict[str, int]:
    """Txs that failed, by status name: the clients' errors and every tx not ACCEPTED
    (CALL_FAILED when the whole call failed)."""
    failed: dict[str, int] = dict(errors)
    for _, sts in sent:
        for _, st in sts:
            if st != api.ACCEPTED:
                name = api.TxStatus.Name(st) if st >= 0 else "CALL_FAILED"
                failed[name] = failed.get(name, 0) + 1
    return failed


def steady_window(args, begin: float, sent: list) -> tuple[float, tuple[float, float]]:
    """When the load ended, and the steady window (from the end of the warm-up to the
    end of the load, at least a second) throughput is measured over."""
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
    return load_end, (begin + args.warmup, max(load_end, begin + args.warmup + 1.0))


def commits(
    watcher: CommitWatcher, submitted: dict[bytes, float], window: tuple[float, float]
) -> tuple[list[float], int, list]:
    """The commit latency (ms, sorted) of every accepted tx seen committed, how many of
    them committed inside the window, and the blocks committed inside it."""
    latencies, in_window = [], 0
    with watcher.lock:
        for tid, t0 in submitted.items():
            t = watcher.commit_time(tid)
            if t is None:
                continue
            latencies.append((t - t0) * 1000)
            if window[0] <= t <= window[1]:
                in_window += 1
        blocks = [b for b in watcher.blocks if window[0] <= b[0] <= window[1]]
    latencies.sort()
    return latencies, in_window, blocks


def latency_summary(latencies: list[float]) -> dict[str, float | None]:
    """Min, percentiles, max and mean of sorted latencies in ms (None or nan when empty)."""
    return {
        "min": round(latencies[0], 1) if latencies else None,
        "p50": round(percentile(latencies, 0.50), 1),
        "p95": round(percentile(latencies, 0.95), 1),
        "p99": round(percentile(latencies, 0.99), 1),
        "max": round(latencies[-1], 1) if latencies else None,
        "avg": round(statistics.mean(latencies), 1) if latencies else None,
    }


def latency_breakdown(
    watcher: CommitWatcher, submitted: dict[bytes, float], answered_at: dict[bytes, float]
) -> dict[str, dict[str, float | None]]:
    """Where a committed tx's latency went, in ms (p50 and mean of each part; the means
    add up to the mean latency): `admission` (the submit call: decode, checks, signature),
    `to_block` (waiting in a mempool until the primary cut its block), `consensus` (from
    the cut until the first node streamed the executed block: three phases, execution,
    the synced write), `quorum` (until 2f+1 nodes had streamed it). All clocks are this
    host's, so the block time the primary stamped is comparable with the clients'."""
    parts: dict[str, list[float]] = {"admission": [], "to_block": [], "consensus": [], "quorum": []}
    with watcher.lock:
        for tid, t0 in submitted.items():
            t1, cut = answered_at.get(tid), watcher.proposed.get(tid)
            done = watcher.commit_time(tid)
            if t1 is None or cut is None or done is None:
                continue
            first = min(watcher.seen[tid])
            for name, ms in (
                ("admission", t1 - t0),
                ("to_block", cut - t1),
                ("consensus", first - cut),
                ("quorum", done - first),
            ):
                parts[name].append(ms * 1000)
    out: dict[str, dict[str, float | None]] = {}
    for name, values in parts.items():
        values.sort()
        out[name] = {
            "p50": round(percentile(values, 0.5), 1) if values else None,
            "avg": round(statistics.mean(values), 1) if values else None,
        }
    return out


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
    if cfg.get("crypto_suite", "ed25519-sha256") != "ed25519-sha256":
        name += f" {cfg['crypto_suite']}"
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
    costs = ", ".join(f"{x.get('cpu_us_per_tx')} µs" for x in r["nodes"])
    floor = r.get("verify_floor_us_per_tx")
    return "\n".join(
        [
            head,
            sep,
            row,
            "",
            f"nodes: {nodes}; view changes: {r['view_changes']}; "
            f"efficiency vs the verification bound ({r['baseline']['tps_bound']} tx/s): "
            f"{r['efficiency']}",
            "",
            f"CPU per committed tx per node: {costs} (floor: one signature check, {floor} µs)",
        ]
    )


def scaling_markdown(results: list[dict], messages_per_block: dict[int, float]) -> str:
    """How a sweep's figures grow with n (issue 16): throughput, latency, CPU per committed
    tx per node (mean over the nodes, and its floor), and the consensus messages per block
    the simulator counts for that n (bench/messages.py), with the machine's load."""
    rows = [
        "| n | channels | tx/s | p50 (ms) | p99 (ms) | CPU µs/tx per node (floor) "
        "| messages/block (sim) | view changes | load before / after |",
        "|" + "---|" * 9,
    ]
    for r in results:
        cfg, lat = r["config"], r["latency_ms"]
        costs = [x["cpu_us_per_tx"] for x in r["nodes"] if x.get("cpu_us_per_tx") is not None]
        cost = f"{statistics.mean(costs):,.0f}" if costs else "-"
        load = " / ".join(str(x) for x in r.get("load_avg_1min", ())) or "-"
        msgs = messages_per_block.get(cfg["validators"])
        rows.append(
            f"| {cfg['validators']} | {cfg['channels']} | {r['committed_tps']:,.0f} "
            f"| {lat['p50']} | {lat['p99']} | {cost} ({r.get('verify_floor_us_per_tx')}) "
            f"| {'-' if msgs is None else f'{msgs:,.0f}'} | {r['view_changes']} | {load} |"
        )
    return "\n".join(rows)


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
