"""The console's settings, from the command line or a console.toml, checked up front.

A console serves one department of one network: it needs where the validators are (a
testnet directory: nodes.txt, tls/, genesis/), the department's name (its id in the
channels' genesis `departments` section), and where to listen. Optional: the department's
tx key (to approve or reject cases), its validator key (to approve governance proposals),
the consortium subject key (to audit by ID number) and the proposals directory. Every
problem is a ConsoleConfigError naming the setting, so `serve` prints one line and exits.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing

from client.connection import DEFAULT_SUITE, load_signing_key  # the client's suite names
from client.txs import TxKey

DEFAULT_LISTEN = "127.0.0.1:8081"
DEFAULT_IDLE_S = 15 * 60
FIELDS = (
    "dir",
    "department",
    "listen",
    "department_key",
    "validator_key",
    "subject_key",
    "proposals",
    "idle_timeout_s",
)


class ConsoleConfigError(ValueError):
    """A setting is missing or unusable; the message names it."""


@dataclass(frozen=True)
class ConsoleConfig:
    dir: Path
    department: str
    listen: str = DEFAULT_LISTEN
    department_key: Path | None = None
    validator_key: Path | None = None
    subject_key: Path | None = None
    proposals: Path | None = None
    idle_timeout_s: int = DEFAULT_IDLE_S

    @property
    def proposals_dir(self) -> Path:
        return self.proposals or self.dir / "proposals"

    @property
    def subject_key_file(self) -> Path:
        return self.subject_key or self.dir / "keys" / "subject.key"


def from_settings(settings: dict[str, Any], where: str) -> ConsoleConfig:
    """Settings by name (None: not given) -> a checked config."""
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise ConsoleConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    if not settings.get("dir"):
        raise ConsoleConfigError(f"{where}: `dir` (the testnet directory) is required")
    if not settings.get("department"):
        raise ConsoleConfigError(f"{where}: `department` (the department's id) is required")
    root = Path(settings["dir"])
    if not (root / "nodes.txt").is_file():
        raise ConsoleConfigError(f"{where}: dir {root} is not a testnet directory (no nodes.txt)")
    idle = settings.get("idle_timeout_s") or DEFAULT_IDLE_S
    if not isinstance(idle, int) or isinstance(idle, bool) or not 10 <= idle <= 86_400:
        raise ConsoleConfigError(f"{where}: idle_timeout_s must be an integer in 10..86400")
    paths = {}
    for name in ("department_key", "validator_key", "subject_key", "proposals"):
        value = settings.get(name)
        paths[name] = Path(value) if value else None
    for name in ("department_key", "validator_key", "subject_key"):
        if paths[name] is not None:
            read_key(paths[name], f"{where}: {name}")
    return ConsoleConfig(
        dir=root,
        department=str(settings["department"]),
        listen=str(settings.get("listen") or DEFAULT_LISTEN),
        idle_timeout_s=idle,
        **paths,
    )


def load_toml(path: Path) -> dict[str, Any]:
    """A console.toml's settings (relative paths are relative to the file)."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConsoleConfigError(f"{path}: cannot read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConsoleConfigError(f"{path}: not valid TOML: {e}") from None
    for name in ("dir", "department_key", "validator_key", "subject_key", "proposals"):
        if isinstance(data.get(name), str):
            data[name] = str(path.parent / data[name])
    return data


def read_key(path: Path, what: str) -> bytes:
    """A key file's 32-byte seed (hex); errors name the file, never its content."""
    try:
        seed = bytes.fromhex(path.read_text().strip())
    except OSError as e:
        raise ConsoleConfigError(f"{what} {path}: cannot read: {e.strerror}") from None
    except ValueError:
        raise ConsoleConfigError(f"{what} {path}: not a hex key file") from None
    if len(seed) != 32:
        raise ConsoleConfigError(f"{what} {path}: a key is 32 bytes (64 hex digits)")
    return seed


def signing_key(path: Path | None, what: str, suite: str = DEFAULT_SUITE) -> TxKey | None:
    """The key file's key in the chain's crypto suite (an SM2 signer on `sm2-sm3`)."""
    if path is None:
        return None
    seed = read_key(path, what)  # checked here, errors naming the setting
    return (
        nacl.signing.SigningKey(seed)
        if suite == DEFAULT_SUITE
        else load_signing_key(path, suite=suite)
    )
