"""Node processes of a testnet, supervised from outside: start, wait until they answer,
stop, kill, restart, with each node's output in a log file.

This is the one place that knows how a node runs as an OS process (`node_command`) and how
a set of them is driven: `govchain testnet up|down`, the benchmark (and its fault run),
the e2e harness and the multi-host tests all use it, so a change to how a node is launched
or stopped is made once. A `wrap` hook rewrites each node's argv just before launch (the
multi-host tests run it inside a network namespace with `ip netns exec`).

Waiting is polling with a deadline, never a sleep standing in for synchronisation; a node
that exits while we wait is reported at once with its exit status and the tail of its log
(`NodeExited`), not as a timeout thirty seconds later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from cli.testnet_files import node_address, node_dirs, tls_of_testnet
from client.tls import TlsFiles
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc

# The directory holding the cli package: a node launched from here runs this checkout's
# code even when it is not installed (`python -m` looks in the working directory first).
REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 15.0  # SIGTERM, then SIGKILL: a node flushes and closes its stores first
READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
LOG_TAIL_CHARS = 2000

Wrap = Callable[[int, list[str]], list[str]]
StatusCheck = Callable[[api.GetStatusResponse], bool]


def node_command(config_path: Path, *, json_logs: bool = False) -> list[str]:
    """The argv of `govchain node start`, run by this interpreter (so a venv's tools start
    the venv's node)."""
    argv = [sys.executable, "-m", "cli.main", "node", "start", "--config", str(config_path)]
    return [*argv, "--json"] if json_logs else argv


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (signal 0 checks without sending anything). A
    zombie does not: it has exited, only nobody reaped it yet (an init that does not reap,
    in a container), and waiting for it to vanish would wait the full stop timeout."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): signal 0 is all there is to go by
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_pid(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM a process that is not our child (`testnet down` stops what an earlier `up`
    started), SIGKILL it if it is still there after `timeout_s`; False if it was gone."""
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


@dataclass(frozen=True)
class NodeSpec:
    """One node as the manager sees it: its config, where a client dials it, its log."""

    name: str
    config: Path
    address: str
    log: Path

    @classmethod
    def of_dir(cls, node_dir: Path) -> NodeSpec:
        """A node directory of a testnet: config.toml and node.log in it, nodes.txt address."""
        return cls(
            node_dir.name, node_dir / "config.toml", node_address(node_dir), node_dir / "node.log"
        )


class NodeExited(RuntimeError):
    """A node process ended while it was expected to run."""

    def __init__(self, spec: NodeSpec, code: int, log_tail: str) -> None:
        super().__init__(
            f"node {spec.name} exited with status {code}; the end of {spec.log}:\n{log_tail}"
        )
        self.spec, self.code, self.log_tail = spec, code, log_tail


class NotReady(TimeoutError):
    """A node did not answer (or not as asked) before the deadline."""

    def __init__(self, spec: NodeSpec, timeout_s: float) -> None:
        super().__init__(f"node {spec.name} at {spec.address} not ready after {timeout_s:g} s")
        self.spec = spec


class NodeProcesses:
    """The node processes of one testnet, by index; `procs[i]` is None while node i is down.

    `detach` starts each node in a session of its own, so it outlives the command that
    started it and a Ctrl-C in that terminal does not reach it (`testnet up`).
    """

    def __init__(
        self,
        specs: Iterable[NodeSpec],
        tls: TlsFiles | None,
        *,
        json_logs: bool = False,
        env: dict[str, str] | None = None,
        cwd: Path = REPO_ROOT,
        wrap: Wrap | None = None,
        detach: bool = False,
    ) -> None:
        self.specs = list(specs)
        self.tls = tls
        self.json_logs = json_logs
        self.env = env
        self.cwd = cwd
        self.wrap = wrap
        self.detach = detach
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(self.specs)
        self.exit_codes: list[int | None] = [None] * len(self.specs)

    @classmethod
    def of_testnet(
        cls, root: Path, dirs: list[Path] | None = None, **options: Any
    ) -> NodeProcesses:
        """Every node of a testnet directory (or the given `dirs` of it, in that order)."""
        specs = [NodeSpec.of_dir(d) for d in (node_dirs(root) if dirs is None else dirs)]
        return cls(specs, tls_of_testnet(root), **options)

    def __len__(self) -> int:
        return len(self.specs)

    def add(self, spec: NodeSpec) -> int:
        """One more node (not started); its index."""
        self.specs.append(spec)
        self.procs.append(None)
        self.exit_codes.append(None)
        return len(self.specs) - 1

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None]

    # ------------------------------------------------------------------ lifecycle

    def start(self, i: int) -> subprocess.Popen[bytes]:
        """Launch node i, its output appended to its log."""
        if self.running(i):
            raise RuntimeError(f"node {self.specs[i].name} is already running")
        spec = self.specs[i]
        # Absolute: the node runs in `cwd`, not where the caller named the config from.
        argv = node_command(spec.config.absolute(), json_logs=self.json_logs)
        if self.wrap is not None:
            argv = self.wrap(i, argv)
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        with spec.log.open("ab") as log:  # the child holds its own descriptor
            proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=self.detach,
            )
        self.procs[i], self.exit_codes[i] = proc, None
        return proc

    def start_all(self) -> None:
        """Start every node that is not running."""
        for i in range(len(self)):
            if not self.running(i):
                self.start(i)

    def running(self, i: int) -> bool:
        proc = self.procs[i]
        return proc is not None and proc.poll() is None

    def check_running(self) -> None:
        """Raise NodeExited for the first started node that has ended since."""
        for i in range(len(self)):
            self._raise_if_exited(i)

    def stop(self, i: int, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Send node i `sig`, SIGKILL it after `timeout_s`; its exit status (0 if not running)."""
        proc = self.procs[i]
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(sig)
        return self._reap(i, time.monotonic() + timeout_s)

    def kill(self, i: int) -> int:
        """SIGKILL node i, as a crash or a pulled plug would; its exit status."""
        return self.stop(i, signal.SIGKILL)

    def restart(self, i: int) -> subprocess.Popen[bytes]:
        """Stop node i cleanly (if it runs) and start it again on the same data."""
        self.stop(i)
        return self.start(i)

    def stop_all(self, timeout_s: float = STOP_TIMEOUT_S) -> list[int | None]:
        """SIGTERM every running node at once, SIGKILL what is left at the deadline;
        every node's last exit status (None for one never started)."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for i, proc in enumerate(self.procs):
            if proc is not None:
                self._reap(i, deadline)
        return list(self.exit_codes)

    def _reap(self, i: int, deadline: float) -> int:
        proc = self.procs[i]
        assert proc is not None
        try:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self.procs[i], self.exit_codes[i] = None, code
        return code

    # ------------------------------------------------------------------ readiness

    def wait_ready(
        self, i: int, timeout_s: float = READY_TIMEOUT_S, until: StatusCheck | None = None
    ) -> None:
        """Poll node i's GetStatus until it answers (and `until(status)` holds, if given)."""
        self._wait_ready(i, time.monotonic() + timeout_s, timeout_s, until)

    def wait_all_ready(
        self, timeout_s: float = READY_TIMEOUT_S, until: StatusCheck | None = None
    ) -> None:
        """wait_ready for every node, against one deadline for them all."""
        deadline = time.monotonic() + timeout_s
        for i in range(len(self)):
            self._wait_ready(i, deadline, timeout_s, until)

    def _wait_ready(
        self, i: int, deadline: float, timeout_s: float, until: StatusCheck | None
    ) -> None:
        from client.connection import open_channel

        with open_channel(self.specs[i].address, self.tls) as channel:
            stub = api_grpc.ClientStub(channel)
            while True:
                self._raise_if_exited(i)
                try:
                    status = stub.GetStatus(api.GetStatusRequest(), timeout=1.0)
                    if until is None or until(status):
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() >= deadline:
                    raise NotReady(self.specs[i], timeout_s)
                time.sleep(POLL_INTERVAL_S)

    def _raise_if_exited(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is not None:
            self.procs[i], self.exit_codes[i] = None, proc.returncode
            raise NodeExited(self.specs[i], proc.returncode, self.log_tail(i))

    # ------------------------------------------------------------------ logs

    def log(self, i: int) -> str:
        """Everything node i has written to its log (over all its runs)."""
        path = self.specs[i].log
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, i: int, chars: int = LOG_TAIL_CHARS) -> str:
        return self.log(i)[-chars:]
