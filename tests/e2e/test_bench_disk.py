"""The disk benchmark (bench/disk.py, `make bench-disk`) completes a tiny run on a real
4-validator testnet and reports well-formed figures (none asserted but their shape)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import ROOT

TXS = 300


def test_a_tiny_disk_run_reports_every_node_and_the_pruned_nodes_keys(tmp_path: Path) -> None:
    out = tmp_path / "disk.json"
    args = ["--txs", str(TXS), "--retain-blocks", "64", "--block-txs-max", "2"]
    args += ["--clients", "1", "--batch", "50", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.disk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["txs"] == TXS and result["blocks"] >= TXS // 2
    assert [n["retain_blocks"] for n in result["nodes"]] == [0, 0, 64, 64]
    for node in result["nodes"]:
        assert node["bytes"] > 0 and node["bytes_compacted"] > 0
        assert node["bytes_per_1m_txs"] == round(node["bytes"] * 1_000_000 / TXS)
    held = result["pruned_node_bytes_by_prefix"]
    assert {"t:", "s:", "h:"} <= set(held)  # the tx index, world state, digest index stay
    assert "| node | retain_blocks |" in proc.stdout
