"""A real testnet for end-to-end tests: node processes, gRPC on 127.0.0.1, LevelDB dirs.

Built with the same `govchain testnet init` the README documents; every node is a
separate OS process, run by the process manager `govchain testnet up` and the benchmark
use too (cli/processes.py). Waiting is polling with a deadline, never a sleep standing in
for synchronisation.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from cli.main import main as cli
from cli.ports import free_port_block
from cli.processes import NodeProcesses, NodeSpec
from client.connection import connect, open_channel
from crypto import DEFAULT_SUITE
from node.config import CHANNELS, load_config, make_genesis
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class Testnet:
    __test__ = False  # not a test class, despite the name

    def __init__(
        self,
        root: Path,
        validators: int = 4,
        channels: tuple[str, ...] = CHANNELS,
        app: str = "kv",
        insecure: bool = False,
        metrics: bool = False,
        limits: dict[str, int] | None = None,
        crypto_suite: str | None = None,
        **consensus: int,
    ) -> None:
        self.root = root
        self.channels = channels
        base = free_port_block(validators + 2)  # room for nodes added later (add_node)
        args = ["testnet", "init", "--validators", str(validators), "--out", str(root)]
        args += ["--base-port", str(base), "--app", app, "--channels", *channels]
        args += ["--insecure"] if insecure else []
        args += ["--crypto-suite", crypto_suite] if crypto_suite else []
        # Metrics ports: a free block of their own when asked for, else no endpoint.
        self.metrics_base = free_port_block(validators) if metrics else 0
        args += ["--metrics-base-port", str(self.metrics_base)]
        assert cli(args) == 0
        self.dirs = sorted(p.parent for p in root.glob("*/config.toml"))
        self.dirs.sort(key=lambda d: load_config(d / "config.toml").listen)
        if consensus:
            self._rewrite_genesis(consensus)
        for d in self.dirs if limits else ():
            table = "".join(f"{k} = {v}\n" for k, v in (limits or {}).items())
            with open(d / "config.toml", "a") as f:
                f.write(f"\n[limits]\n{table}")
        self.configs = [load_config(d / "config.toml") for d in self.dirs]
        self.nodes = NodeProcesses.of_testnet(root, self.dirs)
        self.client_key = root / "keys" / "client.key"
        self.tls = self.nodes.tls  # None for an insecure testnet

    @property
    def procs(self) -> list[subprocess.Popen[bytes] | None]:
        """Node i's process while it runs, else None (the manager's own list)."""
        return self.nodes.procs

    def add_node(self, name: str | None = None) -> int:
        """One more node made by `govchain testnet add-node` (keys, certificate, config; the
        genesis is unchanged, so it follows the channels as an observer until governance
        adds it). Not started; returns its index."""
        known = set(self.dirs)
        named = ["--name", name] if name else []
        assert cli(["testnet", "add-node", str(self.root), *named]) == 0
        (new,) = [p.parent for p in self.root.glob("*/config.toml") if p.parent not in known]
        self.dirs.append(new)
        self.configs.append(load_config(new / "config.toml"))
        return self.nodes.add(NodeSpec.of_dir(new))

    def _rewrite_genesis(self, consensus: dict[str, int]) -> None:
        for ch in self.channels:
            path = self.root / "genesis" / f"{ch}.json"
            data = json.loads(path.read_text())
            validators = [
                (v["node_id"], bytes.fromhex(v["public_key"])) for v in data["validators"]
            ]
            params = {**data["consensus"], **consensus}
            app = data.get("app")
            suite = data.get("crypto_suite", DEFAULT_SUITE)
            path.write_bytes(make_genesis(data["chain_id"], ch, validators, params, app, suite))

    @property
    def chain_id(self) -> str:
        return self.configs[0].chain_id

    def address(self, i: int) -> str:
        return self.configs[i].listen

    def channel(self, i: int) -> grpc.Channel:
        """A gRPC channel to node i with the testnet's client certificate."""
        return open_channel(self.address(i), self.tls)

    def stub(self, i: int) -> api_grpc.ClientStub:
        return connect(self.address(i), self.tls)

    def start(self, i: int) -> None:
        self.nodes.start(i)

    def start_all(self) -> None:
        self.nodes.start_all()
        for i in range(len(self.dirs)):
            self.wait_ready(i)

    def wait_ready(self, i: int, timeout_s: float = 30.0) -> None:
        """Node i answers GetStatus; raises NodeExited (status, log tail) if it died."""
        self.nodes.wait_ready(i, timeout_s)

    def stop(self, i: int, sig: int = signal.SIGTERM) -> int:
        return self.nodes.stop(i, sig)

    def kill(self, i: int) -> None:
        self.nodes.kill(i)

    def stop_all(self) -> None:
        self.nodes.stop_all()

    def log(self, i: int) -> str:
        return self.nodes.log(i)

    def status(self, i: int) -> dict[str, api.ChannelStatus]:
        st = self.stub(i).GetStatus(api.GetStatusRequest(), timeout=5.0)
        return {c.channel: c for c in st.channels}

    def heights(self, channel: str, nodes: list[int] | None = None) -> list[int]:
        return [self.status(i)[channel].height for i in nodes or range(len(self.dirs))]
