"""Separate "hosts" on one Linux machine: network namespaces joined by a bridge.

Each host is a network namespace with its own loopback and one veth interface carrying
its own IP address; the other end of every veth is plugged into a bridge in the root
namespace, which also holds an address on the same subnet. So processes inside a
namespace only see their own interfaces (a node's `0.0.0.0` listener is reachable at its
host's IP, exactly as on a separate machine), the test process in the root namespace
reaches every host directly, and hosts reach each other (and proxies listening on the
bridge address) through the bridge.

Names carry a random suffix and the subnet is picked among unused ones, so a parallel
run or the leftovers of an aborted one cannot clash with this one. Cleanup deletes
everything it created, even after a partial setup; it also kills what still runs in
the namespaces (all of it was started by this test through `run_in`), because a
namespace with live processes outlives `ip netns del`.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

SUBNET_PREFIX = "10.213"  # 10.213.<random>.0/24: private and unlikely to be used here


class NetnsError(Exception):
    """An `ip` command failed; the message holds the command and its stderr."""


def ip(*args: str) -> str:
    """Run `ip ARGS...` and return its stdout; raise NetnsError with stderr on failure."""
    argv = ["ip", *args]
    try:
        done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as e:
        raise NetnsError("the `ip` command (iproute2) is not installed") from e
    except subprocess.CalledProcessError as e:
        raise NetnsError(f"`{' '.join(argv)}` failed ({e.returncode}): {e.stderr.strip()}") from e
    return done.stdout


def _free_subnet() -> str:
    """A 10.213.Y prefix no route or address of this machine uses yet."""
    used = ip("-4", "route", "show", "table", "all") + ip("-4", "addr", "show")
    candidates = list(range(1, 255))
    random.shuffle(candidates)
    for y in candidates:
        prefix = f"{SUBNET_PREFIX}.{y}."
        if prefix not in used:
            return prefix[:-1]
    raise NetnsError(f"every {SUBNET_PREFIX}.Y.0/24 subnet is in use")


class Hosts:
    """N namespaces on a bridge; host i has address `ips[i]`, the root side `bridge_ip`.

    Use as a context manager: setup happens on entry, and exit always tears down
    whatever was created.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        tag = os.urandom(3).hex()
        self.namespaces = [f"gc-{tag}-{i}" for i in range(count)]
        self.bridge = f"gcbr-{tag}"
        # Interface names are limited to 15 characters.
        self.host_veths = [f"gc{tag}h{i}" for i in range(count)]
        self._ns_veths = [f"gc{tag}n{i}" for i in range(count)]
        self.subnet = ""
        self.ips: list[str] = []
        self.bridge_ip = ""
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Hosts:
        try:
            self._setup()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def _setup(self) -> None:
        self.subnet = _free_subnet()
        self.bridge_ip = f"{self.subnet}.254"
        self.ips = [f"{self.subnet}.{i + 1}" for i in range(self.count)]
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.bridge_ip}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, ns in enumerate(self.namespaces):
            host, inner = self.host_veths[i], self._ns_veths[i]
            ip("netns", "add", ns)
            ip("link", "add", host, "type", "veth", "peer", "name", inner)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", host, "master", self.bridge)
            ip("link", "set", host, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{self.ips[i]}/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")

    def argv_in(self, i: int, argv: Sequence[str]) -> list[str]:
        """`argv` run inside host i's namespace. `ip netns exec` execs the command, so the
        process started from this argv *is* the command: signals sent to it reach it.
        Whatever it leaves running there is killed at cleanup (see `_kill_leftovers`)."""
        return ["ip", "netns", "exec", self.namespaces[i], *argv]

    def run_in(
        self,
        i: int,
        argv: Sequence[str],
        cwd: Path | None = None,
        stdout: IO[bytes] | int | None = None,
        stderr: IO[bytes] | int | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` inside host i's namespace (see `argv_in`); killed at cleanup."""
        proc = subprocess.Popen(
            self.argv_in(i, argv),
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
        self._procs.append(proc)
        return proc

    def link_down(self, i: int) -> None:
        """Unplug host i: its bridge-side veth goes down, so nothing reaches it or leaves it
        (established TCP connections stall, as on a pulled cable, rather than being reset)."""
        ip("link", "set", self.host_veths[i], "down")

    def link_up(self, i: int) -> None:
        """Plug host i back in."""
        ip("link", "set", self.host_veths[i], "up")

    def cleanup(self) -> None:
        """Delete everything this object may have created; never raises for what is gone."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for ns in self.namespaces:
            self._kill_leftovers(ns)
            _quiet("netns", "del", ns)
        # Deleting a namespace destroys its veth ends and with them the pairs; the host ends
        # are deleted explicitly in case the move into the namespace never happened.
        for host in self.host_veths:
            _quiet("link", "del", host)
        _quiet("link", "del", self.bridge)

    @staticmethod
    def _kill_leftovers(ns: str) -> None:
        """Kill processes still in the namespace (children of what run_in started)."""
        try:
            pids = ip("netns", "pids", ns).split()
        except NetnsError:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _quiet(*args: str) -> None:
    """Run `ip ARGS` ignoring failure: cleanup of something that may not exist."""
    subprocess.run(["ip", *args], capture_output=True, check=False, timeout=30)
