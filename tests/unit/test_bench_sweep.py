"""The sweep's scaling table and the closed-loop clients' pause when a node is busy
(bench/figures.py, bench/load.py, bench/run.py; issue 16). No figures asserted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import bench.run as bench_run
from bench.figures import scaling_markdown

# What markdown() reads of a result besides the scaling table's fields.
FIGURES = {
    "succeeded": 10,
    "failed": {},
    "offered_tps": 12.0,
    "baseline": {"tps_bound": 1000},
    "efficiency": 0.1,
}


def result(n: int, channels: int, tps: float, costs: list[float | None]) -> dict:
    return {
        "config": {"validators": n, "channels": channels},
        "committed_tps": tps,
        "latency_ms": {
            "min": 80.0,
            "p50": 120.5,
            "p95": 400.0,
            "p99": 480.0,
            "max": 500.0,
            "avg": 150.0,
        },
        "nodes": [
            {"node": "a", "cpu_percent": 50.0, "peak_rss_mb": 100.0, "cpu_us_per_tx": c}
            for c in costs
        ],
        "verify_floor_us_per_tx": 57.0,
        "view_changes": 0,
        "load_avg_1min": [3.5, 4.25],
    }


def test_the_scaling_table_has_a_row_per_run_with_the_mean_cost_and_the_sim_count() -> None:
    rows = scaling_markdown(
        [result(4, 1, 2100.4, [200.0, 300.0]), result(16, 5, 310.0, [None, 900.0])],
        {4: 34.2, 16: 625.5},
    ).splitlines()
    assert rows[0].startswith("| n | channels | tx/s |") and len(rows) == 4
    assert rows[2] == "| 4 | 1 | 2,100 | 120.5 | 480.0 | 250 (57.0) | 34 | 0 | 3.5 / 4.25 |"
    assert "| 16 | 5 | 310 |" in rows[3] and "| 900 (57.0) | 626 |" in rows[3]


def test_a_run_without_a_sim_count_or_a_load_shows_a_dash() -> None:
    r = result(1, 1, 900.0, [100.0])
    del r["load_avg_1min"]
    row = scaling_markdown([r], {}).splitlines()[2]
    assert row.endswith("| - | 0 | - |")


def test_a_run_that_does_not_start_costs_its_row_not_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run(args: argparse.Namespace) -> dict:
        if args.validators == 16:
            raise SystemExit("node 127.0.0.1:1 not ready")
        r = result(args.validators, args.channels, 100.0 * args.validators, [150.0])
        config = {k: v for k, v in vars(args).items() if k not in ("json", "markdown")}
        return {**r, **FIGURES, "config": config}

    monkeypatch.setattr(bench_run, "run", fake_run)
    monkeypatch.setattr(bench_run, "sim_messages_per_block", lambda configs: {4: 34.0})
    out = tmp_path / "sweep.json"
    argv = ["--sweep", "--sweep-validators", "4,16", "--sweep-channels", "1", "--json", str(out)]
    assert bench_run.main(argv) == 1
    printed = capsys.readouterr().out
    assert "| 4 | 1 | 400 |" in printed
    assert "not measured: n=16 ch=1 payload=100B block=1000 ed25519-sha256" in printed
    saved = json.loads(out.read_text())
    assert [r["config"]["validators"] for r in saved] == [4]
    assert len(saved[0]["load_avg_1min"]) == 2
