#!/usr/bin/env python3
"""Main demo: a 4-department testnet running the five government applications, and the
first-time pesticide business permit at a kiosk with the one-click pull.

Creates the testnet once in ./testnet (`govchain testnet init --app government`), starts it
(`govchain testnet up`), and runs `govchain demo`. The testnet keeps running afterwards;
`make down` stops it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def govchain(*args: str) -> int:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT).returncode


def main() -> int:
    net = ROOT / "testnet"
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
    code = govchain("demo", "--dir", str(net))
    print(f"\nthe testnet keeps running: `.venv/bin/govchain testnet status --dir {net}`;")
    print("`make down` stops it")
    return code


if __name__ == "__main__":
    sys.exit(main())
