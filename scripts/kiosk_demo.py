#!/usr/bin/env python3
"""Main demo: a 4-department testnet running the five government applications, the
first-time pesticide business permit told at a kiosk in the terminal, and then the web
kiosk and the agriculture department's console left running for a person to try.

Creates the testnet once in ./testnet (`govchain testnet init --app government`), starts
it (`govchain testnet up`), runs `govchain demo` (which also seeds the chain), then starts
`govchain kiosk serve` and `govchain console serve` in the background and prints their
addresses. Everything keeps running afterwards; `make down` stops it all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.processes import pid_alive, stop_pid  # noqa: E402

KIOSK = "127.0.0.1:8080"
CONSOLE = "127.0.0.1:8081"
DEPARTMENT = "agriculture"
READY_TIMEOUT_S = 30.0


def govchain(*args: str) -> int:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT).returncode


def start_web(net: Path, name: str, listen: str, *args: str) -> None:
    """A web face in the background: its log and pid file in the testnet directory; an
    earlier one of the same name is stopped first, so `make demo` can run again."""
    pid_file, log = net / f"{name}.pid", net / f"{name}.log"
    if pid_file.exists():
        stop_pid(int(pid_file.read_text()))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                name,
                "serve",
                "--dir",
                str(net),
                "--listen",
                listen,
                *args,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            urllib.request.urlopen(f"http://{listen}/", timeout=2)
            return
        except OSError as e:
            if getattr(e, "code", None):  # an HTTP error status: it answers
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start; see {log}")
        time.sleep(0.2)


def stop_web(net: Path) -> None:
    """What `make down` calls: stop the faces this demo started."""
    for name in ("kiosk", "console"):
        pid_file = net / f"{name}.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            if pid_alive(pid):
                stop_pid(pid)
                print(f"{name} stopped")
            pid_file.unlink()


def main() -> int:
    net = ROOT / "testnet"
    if sys.argv[1:] == ["--stop-web"]:
        stop_web(net)
        return 0
    fresh = not (net / "genesis").exists()
    if not fresh and not (net / "tls" / "ca.crt").exists():
        # Made by a govchain from before mutual TLS: its configs no longer load.
        print(f"{net} predates mutual TLS; recreating it (the old demo data is dropped)")
        govchain("testnet", "down", "--dir", str(net))
        shutil.rmtree(net)
        fresh = True
    if fresh and govchain("testnet", "init", "--app", "government", "--out", str(net)) != 0:
        return 1
    if govchain("testnet", "up", "--dir", str(net)) != 0:
        return 1
    if govchain("demo", "--dir", str(net)) != 0:
        return 1
    start_web(net, "kiosk", KIOSK)
    key = net / "keys" / f"{DEPARTMENT}.tx.key"
    start_web(net, "console", CONSOLE, "--department", DEPARTMENT, "--department-key", str(key))
    print(f"""
the kiosk (自助终端):     http://{KIOSK}/
  the demo's legal representative: ID number 110108198001011237; tick the face check
the console (部门控制台): http://{CONSOLE}/
  log in as {DEPARTMENT} by signing the challenge the page shows:
  .venv/bin/govchain console sign-login --key {key} \\
      --department {DEPARTMENT} --challenge CHALLENGE
the testnet keeps running (.venv/bin/govchain testnet status --dir {net});
`make down` stops it all""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
