"""Node configuration (TOML) and channel genesis files (JSON), loaded with clear errors.

A config names this node, its key file, where it listens, its peers and the channels it
serves; each channel's genesis (validator set and consensus parameters) is a separate
file every validator of that channel holds byte for byte: its SHA-256 is the genesis hash
block 1 builds on.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from consensus.config import ConsensusConfig
from consensus.hashing import sha256

CHANNELS = ("license", "authentication", "authorization", "catalog", "service")


class ConfigError(Exception):
    """A bad config or genesis; the message says which file and which field."""


@dataclass(frozen=True)
class Peer:
    node_id: str
    address: str
    public_key: bytes


@dataclass(frozen=True)
class Limits:
    tick_ms: int = 50
    mempool_txs_max: int = 200_000
    mempool_bytes_max: int = 256 << 20
    tx_bytes_max: int = 64 << 10
    submit_txs_max: int = 10_000
    message_bytes_max: int = 64 << 20
    verify_threads: int = 2
    stream_blocks_max: int = 64


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    channel: str
    validators: tuple[tuple[str, bytes], ...]  # (node id, public key) in primary order
    consensus: dict[str, int]
    raw: bytes

    @property
    def hash(self) -> bytes:
        return sha256(self.raw)

    def consensus_config(self) -> ConsensusConfig:
        return ConsensusConfig(
            channel=self.channel,
            validators=tuple(k for _, k in self.validators),
            genesis_hash=self.hash,
            **self.consensus,
        )


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    chain_id: str
    key_file: Path
    listen: str
    data_dir: Path
    genesis_dir: Path
    channels: tuple[str, ...]
    peers: tuple[Peer, ...] = ()
    limits: Limits = field(default_factory=Limits)
    log_json: bool = False


def _require(table: dict, key: str, kind: type, where: str) -> object:
    if key not in table:
        raise ConfigError(f"{where}: missing `{key}`")
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: `{key}` must be a {kind.__name__}")
    return value


def _hex_key(text: object, where: str) -> bytes:
    try:
        key = bytes.fromhex(str(text))
    except ValueError as e:
        raise ConfigError(f"{where}: public key is not hex") from e
    if len(key) != 32:
        raise ConfigError(f"{where}: public key must be 32 bytes")
    return key


def load_config(path: Path) -> NodeConfig:
    where = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{where}: no such config file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from e
    base = path.parent
    channels = tuple(_require(data, "channels", list, where))  # type: ignore[arg-type]
    for ch in channels:
        if ch not in CHANNELS:
            raise ConfigError(f"{where}: unknown channel {ch!r} (known: {', '.join(CHANNELS)})")
    peers = []
    for i, p in enumerate(data.get("peers", [])):
        pw = f"{where}: peers[{i}]"
        peers.append(
            Peer(
                str(_require(p, "node_id", str, pw)),
                str(_require(p, "address", str, pw)),
                _hex_key(_require(p, "public_key", str, pw), pw),
            )
        )
    limits_table = data.get("limits", {})
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = set(limits_table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown limits {sorted(unknown)}")
    return NodeConfig(
        node_id=str(_require(data, "node_id", str, where)),
        chain_id=str(_require(data, "chain_id", str, where)),
        key_file=base / str(_require(data, "key_file", str, where)),
        listen=str(_require(data, "listen", str, where)),
        data_dir=base / str(_require(data, "data_dir", str, where)),
        genesis_dir=base / str(_require(data, "genesis_dir", str, where)),
        channels=channels,
        peers=tuple(peers),
        limits=Limits(**limits_table),
        log_json=bool(data.get("log_json", False)),
    )


def load_genesis(path: Path, chain_id: str, channel: str) -> Genesis:
    where = str(path)
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except FileNotFoundError as e:
        raise ConfigError(f"{where}: no genesis for channel {channel!r}") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON: {e}") from e
    if data.get("chain_id") != chain_id or data.get("channel") != channel:
        raise ConfigError(f"{where}: genesis is for {data.get('chain_id')}/{data.get('channel')}")
    validators = tuple(
        (str(v["node_id"]), _hex_key(v["public_key"], f"{where}: validators"))
        for v in data.get("validators", [])
    )
    consensus = dict(data.get("consensus", {}))
    genesis = Genesis(chain_id, channel, validators, consensus, raw)
    try:
        genesis.consensus_config()
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from e
    return genesis


def make_genesis(
    chain_id: str, channel: str, validators: list[tuple[str, bytes]], consensus: dict[str, int]
) -> bytes:
    """Canonical genesis bytes (sorted keys, fixed separators) for `testnet init`."""
    data = {
        "chain_id": chain_id,
        "channel": channel,
        "validators": [{"node_id": n, "public_key": k.hex()} for n, k in validators],
        "consensus": consensus,
    }
    return json.dumps(data, sort_keys=True, indent=2).encode() + b"\n"


def load_key(path: Path) -> bytes:
    """The node's Ed25519 seed (32 bytes, hex). Never logged."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: key file not found (create one with `govchain keygen`)") from e
    try:
        seed = bytes.fromhex(text)
    except ValueError as e:
        raise ConfigError(f"{path}: key file is not hex") from e
    if len(seed) != 32:
        raise ConfigError(f"{path}: key file must hold a 32-byte seed")
    return seed
