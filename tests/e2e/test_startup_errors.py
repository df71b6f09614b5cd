"""A node refuses to start, with a message saying why, on a bad config, key or port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from cli.main import main as cli
from cli.processes import node_command
from node.config import load_config, load_genesis
from tests.e2e.harness import ROOT, free_port_block


def start(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        node_command(config),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def init(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "net"
    base = str(free_port_block(4))
    assert cli(["testnet", "init", "--out", str(out), "--base-port", base, *extra]) == 0
    return out


def test_testnet_init_writes_loadable_configs_and_identical_genesis(tmp_path: Path) -> None:
    out = init(tmp_path, "--channels", "license", "catalog")
    configs = [load_config(p) for p in sorted(out.glob("*/config.toml"))]
    assert len(configs) == 4
    for cfg in configs:
        assert cfg.channels == ("license", "catalog") and len(cfg.peers) == 3
        genesis = load_genesis(cfg.genesis_dir / "license.json", cfg.chain_id, "license")
        assert len(genesis.validators) == 4
    assert len((out / "nodes.txt").read_text().splitlines()) == 4
    assert (out / "keys" / "client.key").stat().st_mode & 0o077 == 0


def test_testnet_init_with_a_hosts_file_gives_one_host_per_validator(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.1\n192.0.2.2\n192.0.2.3\n192.0.2.4\n")
    out = init(tmp_path, "--hosts", str(hosts))
    lines = (out / "nodes.txt").read_text().split()
    assert lines[1::2] == [f"192.0.2.{i}:{lines[1].rsplit(':')[1]}" for i in range(1, 5)]
    cfg = load_config(out / lines[0] / "config.toml")
    assert cfg.listen.startswith("0.0.0.0:")
    assert {p.address.split(":")[0] for p in cfg.peers} == {"192.0.2.2", "192.0.2.3", "192.0.2.4"}


def test_bad_config_is_refused_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("node_id = [unclosed\n")
    proc = start(bad)
    assert proc.returncode == 2
    assert "bad.toml" in proc.stderr and "not valid TOML" in proc.stderr


def test_missing_key_is_refused_and_names_the_key_file(tmp_path: Path) -> None:
    out = init(tmp_path)
    config = next(out.glob("*/config.toml"))
    key_file = load_config(config).key_file
    key_file.unlink()
    proc = start(config)
    assert proc.returncode == 2
    assert "key file not found" in proc.stderr and key_file.name in proc.stderr


def test_a_bad_source_mapping_is_refused_with_its_field_named(tmp_path: Path) -> None:
    out = init(tmp_path)
    config = next(out.glob("*/config.toml"))
    data_dir = load_config(config).data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "source.toml").write_text('database = "sqlite:////tmp/x.db"\n[licenses.BL]\n')
    proc = start(config)
    assert proc.returncode == 2
    assert "cannot start" in proc.stderr and "source.toml: licenses.BL.table" in proc.stderr


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    out = init(tmp_path)
    config = next(out.glob("*/config.toml"))
    host, port = load_config(config).listen.rsplit(":", 1)
    with socket.socket() as s:
        s.bind((host, int(port)))
        s.listen()
        proc = start(config)
    assert proc.returncode == 2
    assert "cannot listen" in proc.stderr
