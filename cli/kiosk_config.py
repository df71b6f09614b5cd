"""`govchain kiosk serve`: run the kiosk web app, configured from a testnet directory
(`--dir`, everything found where `testnet init` put it) or from a kiosk.toml (`--config`,
every setting spelled out, for a kiosk that is not on a validator's machine).

A kiosk.toml (paths relative to the file):

    chain_id = "govchain-testnet"
    terminal_id = "haidian-kiosk-01"
    terminal_key_file = "keys/kiosk.key"
    requester = "agriculture"                  # the department the kiosk works for
    requester_key_file = "keys/agriculture.tx.key"
    subject_key_file = "keys/subject.key"      # the consortium's subject key
    items = ["PEST-FIRST"]                     # the service items offered
    idle_timeout_s = 120                       # optional
    consent_valid_s = 1800                     # optional
    listen = "127.0.0.1:8080"                  # optional; --listen wins
    genesis_dir = "genesis"                    # optional: evidence bundles carry it
    crypto_suite = "sm2-sm3"                   # optional: else genesis_dir's, else Ed25519

    [nodes]                                    # department -> host:port
    agriculture = "127.0.0.1:7003"

    [tls]                                      # or: insecure = true (at top level)
    ca = "tls/ca.crt"
    cert = "tls/kiosk.crt"
    key = "tls/kiosk.key"

`terminal_id` and `terminal_key_file` are this kiosk's own: a testnet's genesis kiosk
(`haidian-kiosk-01`, keys/kiosk.key), or a kiosk its department registered on every
channel with `govchain terminal register` (the key made on the kiosk, `govchain keygen`;
its proof by `govchain terminal prove`). Once the department revokes it, every step shows
the citizen the "out of service" page.

Each missing or bad field is a clear error naming the file and the field.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from chains.registry import public_key_of
from client.connection import load_signing_key
from client.hall import Network, genesis_suite
from client.tls import TlsFiles
from client.txs import TxKey
from crypto import DEFAULT_SUITE, SUITE_NAMES
from web.kiosk.settings import CONSENT_VALID_S, IDLE_TIMEOUT_S, KioskSettings

DEFAULT_LISTEN = "127.0.0.1:8080"
# What `govchain demo` publishes and the department it publishes it as: a testnet
# directory's kiosk offers that item for that department.
DEMO_ITEMS = ("PEST-FIRST",)
DEMO_REQUESTER = "agriculture"
DEFAULT_TERMINAL = "haidian-kiosk-01"


class KioskConfigError(ValueError):
    """A missing or bad setting; the message names where and which."""


def _key(path: Path, where: str, suite: str = DEFAULT_SUITE) -> TxKey:
    """A key of the chain's crypto suite (`suite`, its genesis' `crypto_suite`): the file's
    seed gives an Ed25519 key, or an SM2 one on an `sm2-sm3` chain."""
    try:
        return load_signing_key(path, suite=suite)
    except OSError as e:
        raise KioskConfigError(f"{where}: cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise KioskConfigError(f"{where}: {path} is not a 32-byte hex key seed") from None


def _subject_key(path: Path, where: str) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except OSError as e:
        raise KioskConfigError(f"{where}: cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise KioskConfigError(f"{where}: {path} is not hex") from None
    if len(key) < 16:
        raise KioskConfigError(f"{where}: {path} holds fewer than 16 bytes")
    return key


def terminal_of_testnet(root: Path, key: TxKey) -> str:
    """The terminal id the testnet's genesis gives the kiosk key (its "terminal" entry)."""
    public = public_key_of(key).hex()
    try:
        app = json.loads((root / "genesis" / "authentication.json").read_text())["app"]
        for entry in app.get("departments", []):
            if public in entry.get("keys", []) and "terminal" in entry.get("roles", []):
                return str(entry["id"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return DEFAULT_TERMINAL


def settings_from_testnet(root: Path) -> KioskSettings:
    """A `govchain testnet init` directory: its nodes, the kiosk's TLS pair and key, the
    demo's requesting department and item, the consortium's subject key."""
    if not (root / "nodes.txt").exists():
        raise KioskConfigError(f"{root}: not a testnet directory (no nodes.txt)")
    try:
        network = Network.from_testnet(root, client="kiosk")
    except (OSError, ValueError, KeyError) as e:
        raise KioskConfigError(f"{root}: cannot read the testnet: {e}") from None
    if DEMO_REQUESTER not in network.nodes:
        raise KioskConfigError(f"{root}: no {DEMO_REQUESTER} node in nodes.txt")
    suite = network.crypto_suite  # the testnet's genesis names it
    terminal_key = _key(root / "keys" / "kiosk.key", "terminal key", suite)
    requester_key = _key(root / "keys" / f"{DEMO_REQUESTER}.tx.key", "requester key", suite)
    return KioskSettings(
        network=network,
        terminal_id=terminal_of_testnet(root, terminal_key),
        terminal_key=terminal_key,
        requester=DEMO_REQUESTER,
        requester_key=requester_key,
        subject_key=_subject_key(root / "keys" / "subject.key", "subject key"),
        items=DEMO_ITEMS,
        pull_tls=network.tls,
    )


class _Fields:
    """Typed reads of a kiosk.toml's fields, each error naming the file and field."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data, self.base = path, data, path.parent

    def fail(self, name: str, problem: str) -> KioskConfigError:
        return KioskConfigError(f"{self.path}: {name}: {problem}")

    def text(self, name: str, required: bool = True, default: str = "") -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "missing")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "must be a non-empty string")
        return value

    def file(self, name: str, table: dict[str, Any] | None = None) -> Path:
        value = (table if table is not None else self.data).get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, "missing (a file path)")
        path = self.base / value
        if not path.is_file():
            raise self.fail(name, f"{path} does not exist")
        return path

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.data.get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise self.fail(name, f"must be a number from {low:g} to {high:g}")
        return float(value)

    def items(self) -> tuple[str, ...]:
        value = self.data.get("items")
        if not isinstance(value, list) or not value:
            raise self.fail("items", "missing (a list of service item codes)")
        if not all(isinstance(v, str) and v for v in value):
            raise self.fail("items", "every service item code must be a non-empty string")
        return tuple(value)

    def nodes(self) -> dict[str, str]:
        value = self.data.get("nodes")
        if not isinstance(value, dict) or not value:
            raise self.fail("nodes", "missing (a [nodes] table: department = host:port)")
        for name, address in value.items():
            host, _, port = str(address).rpartition(":")
            if not isinstance(address, str) or not host or not port.isdigit():
                raise self.fail(f"nodes.{name}", "must be host:port")
        return dict(value)

    def suite(self, genesis: Path | None) -> str:
        """The chain's crypto suite: `crypto_suite` if set, else what the genesis files in
        `genesis_dir` name (the default without either); the two must agree."""
        named = self.text("crypto_suite", required=False)
        if named and named not in SUITE_NAMES:
            raise self.fail("crypto_suite", f"must be one of {', '.join(SUITE_NAMES)}")
        found = genesis_suite(genesis) if genesis and any(genesis.glob("*.json")) else ""
        if named and found and named != found:
            raise self.fail("crypto_suite", f"is {named}, the genesis in genesis_dir {found}")
        return named or found or DEFAULT_SUITE

    def tls(self) -> TlsFiles | None:
        if self.data.get("insecure") is True:
            return None
        table = self.data.get("tls")
        if not isinstance(table, dict):
            raise self.fail("tls", "missing (a [tls] table with ca, cert, key; or insecure = true)")
        return TlsFiles(self.file("ca", table), self.file("cert", table), self.file("key", table))


def settings_from_toml(path: Path) -> KioskSettings:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise KioskConfigError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise KioskConfigError(f"{path}: not valid TOML: {e}") from None
    f = _Fields(path, data)
    nodes = f.nodes()
    requester = f.text("requester")
    if requester not in nodes:
        raise f.fail("requester", f"{requester!r} has no entry in [nodes]")
    genesis = (f.base / f.text("genesis_dir", required=False)) if "genesis_dir" in data else None
    suite = f.suite(genesis)
    tls = f.tls()
    return KioskSettings(
        network=Network(f.text("chain_id"), nodes, tls, genesis, suite),
        terminal_id=f.text("terminal_id"),
        terminal_key=_key(f.file("terminal_key_file"), f"{path}: terminal_key_file", suite),
        requester=requester,
        requester_key=_key(f.file("requester_key_file"), f"{path}: requester_key_file", suite),
        subject_key=_subject_key(f.file("subject_key_file"), f"{path}: subject_key_file"),
        items=f.items(),
        idle_timeout_s=f.number("idle_timeout_s", IDLE_TIMEOUT_S, 1, 3600),
        consent_valid_s=int(f.number("consent_valid_s", CONSENT_VALID_S, 60, 86_400)),
        pull_tls=tls,
        listen=f.text("listen", required=False),
    )


def load_kiosk_settings(args: argparse.Namespace) -> KioskSettings:
    """--dir or --config, then the command line's overrides."""
    settings = settings_from_testnet(args.dir) if args.dir else settings_from_toml(args.config)
    if args.idle_timeout_s is not None:
        if not 0 < args.idle_timeout_s <= 3600:
            raise KioskConfigError("--idle-timeout-s: must be from 1 to 3600 seconds")
        settings = replace(settings, idle_timeout_s=args.idle_timeout_s)
    return settings


def cmd_kiosk_serve(args: argparse.Namespace) -> int:
    from web.kiosk.app import make_kiosk_app
    from web.serve import serve, split_listen

    try:
        settings = load_kiosk_settings(args)
        listen = args.listen or settings.listen or DEFAULT_LISTEN
        split_listen(listen)
    except (KioskConfigError, ValueError) as e:
        print(f"govchain: cannot start the kiosk: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    print(f"kiosk for {settings.requester} as terminal {settings.terminal_id}: http://{listen}/")
    sys.stdout.flush()
    serve(make_kiosk_app(settings), listen)
    return 0


def add_kiosk_parser(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("kiosk", help="the service-hall kiosk (a web app)").add_subparsers(
        dest="action", required=True
    )
    s = k.add_parser("serve", help="serve the kiosk web app until SIGTERM/SIGINT")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", type=Path, help="a testnet directory (`testnet init`'s)")
    where.add_argument("--config", type=Path, help="a kiosk.toml with every setting")
    s.add_argument("--listen", help=f"HOST:PORT to serve on (default {DEFAULT_LISTEN})")
    s.add_argument(
        "--idle-timeout-s",
        type=float,
        help=f"wipe an idle session after S seconds ({IDLE_TIMEOUT_S:g})",
    )
    s.set_defaults(func=cmd_kiosk_serve)
