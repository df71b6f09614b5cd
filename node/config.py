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

from chains.tx import suite_hashing
from client.keys import KeyCustodyError, check_secret_spec, is_token_uri
from client.tls import TlsFiles
from consensus.config import ConsensusConfig
from consensus.hashing import Hashing
from crypto import DEFAULT_SUITE, SIGNATURE_SHAPES, suite_by_name
from storage.pruning import RETAIN_BLOCKS_MIN

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
    mempool_txs_max: int = 100_000
    mempool_bytes_max: int = 32 << 20  # per channel: backpressure (MEMPOOL_FULL) in a stall
    # Backpressure on clients (node/mempool.py): a client's tx waits at most about this
    # long at the channel's commit rate (0: off), and this many may always wait.
    mempool_queue_ms: int = 300
    mempool_floor_txs: int = 200
    tx_bytes_max: int = 64 << 10
    submit_txs_max: int = 10_000
    message_bytes_max: int = 64 << 20
    # What a peer can make this node hold: an answer to a block fetch (the gRPC receive
    # bound of peer links; a node answers within it), and what waits to be sent to one
    # peer, per channel and kind (consensus envelopes, gossiped txs), oldest dropped.
    fetch_answer_bytes_max: int = 16 << 20
    peer_queue_frames_max: int = 20_000
    peer_queue_bytes_max: int = 4 << 20
    # Peers' consensus messages waiting for a channel's core (one always fits), in bytes.
    runtime_queue_bytes_max: int = 64 << 20
    verify_threads: int = 2
    # Flood limits (node/ratelimit.py): txs per second per client (certificate name, or
    # address without TLS), calls per second per connection, consensus envelopes plus
    # gossiped txs per second per peer.
    client_txs_per_s: int = 20_000
    connection_calls_per_s: int = 1_000
    peer_items_per_s: int = 200_000
    # Calls in flight (node/call_limits.py): per client certificate, unary calls and streams;
    # all clients together; per validator of a channel served here, counted apart from
    # the clients so that they can never take the validators' capacity.
    client_calls_max: int = 32
    client_streams_max: int = 64
    all_clients_calls_max: int = 1_000
    peer_calls_max: int = 64
    streams_per_connection_max: int = 100  # HTTP/2 streams on one connection
    ping_interval_min_ms: int = 1_000  # a connection's keepalive pings, even when idle
    # One log line per peer (or client) and reason per interval for refused messages;
    # the exact counts are in the metrics (node/logsampling.py).
    refusal_log_interval_ms: int = 10_000
    # Block fetches (node/fetching.py): a peer gets this long to answer, and one peer is
    # asked at most this often (the answer's size bound is fetch_answer_bytes_max).
    fetch_timeout_ms: int = 3_000
    fetch_peer_calls_per_s: int = 20


# Old names of limits, still accepted: `stream_blocks_max` was never enforced, and
# `concurrent_rpcs_max` was gRPC's one server-wide cap, which peers shared with clients.
RENAMED_LIMITS = {
    "stream_blocks_max": "client_streams_max",
    "concurrent_rpcs_max": "all_clients_calls_max",
}


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    channel: str
    validators: tuple[tuple[str, bytes], ...]  # (node id, public key) in primary order
    consensus: dict[str, int]
    raw: bytes
    app: dict = field(default_factory=dict)  # {"name": ..., "departments": [...]}
    # Signs and verifies the channel's votes, hellos and txs (docs/compliance.md).
    crypto_suite: str = DEFAULT_SUITE

    @property
    def hashing(self) -> Hashing:
        """The suite's hash and Merkle tree: block digests, tx ids, state roots."""
        return suite_hashing(suite_by_name(self.crypto_suite))

    @property
    def hash(self) -> bytes:
        return self.hashing.hash(self.raw)

    def consensus_config(self) -> ConsensusConfig:
        return ConsensusConfig(
            channel=self.channel,
            validators=tuple(k for _, k in self.validators),
            genesis_hash=self.hash,
            hashing=self.hashing,
            **self.consensus,
        )


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    chain_id: str
    key_file: Path | str  # a key file, or a `pkcs11:` URI (client/keys.py)
    listen: str
    data_dir: Path
    genesis_dir: Path
    channels: tuple[str, ...]
    peers: tuple[Peer, ...] = ()
    limits: Limits = field(default_factory=Limits)
    log_json: bool = False
    department_key_file: Path | str | None = None  # the department's tx key (data sharing)
    key_secret: str | None = None  # env:NAME / file:PATH: the key's passphrase or token PIN
    department_key_secret: str | None = None
    tls: TlsFiles | None = None  # None only with insecure = true
    metrics_listen: str | None = None  # host:port of the Prometheus endpoint
    # Keep only the newest blocks: 0 keeps all, else >= RETAIN_BLOCKS_MIN (storage/pruning.py).
    retain_blocks: int = 0
    # Snapshots (node/snapshots.py): every N-th checkpoint height (0: none), the newest K
    # kept; and whether an empty channel joins from a peer's snapshot (node/state_sync.py).
    snapshot_interval_checkpoints: int = 1000
    snapshots_kept: int = 2
    state_sync: bool = False
    # Serve pruned heights again from `<archive_dir>/<channel>/` (node/archive_serving.py).
    archive_dir: Path | None = None


def _tls(data: dict, base: Path, where: str) -> TlsFiles | None:
    """The [tls] table, or None when the config says `insecure = true` (and has no [tls])."""
    insecure = data.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError(f"{where}: `insecure` must be true or false")
    table = data.get("tls")
    if table is None:
        if insecure:
            return None
        raise ConfigError(
            f"{where}: no [tls] table (ca, cert, key); mutual TLS is required unless the "
            "config says `insecure = true` (local development only)"
        )
    if insecure:
        raise ConfigError(f"{where}: both [tls] and `insecure = true`; choose one")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: `tls` must be a table")
    unknown = set(table) - {"ca", "cert", "key", "crl"}
    if unknown:
        raise ConfigError(f"{where}: unknown tls fields {sorted(unknown)}")
    paths = [
        base / str(_require(table, name, str, f"{where}: [tls]")) for name in ("ca", "cert", "key")
    ]
    if "crl" in table:  # optional: the consortium CA's revocation list (node/crl.py)
        paths.append(base / str(_require(table, "crl", str, f"{where}: [tls]")))
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{where}: [tls] file {path} not found")
    return TlsFiles(*paths)


def _require(table: dict, key: str, kind: type, where: str) -> object:
    if key not in table:
        raise ConfigError(f"{where}: missing `{key}`")
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: `{key}` must be a {kind.__name__}")
    return value


def _key_spec(value: object, base: Path) -> Path | str:
    """A key file (relative to the config's directory) or a `pkcs11:` token URI as is."""
    return str(value) if is_token_uri(value) else base / str(value)


def _secret_spec(value: object, base: Path, where: str) -> str | None:
    """Where a key's passphrase or PIN comes from: `env:NAME` or `file:PATH` (relative to
    the config's directory). Never the secret itself: anything else is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string (env:NAME or file:PATH)")
    try:
        check_secret_spec(value, where)
    except KeyCustodyError as e:
        raise ConfigError(str(e)) from None
    if value.startswith("file:"):
        return f"file:{base / value[len('file:') :]}"
    return value


# A peer's key in a node config: any suite's (the genesis holds each channel to its own).
_ANY_SUITE_KEY_BYTES = tuple(sorted({k for k, _ in SIGNATURE_SHAPES.values()}))


def _hex_key(text: object, where: str, sizes: tuple[int, ...] = (32,)) -> bytes:
    try:
        key = bytes.fromhex(str(text))
    except ValueError as e:
        raise ConfigError(f"{where}: public key is not hex") from e
    if len(key) not in sizes:
        raise ConfigError(f"{where}: public key must be {' or '.join(f'{n} bytes' for n in sizes)}")
    return key


def _read_text(path: Path, what: str) -> str:
    """The file's exact bytes decoded as UTF-8 (no newline translation: genesis hashes them)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such {what}") from e
    except IsADirectoryError as e:
        raise ConfigError(f"{path}: is a directory, not a {what}") from e
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what}: {e.strerror}") from e


ZERO_ALLOWED = {"mempool_queue_ms", "mempool_floor_txs"}  # 0: no client backpressure


def _limits(table: object, where: str) -> Limits:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: `limits` must be a table")
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = set(table) - known - set(RENAMED_LIMITS)
    if unknown:
        raise ConfigError(f"{where}: unknown limits {sorted(unknown)}")
    table = dict(table)
    for old, new in RENAMED_LIMITS.items():
        if old in table:
            if new in table:
                raise ConfigError(f"{where}: limits.{old} is the old name of {new}; give one")
            table[new] = table.pop(old)
    for name, value in table.items():
        least = 0 if name in ZERO_ALLOWED else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            what = "a non-negative" if least == 0 else "a positive"
            raise ConfigError(f"{where}: limits.{name} must be {what} integer")
    limits = Limits(**table)
    if limits.fetch_answer_bytes_max > limits.message_bytes_max:
        raise ConfigError(
            f"{where}: limits.fetch_answer_bytes_max must not exceed limits.message_bytes_max"
        )
    return limits


def _archive_dir(raw: object, base: Path, where: str) -> Path | None:
    """`archive_dir` (relative to the config): it must exist, since a node pointed at a
    missing archive would silently answer `pruned`."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: `archive_dir` must be a path (a string)")
    if not (base / raw).is_dir():
        raise ConfigError(f"{where}: `archive_dir` {base / raw} is not a directory")
    return base / raw


def load_config(path: Path) -> NodeConfig:
    where = str(path)
    try:
        data = tomllib.loads(_read_text(path, "config file"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from e
    base = path.parent
    channels = tuple(_require(data, "channels", list, where))  # type: ignore[arg-type]
    for ch in channels:
        if ch not in CHANNELS:
            raise ConfigError(f"{where}: unknown channel {ch!r} (known: {', '.join(CHANNELS)})")
    peers = []
    peer_tables = data.get("peers", [])
    if not isinstance(peer_tables, list):
        raise ConfigError(f"{where}: `peers` must be an array of tables ([[peers]])")
    for i, p in enumerate(peer_tables):
        pw = f"{where}: peers[{i}]"
        if not isinstance(p, dict):
            raise ConfigError(f"{pw} must be a table")
        peers.append(
            Peer(
                str(_require(p, "node_id", str, pw)),
                str(_require(p, "address", str, pw)),
                _hex_key(_require(p, "public_key", str, pw), pw, _ANY_SUITE_KEY_BYTES),
            )
        )
    limits = _limits(data.get("limits", {}), where)
    log_json = data.get("log_json", False)
    if not isinstance(log_json, bool):
        raise ConfigError(f"{where}: `log_json` must be true or false")
    metrics_listen = data.get("metrics_listen")
    if metrics_listen is not None and not isinstance(metrics_listen, str):
        raise ConfigError(f'{where}: `metrics_listen` must be a "host:port" string')
    retain_blocks = data.get("retain_blocks", 0)
    if isinstance(retain_blocks, bool) or not isinstance(retain_blocks, int):
        raise ConfigError(f"{where}: `retain_blocks` must be an integer")
    if retain_blocks != 0 and retain_blocks < RETAIN_BLOCKS_MIN:
        raise ConfigError(
            f"{where}: `retain_blocks` must be 0 (keep every block) or at least "
            f"{RETAIN_BLOCKS_MIN} (the blocks a restarted channel reads)"
        )
    state_sync = data.get("state_sync", False)
    if not isinstance(state_sync, bool):
        raise ConfigError(f"{where}: `state_sync` must be true or false")
    interval = _count(
        data.get("snapshot_interval_checkpoints", 1000), 0, where, "snapshot_interval_checkpoints"
    )
    kept = _count(data.get("snapshots_kept", 2), 1, where, "snapshots_kept")
    return NodeConfig(
        node_id=str(_require(data, "node_id", str, where)),
        chain_id=str(_require(data, "chain_id", str, where)),
        key_file=_key_spec(_require(data, "key_file", str, where), base),
        listen=str(_require(data, "listen", str, where)),
        data_dir=base / str(_require(data, "data_dir", str, where)),
        genesis_dir=base / str(_require(data, "genesis_dir", str, where)),
        channels=channels,
        peers=tuple(peers),
        limits=limits,
        log_json=log_json,
        department_key_file=(
            _key_spec(data["department_key_file"], base) if "department_key_file" in data else None
        ),
        key_secret=_secret_spec(data.get("key_secret"), base, f"{where}: `key_secret`"),
        department_key_secret=_secret_spec(
            data.get("department_key_secret"), base, f"{where}: `department_key_secret`"
        ),
        tls=_tls(data, base, where),
        metrics_listen=metrics_listen,
        retain_blocks=retain_blocks,
        snapshot_interval_checkpoints=interval,
        snapshots_kept=kept,
        state_sync=state_sync,
        archive_dir=_archive_dir(data.get("archive_dir"), base, where),
    )


def _count(value: object, least: int, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{where}: `{name}` must be an integer of at least {least}")
    return value


def load_genesis(path: Path, chain_id: str, channel: str) -> Genesis:
    where = str(path)
    text = _read_text(path, f"genesis file for channel {channel!r}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: genesis must be a JSON object")
    if data.get("chain_id") != chain_id or data.get("channel") != channel:
        raise ConfigError(f"{where}: genesis is for {data.get('chain_id')}/{data.get('channel')}")
    suite = data.get("crypto_suite", DEFAULT_SUITE)
    if suite not in SIGNATURE_SHAPES:
        known = ", ".join(SIGNATURE_SHAPES)
        raise ConfigError(f"{where}: `crypto_suite` {suite!r} is not one of {known}")
    key_bytes = (SIGNATURE_SHAPES[suite][0],)
    entries = data.get("validators", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: `validators` must be a list")
    validators = []
    for i, v in enumerate(entries):
        vw = f"{where}: validators[{i}]"
        if not isinstance(v, dict):
            raise ConfigError(f"{vw} must be an object")
        node_id = _require(v, "node_id", str, vw)
        key = _hex_key(_require(v, "public_key", str, vw), vw, key_bytes)
        validators.append((str(node_id), key))
    consensus = data.get("consensus", {})
    if not isinstance(consensus, dict) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in consensus.values()
    ):
        raise ConfigError(f"{where}: `consensus` must map parameter names to integers")
    app = data.get("app", {})
    if not isinstance(app, dict):
        raise ConfigError(f"{where}: `app` must be an object")
    genesis = Genesis(
        chain_id, channel, tuple(validators), dict(consensus), text.encode(), app, suite
    )
    try:
        genesis.consensus_config()
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from e
    return genesis


def channels_suite(config: NodeConfig) -> str:
    """The crypto suite of the channels this node serves. A node has one validator key and
    one peer identity (its hellos and TLS certificate carry that key), so every channel it
    serves must name the same suite: a chain chooses its suite, each genesis states it."""
    names = {
        load_genesis(config.genesis_dir / f"{c}.json", config.chain_id, c).crypto_suite
        for c in config.channels
    }
    if len(names) > 1:
        raise ConfigError(
            f"{config.genesis_dir}: the channels' genesis files name different"
            f" `crypto_suite`s ({', '.join(sorted(names))}); a node serves one"
        )
    return names.pop() if names else DEFAULT_SUITE


def make_genesis(
    chain_id: str,
    channel: str,
    validators: list[tuple[str, bytes]],
    consensus: dict[str, int],
    app: dict | None = None,
    crypto_suite: str = DEFAULT_SUITE,
) -> bytes:
    """Canonical genesis bytes (sorted keys, fixed separators) for `testnet init`. The
    default suite is left out, so a default genesis is byte for byte what it was."""
    data: dict[str, object] = {
        "chain_id": chain_id,
        "channel": channel,
        "validators": [{"node_id": n, "public_key": k.hex()} for n, k in validators],
        "consensus": consensus,
    }
    if app:
        data["app"] = app
    if crypto_suite != DEFAULT_SUITE:
        data["crypto_suite"] = crypto_suite
    return json.dumps(data, sort_keys=True, indent=2).encode() + b"\n"


def load_key(path: Path) -> bytes:
    """The node's Ed25519 seed (32 bytes, hex). Never logged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: key file not found (create one with `govchain keygen`)") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read key file: {e.strerror}") from e
    try:  # errors below never chain the cause: it could quote key material
        seed = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"{path}: key file is not hex (a 32-byte seed)") from None
    if len(seed) != 32:
        raise ConfigError(f"{path}: key file must hold a 32-byte seed")
    return seed
