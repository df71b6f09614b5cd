"""Deployment files (deploy/): the systemd unit, the Dockerfile, the compose file and the
script that generates the network directory compose mounts must agree with each other and
with the node's config loader. Docker itself is not needed: the compose mounts are replayed
into a directory tree, so a wrong mount, path or permission fails here, not at `compose up`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from cli.ports import free_port_block
from cli.processes import node_command
from node.config import NodeConfig, load_config, load_genesis, load_key
from node.node import EXIT_STORAGE_FAILURE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "govchain-node.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
SCRIPT = DEPLOY / "make-compose-net.sh"
SERVICES = ("public-security", "market-regulation", "civil-affairs", "agriculture")
DATA_DIR = "/var/lib/govchain"
GRPC_PORT, METRICS_PORT = 7050, 9150


# --------------------------------------------------------------------- helpers


def unit_entries(text: str) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file, by key (systemd allows repeated keys, so lists)."""
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined the way Docker joins them
    (backslash-newline removed, the next line's text appended as is); comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # comment lines inside a continued instruction are skipped too
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends in a continuation line"
    return instructions


def exec_form(args: str, what: str) -> list[str]:
    """A JSON-array (exec form) argument list. Docker silently falls back to shell form when
    the JSON does not parse, so a typo would change the meaning rather than fail the build."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError as e:
        raise AssertionError(f"{what} is not valid exec-form JSON: {e}: {args}") from e
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), what
    return value


def instruction(name: str) -> str:
    """The arguments of the last NAME instruction of the final (runtime) stage."""
    found = [args for word, args in dockerfile_instructions(DOCKERFILE.read_text()) if word == name]
    assert found, f"no {name} in {DOCKERFILE}"
    return found[-1]


@dataclass(frozen=True)
class Mount:
    source: str  # a host path relative to deploy/, or a named volume
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith(("./", "../", "/"))


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict) -> list[Mount]:
    out = []
    for spec in service["volumes"]:
        assert isinstance(spec, str), "short volume syntax expected: source:target[:ro]"
        source, target, *mode = spec.split(":")
        out.append(Mount(source, target, mode == ["ro"]))
    return out


def host_path(source: str, net: Path) -> Path:
    """A compose bind source (relative to deploy/), with ./net standing for `net`."""
    assert source.startswith("./net/") or source == "./net", source
    return net / source.removeprefix("./net").lstrip("/")


def config_path_in_image() -> str:
    cmd = exec_form(instruction("CMD"), "CMD")
    return cmd[cmd.index("--config") + 1]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/make-compose-net.sh run into a temporary directory, with this interpreter's
    govchain (a wrapper, so the test does not depend on where the venv put its scripts)."""
    tmp = tmp_path_factory.mktemp("compose")
    wrapper = tmp / "govchain"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cli.main "$@"\n')
    wrapper.chmod(0o755)
    out = tmp / "net"
    env = {**os.environ, "GOVCHAIN": str(wrapper), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def container_root(net: Path, service: str, dest: Path) -> Path:
    """What the service's container sees of its mounts: each bind mount of compose.yaml
    copied to the same path under `dest` (named volumes left out)."""
    for m in mounts(compose()["services"][service]):
        if not m.is_bind:
            continue
        src = host_path(m.source, net)
        assert src.exists(), f"{service}: mount source {m.source} was not generated"
        target = dest / m.target.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
    return dest


def load_in_container(net: Path, service: str, dest: Path) -> tuple[Path, NodeConfig]:
    root = container_root(net, service, dest)
    config_path = root / config_path_in_image().lstrip("/")
    return root, load_config(config_path)


# --------------------------------------------------------------------- systemd


def test_systemd_unit_runs_the_node_as_an_unprivileged_sandboxed_service() -> None:
    e = unit_entries(UNIT.read_text())
    assert e["ExecStart"] == [
        f"/opt/govchain/venv/bin/govchain node start --config {config_path_in_image()} --json"
    ], "the unit and the image read the config at the same place"
    assert e["User"] == ["govchain"] and e["Group"] == ["govchain"]
    assert e["Type"][0] in ("exec", "simple")
    assert e["Restart"] == ["on-failure"] and e["RestartSec"] != ["0"]
    # A bad config (2) is not restarted; a storage failure (EXIT_STORAGE_FAILURE) is.
    assert e["RestartPreventExitStatus"] == ["2"]
    assert EXIT_STORAGE_FAILURE not in (0, 2) and "SuccessExitStatus" not in e
    assert e["KillSignal"] == ["SIGTERM"] and "TimeoutStopSec" in e
    assert int(e["LimitNOFILE"][0]) >= 4096
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "govchain",
    }.items():
        assert e[key] == [value], key
    assert e["ReadWritePaths"] == [DATA_DIR]
    assert e["CapabilityBoundingSet"] == [""]


def _unit_with_existing_executable(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart points at this venv's govchain: `verify` checks
    that the executable exists, and /opt/govchain is not installed on a build machine."""
    govchain = Path(sys.executable).parent / "govchain"
    if not govchain.exists():
        pytest.skip(f"{govchain} not installed (pip install -e .)")
    text = UNIT.read_text()
    assert text.count("/opt/govchain/venv/bin/govchain") == 1
    copy = tmp_path / UNIT.name  # same name: verify derives the unit type from it
    copy.write_text(text.replace("/opt/govchain/venv/bin/govchain", str(govchain)))
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies_without_warnings(tmp_path: Path) -> None:
    copy = _unit_with_existing_executable(tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on unknown or misspelt keys and only warns on stderr, so the warnings
    # about this unit count as failures too.
    ours = [line for line in proc.stderr.splitlines() if UNIT.name in line]
    assert proc.returncode == 0 and not ours, proc.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_exposure_is_low(tmp_path: Path) -> None:
    """systemd's own sandboxing score (0 best, 10 worst) stays at or below 2.0 ("OK"), so
    dropping a hardening line by accident shows up here."""
    copy = _unit_with_existing_executable(tmp_path)
    proc = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--offline" in proc.stderr and "unrecognized" in proc.stderr:
        pytest.skip("systemd-analyze too old for --offline (needs systemd >= 250)")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


# --------------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_govchain_with_the_mounted_config_as_non_root() -> None:
    assert exec_form(instruction("ENTRYPOINT"), "ENTRYPOINT") == ["govchain"]
    cmd = exec_form(instruction("CMD"), "CMD")
    assert cmd[:2] == ["node", "start"] and "--json" in cmd
    # The config path is where compose mounts each service's node directory.
    node_dirs = {
        m.target
        for svc in compose()["services"].values()
        for m in mounts(svc)
        if m.source.startswith("./net/") and m.source.removeprefix("./net/") in SERVICES
    }
    assert node_dirs == {str(Path(config_path_in_image()).parent)}
    assert instruction("USER") not in ("root", "0")
    assert set(instruction("EXPOSE").split()) == {str(GRPC_PORT), str(METRICS_PORT)}
    assert set(exec_form(instruction("VOLUME"), "VOLUME")) == {DATA_DIR, "/etc/govchain"}
    assert instruction("STOPSIGNAL") == "SIGTERM"
    froms = [
        args for word, args in dockerfile_instructions(DOCKERFILE.read_text()) if word == "FROM"
    ]
    assert all(f.startswith("python:3.11") for f in froms), froms
    assert any(
        "pip install ." in args
        for word, args in dockerfile_instructions(DOCKERFILE.read_text())
        if word == "RUN"
    )


def test_dockerignore_keeps_secrets_and_venv_out_of_the_build_context() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "testnet*", "deploy/net", "**/__pycache__"} <= patterns


# --------------------------------------------------------------------- compose


def test_compose_runs_four_departments_from_the_dockerfile() -> None:
    doc = compose()
    services = doc["services"]
    assert tuple(services) == SERVICES
    data_volumes = []
    host_ports = []
    for name, svc in services.items():
        build = svc["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT, name
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert svc["networks"] == ["govchain"], name
        named = [m for m in mounts(svc) if not m.is_bind]
        assert [m.target for m in named] == [DATA_DIR], name
        data_volumes.append(named[0].source)
        assert all(m.read_only for m in mounts(svc) if m.is_bind), f"{name}: writable config"
        ports = [p.split(":") for p in svc.get("ports", [])]
        assert [int(p[-1]) for p in ports if int(p[-1]) == METRICS_PORT], f"{name}: metrics"
        host_ports += [int(p[-2]) for p in ports]
        assert int(svc["stop_grace_period"].rstrip("s")) >= 10, name
    assert len(set(data_volumes)) == 4 and set(data_volumes) == set(doc["volumes"])
    assert len(set(host_ports)) == len(host_ports), "host ports collide"
    first = [p.split(":") for p in services[SERVICES[0]]["ports"]]
    assert [int(p[-1]) for p in first].count(GRPC_PORT) == 1, "first node's gRPC published"
    assert set(doc["networks"]) == {"govchain"}


def test_compose_gives_each_node_only_its_own_private_keys() -> None:
    for name, svc in compose()["services"].items():
        for m in mounts(svc):
            if m.source.endswith(".key"):
                assert Path(m.source).name.startswith(f"{name}."), f"{name} mounts {m.source}"
            assert "ca.key" not in m.source


# --------------------------------------------------------------------- generated network


def test_script_makes_one_loadable_config_per_service(net: Path, tmp_path: Path) -> None:
    for service in SERVICES:
        root, cfg = load_in_container(net, service, tmp_path / service)
        assert cfg.node_id == service
        assert cfg.data_dir == Path(DATA_DIR)
        assert cfg.listen == f"0.0.0.0:{GRPC_PORT}"
        assert cfg.metrics_listen == f"0.0.0.0:{METRICS_PORT}"
        assert {p.node_id for p in cfg.peers} == set(SERVICES) - {service}
        assert {p.address for p in cfg.peers} == {
            f"{s}:{GRPC_PORT}" for s in SERVICES if s != service
        }, "peers are dialled by compose service name"
        # Every file the config names exists inside the container and is well formed.
        assert cfg.tls is not None
        for path in (cfg.tls.ca, cfg.tls.cert, cfg.tls.key):
            assert path.resolve().is_relative_to(root.resolve() / "etc/govchain/tls"), path
        assert len(load_key(cfg.key_file)) == 32
        assert cfg.department_key_file is not None
        assert len(load_key(cfg.department_key_file)) == 32
        for channel in cfg.channels:
            genesis = load_genesis(cfg.genesis_dir / f"{channel}.json", cfg.chain_id, channel)
            assert [v for v, _ in genesis.validators] == list(SERVICES)
        cert = x509.load_pem_x509_certificate(cfg.tls.cert.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert service in names.get_values_for_type(x509.DNSName)


def test_script_keeps_the_tree_private_but_readable_in_the_container(net: Path) -> None:
    assert stat.S_IMODE(net.stat().st_mode) == 0o700
    assert (net / ".gitignore").read_text().splitlines()[-1] == "*", "keys kept out of git"
    others_read = stat.S_IROTH
    for svc in compose()["services"].values():
        for m in mounts(svc):
            if m.is_bind:
                assert host_path(m.source, net).stat().st_mode & others_read, m.source
    # What compose does not mount stays owner-only.
    for secret in ("tls/ca.key", "tls/client.key", "keys/client.key", "keys/subject.key"):
        assert stat.S_IMODE((net / secret).stat().st_mode) == 0o600, secret


# --------------------------------------------------------------------- health check


def test_healthcheck_probe_speaks_mutual_tls_to_a_running_node(net: Path, tmp_path: Path) -> None:
    """The image's HEALTHCHECK command, run against a real node started from a generated
    config (ports moved to free local ones): unhealthy before the node is up, healthy once
    it serves, and the node exits cleanly on SIGTERM."""
    args = exec_form(re.sub(r"^(--\S+\s+)*CMD\s+", "", instruction("HEALTHCHECK")), "HEALTHCHECK")
    assert args[0] == "python"
    root, _ = load_in_container(net, SERVICES[0], tmp_path / "root")
    config = root / config_path_in_image().lstrip("/")
    port = free_port_block(2)
    text = config.read_text()
    text = text.replace(f'listen = "0.0.0.0:{GRPC_PORT}"', f'listen = "127.0.0.1:{port}"')
    text = text.replace(f'"0.0.0.0:{METRICS_PORT}"', f'"127.0.0.1:{port + 1}"')
    text = text.replace(f'data_dir = "{DATA_DIR}"', f'data_dir = "{tmp_path / "data"}"')
    config.write_text(text)
    probe = [sys.executable, *args[1:]]
    probe[-1] = probe[-1].replace(config_path_in_image(), str(config))
    assert str(config) in probe[-1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # -I ignores it; the venv has govchain

    def healthy() -> bool:
        return subprocess.run(probe, capture_output=True, env=env, timeout=30).returncode == 0

    assert not healthy(), "the probe passes with no node running"
    log = tmp_path / "node.log"
    with log.open("wb") as out:  # a file, not a pipe: nobody drains a pipe while we poll
        node = subprocess.Popen(
            node_command(config, json_logs=True),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not healthy():
            assert node.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "node never reported SERVING"
            time.sleep(0.5)
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=30) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
