"""The benchmark completes a tiny run and writes a well-formed report (no figures asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_tiny_benchmark_run_writes_a_well_formed_report(tmp_path: Path, suite: str) -> None:
    out, table = tmp_path / "bench.json", tmp_path / "bench.md"
    args = ["--validators", "1", "--channels", "2", "--duration", "3", "--warmup", "1"]
    args += ["--crypto-suite", suite]
    args += ["--drain", "10", "--rate", "300", "--clients", "1", "--batch", "50"]
    proc = subprocess.run(
        [sys.executable, "scripts/bench.py", *args, "--json", str(out), "--markdown", str(table)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    for field in ("offered_tps", "committed_tps", "blocks_per_s", "txs_per_block", "view_changes"):
        assert isinstance(report[field], int | float), field
    assert report["succeeded"] > 0 and report["submitted"] >= report["succeeded"]
    assert set(report["latency_ms"]) == {"min", "p50", "p95", "p99", "max", "avg"}
    assert report["latency_ms"]["min"] <= report["latency_ms"]["p50"] <= report["latency_ms"]["max"]
    assert report["baseline"]["verifications_per_s"] > 0
    assert len(report["nodes"]) == 1 and report["nodes"][0]["peak_rss_mb"] > 0
    node = report["nodes"][0]  # the per-node efficiency figure and its floor (issue 16)
    assert node["cpu_us_per_tx"] > report["verify_floor_us_per_tx"] > 0
    ratio = node["cpu_us_per_tx"] / report["verify_floor_us_per_tx"]
    assert abs(node["over_floor"] - ratio) < 0.02
    parts = report["latency_breakdown_ms"]  # where the latency went, and it adds up
    assert set(parts) == {"admission", "to_block", "consensus", "quorum"}
    assert all(parts[p]["p50"] is not None for p in parts)
    total = sum(parts[p]["avg"] for p in parts)
    assert abs(total - report["latency_ms"]["avg"]) < 0.05 * report["latency_ms"]["avg"] + 1
    assert report["busy_answers"] >= 0
    assert "CPU per committed tx per node" in table.read_text()
    assert table.read_text().startswith("| Name | Succ | Fail |")


def test_govchain_bench_runs_the_benchmark_in_its_own_process() -> None:
    """`govchain bench -- …` hands its options to the benchmark (bench/ is not imported by
    the CLI, which bench/ itself uses: the two run as separate processes)."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "--", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--validators" in done.stdout and "block-throughput benchmark" in done.stdout
