"""What a gateway needs to run, from a testnet directory, a TOML file, or both.

A gateway is a terminal like a kiosk: it signs sessions and grants with its terminal key
(registered on the authentication chain by the department that operates it), hashes ID
numbers with the consortium's subject key, and signs pull requests with the key of each
department it acts for. Its callers are applications, each with a named API token of
scopes `read` and/or `write`. The file holds only a token's SHA-256, never the token.

`--dir TESTNET` takes everything from a `govchain testnet init` directory (the tools'
client certificate, the kiosk terminal, every department's tx key); without a token in
a config file it makes one, read + write, in TESTNET/keys/gateway.token (mode 0600).
Every mistake in a file is a `ConfigError` that names the file, the field and what is
wrong with it, never a value read from a key file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing

from client.connection import client_tls
from client.hall import Network
from client.tls import TlsFiles

SCOPES = frozenset({"read", "write"})
DEFAULT_LISTEN = "127.0.0.1:8082"
TOKEN_FILE = "gateway.token"
SECTIONS = frozenset({"listen", "network", "terminal", "departments", "rate", "tokens"})


class ConfigError(Exception):
    """The gateway cannot start with this configuration; the message says why."""


@dataclass(frozen=True)
class Token:
    """One application's API token: its name (shown in logs), scopes, and SHA-256."""

    name: str
    scopes: frozenset[str]
    sha256: bytes


@dataclass(frozen=True)
class Rate:
    """The token bucket every token gets: `burst` calls at once, refilled at `per_s`."""

    per_s: float = 10.0
    burst: int = 20


@dataclass(frozen=True)
class GatewayConfig:
    network: Network
    terminal_id: str
    terminal_key: nacl.signing.SigningKey = field(repr=False)
    subject_key: bytes = field(repr=False)
    departments: dict[str, nacl.signing.SigningKey] = field(repr=False)
    tokens: tuple[Token, ...]
    rate: Rate = Rate()
    listen: str = DEFAULT_LISTEN
    pull_tls: TlsFiles | None = None
    notes: tuple[str, ...] = ()  # what the operator should know at startup (no secrets)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return "gw_" + secrets.token_urlsafe(32)


def load(testnet: Path | None, config_file: Path | None) -> GatewayConfig:
    """The configuration from a testnet directory, a file, or the file over the directory."""
    if testnet is None and config_file is None:
        raise ConfigError("give --dir TESTNET or --config gateway.toml (or both)")
    raw: dict[str, Any] = _read_toml(config_file) if config_file else {}
    where = str(config_file) if config_file else "the command line"
    base = config_file.parent if config_file else Path.cwd()
    unknown = set(raw) - SECTIONS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    if testnet is not None and not (testnet / "nodes.txt").is_file():
        raise ConfigError(f"{testnet} is not a testnet directory (no nodes.txt)")
    network, pull_tls = _network(raw.get("network"), testnet, base, where)
    terminal = _section(raw, "terminal", where)
    term_id = terminal.get("id") or (_testnet_terminal(testnet) if testnet else None)
    if not isinstance(term_id, str) or not term_id:
        raise ConfigError(f"{where}: [terminal] id is missing")
    kdir = testnet / "keys" if testnet else None
    term_key = _key(terminal.get("key"), base, kdir / "kiosk.key" if kdir else None, "key", where)
    subject = _key(terminal.get("subject_key"), base, kdir / "subject.key" if kdir else None,
                   "subject_key", where)  # fmt: skip
    departments = _departments(raw, testnet, network, base, where)
    tokens, notes = _tokens(raw.get("tokens"), testnet, where)
    listen = raw.get("listen", DEFAULT_LISTEN)
    if not isinstance(listen, str):
        raise ConfigError(f"{where}: listen must be a string HOST:PORT")
    return GatewayConfig(
        network=network,
        terminal_id=term_id,
        terminal_key=term_key,
        subject_key=bytes(subject),
        departments=departments,
        tokens=tokens,
        rate=_rate(raw, where),
        listen=listen,
        pull_tls=pull_tls,
        notes=notes,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def _section(raw: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value


def _path(value: object, base: Path, what: str, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {what} must be a file path")
    p = Path(value)
    return p if p.is_absolute() else base / p


def _key(
    value: object, base: Path, default: Path | None, what: str, where: str
) -> nacl.signing.SigningKey:
    """A hex Ed25519 seed file (the format `govchain keygen` writes)."""
    if value is None and default is None:
        raise ConfigError(f"{where}: [terminal] {what} is missing")
    path = default if value is None else _path(value, base, f"[terminal] {what}", where)
    assert path is not None
    return _read_key(path, what)


def _read_key(path: Path, what: str) -> nacl.signing.SigningKey:
    try:
        text = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the {what} file {path}: {e.strerror}") from None
    try:
        return nacl.signing.SigningKey(bytes.fromhex(text))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{path} is not a key file (64 hex digits, from govchain keygen)"
        ) from None


def _network(
    value: object, testnet: Path | None, base: Path, where: str
) -> tuple[Network, TlsFiles | None]:
    if value is None:
        if testnet is None:
            raise ConfigError(f"{where}: [network] is missing (or give --dir TESTNET)")
        network = Network.from_testnet(testnet)
        kiosk = client_tls(testnet / "tls", "kiosk")
        return network, (kiosk if network.tls and kiosk.cert.exists() else network.tls)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [network] must be a table")
    chain_id, nodes = value.get("chain_id"), value.get("nodes")
    if not isinstance(chain_id, str) or not chain_id:
        raise ConfigError(f"{where}: [network] chain_id is missing")
    if (
        not isinstance(nodes, dict)
        or not nodes
        or not all(isinstance(v, str) for v in nodes.values())
    ):
        raise ConfigError(f'{where}: [network] nodes must map departments to "HOST:PORT"')
    tls = None
    if not value.get("insecure", False):
        names = ("ca", "cert", "key")
        missing = [n for n in names if n not in value]
        if missing:
            raise ConfigError(
                f"{where}: [network] needs {', '.join(missing)} (TLS files) or insecure = true"
            )
        ca, cert, key = (_path(value[n], base, f"[network] {n}", where) for n in names)
        tls = TlsFiles(ca, cert, key)
    genesis = value.get("genesis_dir")
    genesis_dir = _path(genesis, base, "[network] genesis_dir", where) if genesis else None
    return Network(chain_id, dict(nodes), tls, genesis_dir), tls


def _testnet_terminal(testnet: Path) -> str | None:
    """The terminal `testnet init` put into the genesis (the department of role terminal)."""
    try:
        genesis = json.loads((testnet / "genesis" / "authentication.json").read_text())
    except (OSError, ValueError):
        return None
    for d in genesis.get("app", {}).get("departments", []):
        if "terminal" in d.get("roles", []):
            return d.get("id")
    return None


def _departments(
    raw: dict[str, Any], testnet: Path | None, network: Network, base: Path, where: str
) -> dict[str, nacl.signing.SigningKey]:
    """The departments this gateway pulls for: from [departments] (id = key file), else
    every department of the testnet whose tx key is there."""
    table = _section(raw, "departments", where)
    if table:
        return {
            d: _read_key(_path(p, base, f"[departments] {d}", where), f"{d} department key")
            for d, p in table.items()
        }
    if testnet is None:
        raise ConfigError(f"{where}: [departments] is missing (department = key file)")
    keys = {d: testnet / "keys" / f"{d}.tx.key" for d in network.nodes}
    return {d: _read_key(p, f"{d} department key") for d, p in keys.items() if p.exists()}


def _tokens(value: object, testnet: Path | None, where: str) -> tuple[tuple[Token, ...], tuple]:
    if value is None:
        if testnet is None:
            raise ConfigError(f"{where}: no [[tokens]]: no application could call the gateway")
        return (Token("testnet", SCOPES, hash_token(testnet_token(testnet))),), (
            f"API token (read, write) in {testnet / 'keys' / TOKEN_FILE}",
        )
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: tokens must be a non-empty array of tables [[tokens]]")
    tokens: list[Token] = []
    for i, t in enumerate(value):
        tokens.append(_token(t, f"{where}: tokens[{i}]"))
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: two tokens share a name; each application has its own")
    if len({t.sha256 for t in tokens}) != len(tokens):
        raise ConfigError(f"{where}: two tokens share a sha256; each application has its own")
    return tuple(tokens), ()


def _token(t: object, where: str) -> Token:
    if not isinstance(t, dict):
        raise ConfigError(f"{where} must be a table")
    name, scopes, digest = t.get("name"), t.get("scopes"), t.get("sha256")
    if not isinstance(name, str) or not name.isprintable() or not 0 < len(name) <= 64:
        raise ConfigError(f"{where}: name must be 1..64 printable characters")
    if not isinstance(scopes, list) or not scopes or not set(scopes) <= SCOPES:
        raise ConfigError(f"{where} ({name}): scopes must be a non-empty list of read, write")
    try:
        raw = bytes.fromhex(digest) if isinstance(digest, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            f"{where} ({name}): sha256 must be the token's SHA-256 in hex (64 digits); "
            "`govchain gateway token` makes a token and prints it"
        )
    return Token(name, frozenset(scopes), raw)


def _rate(raw: dict[str, Any], where: str) -> Rate:
    table = _section(raw, "rate", where)
    unknown = set(table) - {"per_s", "burst"}
    if unknown:
        raise ConfigError(f"{where}: [rate] unknown setting(s) {', '.join(sorted(unknown))}")
    per_s, burst = table.get("per_s", Rate.per_s), table.get("burst", Rate.burst)
    if not isinstance(per_s, int | float) or isinstance(per_s, bool) or per_s <= 0:
        raise ConfigError(f"{where}: [rate] per_s must be a number above 0")
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ConfigError(f"{where}: [rate] burst must be a whole number of at least 1")
    return Rate(float(per_s), burst)


def testnet_token(testnet: Path) -> str:
    """The testnet's gateway token, made (mode 0600) on first use."""
    path = testnet / "keys" / TOKEN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_token() + "\n")
    return path.read_text().strip()
