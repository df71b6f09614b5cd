"""A throwaway SoftHSM2 for the key-custody tests: its config and token directory in a
temp dir, named by SOFTHSM2_CONF (SoftHSM reads it when the module is first loaded, so a
process uses one such directory: the unit tests make it once per session)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PIN = "246810"
SO_PIN = "13579246"


def softhsm_env(root: Path) -> dict[str, str]:
    """The environment variables that point SoftHSM2 at a fresh token store under `root`."""
    tokens = root / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    return {"SOFTHSM2_CONF": str(conf)}


def init_token(env: dict[str, str], label: str, pin: str = PIN) -> None:
    """An empty token labelled `label`, user PIN `pin` (softhsm2-util --init-token --free)."""
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            SO_PIN,
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
