"""The malloc arena cap the node sets at start (node/malloc_arenas.py)."""

from __future__ import annotations

import subprocess
import sys


def run(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_glibc_accepts_the_cap_unless_the_environment_sets_one() -> None:
    code = "from node.malloc_arenas import limit_malloc_arenas; print(limit_malloc_arenas())"
    assert run(code) == "True"  # this machine runs glibc
    assert run(code, {"MALLOC_ARENA_MAX": "4", "PATH": "/usr/bin:/bin"}) == "False"
