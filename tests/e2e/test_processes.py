"""The node process manager itself (cli/processes.py), on a one-node testnet: what the
harness, the benchmark and `govchain testnet up|down` rely on it for.

The 4-node kill, restart and catch-up through the harness is in test_testnet.py; here are
the manager's own promises: exit statuses of a kill and a clean stop, a restart that
answers again, the launch hook, a node that dies at start reported at once with its status
and log tail, and the detached `testnet up` / `testnet down` pair run as an operator runs
them (separate processes, pid files).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main as cli
from cli.processes import NodeExited, NodeProcesses, node_command, pid_alive
from node.config import load_config
from tests.e2e.harness import ROOT, free_port_block, wait_for


def one_node_testnet(tmp_path: Path) -> Path:
    root = tmp_path / "net"
    args = ["testnet", "init", "--validators", "1", "--out", str(root), "--insecure"]
    args += ["--base-port", str(free_port_block(1)), "--channels", "license"]
    assert cli([*args, "--metrics-base-port", "0"]) == 0
    return root


def test_kill_restart_and_stop_report_exit_statuses(tmp_path: Path) -> None:
    launched: list[list[str]] = []

    def wrap(i: int, argv: list[str]) -> list[str]:
        launched.append(argv)
        return argv

    nodes = NodeProcesses.of_testnet(one_node_testnet(tmp_path), wrap=wrap)
    try:
        nodes.start_all()
        nodes.wait_all_ready()
        assert launched == [node_command(nodes.specs[0].config.absolute())]
        with pytest.raises(RuntimeError, match="already running"):
            nodes.start(0)
        assert nodes.kill(0) == -signal.SIGKILL
        assert nodes.procs == [None] and nodes.exit_codes == [-signal.SIGKILL]
        nodes.restart(0)
        nodes.wait_ready(0)
        assert len(launched) == 2
        assert nodes.stop_all() == [0]  # SIGTERM: a clean stop
        assert nodes.log(0).count("node started") == 2  # both runs, appended
    finally:
        nodes.stop_all()


def test_a_node_that_dies_at_start_is_reported_with_its_status_and_log_tail(
    tmp_path: Path,
) -> None:
    root = one_node_testnet(tmp_path)
    nodes = NodeProcesses.of_testnet(root)
    load_config(nodes.specs[0].config).key_file.unlink()
    try:
        nodes.start_all()
        with pytest.raises(NodeExited) as exited:
            nodes.wait_all_ready(timeout_s=60)  # reported when it exits, not at the deadline
        assert exited.value.code == 2 and nodes.exit_codes == [2]
        assert "key file not found" in exited.value.log_tail
        assert f"node {nodes.specs[0].name} exited with status 2" in str(exited.value)
    finally:
        nodes.stop_all()


def govchain(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "cli.main", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=90)


def test_testnet_up_and_down_manage_detached_nodes_by_pid_file(tmp_path: Path) -> None:
    root = one_node_testnet(tmp_path)
    (node_dir,) = (p.parent for p in root.glob("*/config.toml"))
    up = govchain("testnet", "up", "--dir", str(root))
    pid_file = node_dir / "node.pid"
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"{node_dir.name}: started (pid " in up.stdout and "1 nodes up" in up.stdout
        pid = int(pid_file.read_text())
        assert pid_alive(pid)  # `up` has exited; its detached node runs on
        again = govchain("testnet", "up", "--dir", str(root))
        assert again.returncode == 0 and f"already running (pid {pid})" in again.stdout
        down = govchain("testnet", "down", "--dir", str(root))
        assert down.returncode == 0 and f"{node_dir.name}: stopped" in down.stdout
        assert not pid_file.exists()
        wait_for(lambda: not pid_alive(pid), 15, "the node to exit")
    finally:
        govchain("testnet", "down", "--dir", str(root))
