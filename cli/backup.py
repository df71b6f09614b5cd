"""`govchain backup` and `govchain restore`: an online backup of a running node, and a
restore of it into an empty data dir (docs/operations.md "Online backup and restore").

The running node holds its LevelDB directories, so the channels come from the node: its
Admin service (node/backup.py) streams each channel from a snapshot, authorised by the
node's own certificate, which the config names. This command writes them as new LevelDB
directories and checks every stream's count and SHA-256 against what the node computed.
The rest is read from disk: the department's `sidecar.sqlite` through SQLite's online
backup API (a consistent copy while the node and the watcher use it), `source.toml` and
the embedded `source/` records, and the config with its genesis and TLS files. Keys stay
out unless `--with-keys`.

A backup is a directory: `manifest.json`, `channels/<name>/` (LevelDB), `data/` (files
of the data dir), `config/` (the config's files, named by their role). Restore checks
every hash in the manifest before anything lands in the data dir, and refuses a backup
that does not match with a message naming what differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import grpc
from cryptography import x509

from client.connection import channel_options
from node.config import ConfigError, NodeConfig, load_config, load_genesis
from node.tls import VALIDATOR_URI_PREFIX, validator_dns_name
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from sources.opening import MAPPING_FILE, SIDECAR_FILE
from storage.ledger import ChannelLedger
from storage.stores import ContentsDigest, LevelDBStore, StorageError

MANIFEST = "manifest.json"
FORMAT = 1
EMBEDDED_DIR = "source"  # <data_dir>/source/: the embedded source's records
MESSAGE_BYTES_MAX = 64 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------ backup


def admin_stub(config: NodeConfig, address: str | None) -> api_grpc.AdminStub:
    """A stub of the node's Admin service, over TLS with the node's own certificate (the
    only one it serves), verified as the node's validator name."""
    if address is None:
        host, _, port = config.listen.rpartition(":")
        address = f"127.0.0.1:{port}" if host in ("0.0.0.0", "[::]", "") else config.listen
    options = channel_options(MESSAGE_BYTES_MAX)
    if config.tls is None:
        return api_grpc.AdminStub(grpc.insecure_channel(address, options=options))
    cert = x509.load_pem_x509_certificate(Path(config.tls.cert).read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    keys = [
        bytes.fromhex(u[len(VALIDATOR_URI_PREFIX) :])
        for u in uris
        if u.startswith(VALIDATOR_URI_PREFIX)
    ]
    if not keys:
        raise BackupError(f"{config.tls.cert}: not a node certificate (no validator key)")
    options.append(("grpc.ssl_target_name_override", validator_dns_name(keys[0])))
    creds = config.tls.channel_credentials()
    return api_grpc.AdminStub(grpc.secure_channel(address, creds, options=options))


def backup_channel(stub: api_grpc.AdminStub, channel: str, dest: Path) -> dict:
    """Stream one channel into a new LevelDB at `dest`; its manifest entry. Raises
    BackupError if the stream's entries do not match the node's own count and hash."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    store = LevelDBStore(dest)
    digest = ContentsDigest()
    head: api.BackupChunk | None = None
    last = api.BackupChunk()
    started = time.monotonic()
    try:
        for chunk in stub.Backup(api.BackupRequest(channel=channel)):
            if head is None:
                head = chunk
                continue
            if chunk.done:
                last = chunk
                break
            for key, value in zip(chunk.keys, chunk.values, strict=True):
                digest.update(key, value)
            store.write(zip(chunk.keys, chunk.values, strict=True), sync=False)
        store.write([], sync=True)
    finally:
        store.close()
    if head is None or not last.done:
        raise BackupError(f"channel {channel}: the node's stream ended early")
    if (digest.key_count, digest.hexdigest()) != (last.key_count, last.contents_sha256.hex()):
        raise BackupError(f"channel {channel}: the copy differs from what the node sent")
    print(
        f"{channel}: height {head.height}, {digest.key_count} keys, {digest.byte_count} bytes "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    return {
        "channel": channel,
        "height": head.height,
        "tip_hash": head.tip_hash.hex(),
        "key_count": digest.key_count,
        "bytes": digest.byte_count,
        "contents_sha256": digest.hexdigest(),
    }


def copy_data_files(data_dir: Path, out: Path) -> dict[str, str]:
    """The data dir's files beside the ledgers: the sidecar through SQLite's backup API
    (consistent while others write it), the mapping and the embedded records as files.
    Returns {path in the backup: SHA-256}."""
    copied: list[Path] = []
    sidecar = data_dir / SIDECAR_FILE
    if sidecar.is_file():
        (out / "data").mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{sidecar}?mode=ro", uri=True)
        dst = sqlite3.connect(out / "data" / SIDECAR_FILE)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        copied.append(out / "data" / SIDECAR_FILE)
    if (data_dir / MAPPING_FILE).is_file():
        (out / "data").mkdir(parents=True, exist_ok=True)
        copied.append(Path(shutil.copy2(data_dir / MAPPING_FILE, out / "data" / MAPPING_FILE)))
    if (data_dir / EMBEDDED_DIR).is_dir():
        shutil.copytree(data_dir / EMBEDDED_DIR, out / "data" / EMBEDDED_DIR)
        copied += [p for p in (out / "data" / EMBEDDED_DIR).rglob("*") if p.is_file()]
    return {str(p.relative_to(out)): file_sha256(p) for p in sorted(copied)}


def config_files(config_path: Path, config: NodeConfig, with_keys: bool) -> dict[str, Path]:
    """The files that make up the node's config, by their name in the backup."""
    files = {"config/config.toml": config_path}
    for ch in config.channels:
        files[f"config/genesis/{ch}.json"] = config.genesis_dir / f"{ch}.json"
    if config.tls is not None:
        files["config/tls/ca.crt"] = Path(config.tls.ca)
        files["config/tls/node.crt"] = Path(config.tls.cert)
        if config.tls.crl is not None:
            files["config/tls/ca.crl"] = Path(config.tls.crl)
        if with_keys:
            files["config/tls/node.key"] = Path(config.tls.key)
    if with_keys:
        for role, spec in (("node", config.key_file), ("department", config.department_key_file)):
            if spec is not None and not str(spec).startswith("pkcs11:"):
                files[f"config/keys/{role}.key"] = Path(spec)
    return files


def copy_config(config_path: Path, config: NodeConfig, out: Path, with_keys: bool) -> dict:
    """Copy the config's files; {path in the backup: {"from": original, "sha256": ...}}."""
    copied = {}
    for name, src in config_files(config_path, config, with_keys).items():
        dst = out / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        if name.endswith(".key"):
            dst.chmod(0o600)
        copied[name] = {"from": str(src.resolve()), "sha256": file_sha256(dst)}
    return copied


def take_backup(config_path: Path, out: Path, stub: api_grpc.AdminStub, with_keys: bool) -> dict:
    """Write a backup of the node `config_path` configures into `out` (new or empty),
    its channels streamed through `stub`; returns the manifest it wrote."""
    config = load_config(config_path)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out}: exists and is not empty; give a new directory")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # ledgers, the sidecar and maybe keys: the operator's only
    channels = [backup_channel(stub, ch, out / "channels" / ch) for ch in config.channels]
    manifest = {
        "format": FORMAT,
        "chain_id": config.chain_id,
        "node_id": config.node_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "with_keys": with_keys,
        "channels": channels,
        "data_files": copy_data_files(config.data_dir, out),
        "config_files": copy_config(config_path, config, out, with_keys),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def cmd_backup(args: argparse.Namespace) -> int:
    try:
        stub = admin_stub(load_config(args.config), args.node)
        manifest = take_backup(args.config, args.out, stub, bool(args.with_keys))
    except grpc.RpcError as e:
        print(f"govchain: backup refused: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    except (BackupError, ConfigError, StorageError, OSError, sqlite3.Error) as e:
        print(f"govchain: backup failed: {e}", file=sys.stderr)
        return 1
    print(f"backup of {manifest['node_id']} written to {args.out}")
    return 0


# ------------------------------------------------------------------ restore


def read_manifest(backup: Path, config: NodeConfig) -> dict:
    """The backup's manifest, if it is one of this node's chain and node."""
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{backup}: no {MANIFEST}: not a govchain backup") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"{backup / MANIFEST}: unreadable: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{backup / MANIFEST}: not a format {FORMAT} backup manifest")
    for field in ("chain_id", "node_id"):
        if manifest.get(field) != getattr(config, field):
            raise BackupError(
                f"the backup is of {field} {manifest.get(field)!r}, the config of "
                f"{getattr(config, field)!r}: restore a node from its own backup"
            )
    return manifest


def check_channel_copy(entry: dict, path: Path, genesis_hash: bytes) -> None:
    """The restored LevelDB at `path` holds exactly what the manifest says: key count,
    contents SHA-256, tip height and hash. Raises BackupError naming the difference."""
    channel = entry["channel"]
    store = LevelDBStore(path)
    try:
        digest = ContentsDigest()
        for key, value in store.iterate(b""):
            digest.update(key, value)
        tip = ChannelLedger(store, channel, genesis_hash).tip()
    finally:
        store.close()
    found = {
        "key_count": digest.key_count,
        "contents_sha256": digest.hexdigest(),
        "height": tip.height,
        "tip_hash": tip.hash.hex(),
    }
    for field, value in found.items():
        if entry.get(field) != value:
            raise BackupError(
                f"channel {channel}: the backup's {field} is {value}, its manifest says "
                f"{entry.get(field)}: the backup is damaged or was altered; not restored"
            )


def stage_restore(backup: Path, manifest: dict, config: NodeConfig, staging: Path) -> None:
    """Copy and check everything into `staging` (beside the data dir)."""
    for name, sha in sorted(manifest.get("data_files", {}).items()):
        src = backup / name
        if not src.is_file() or file_sha256(src) != sha:
            raise BackupError(f"{src}: missing or altered (SHA-256 differs from the manifest)")
        dst = staging / Path(name).relative_to("data")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    for entry in manifest["channels"]:
        channel = entry["channel"]
        if channel not in config.channels:
            raise BackupError(f"the backup holds channel {channel}, which the config does not")
        genesis = load_genesis(config.genesis_dir / f"{channel}.json", config.chain_id, channel)
        shutil.copytree(backup / "channels" / channel, staging / channel)
        check_channel_copy(entry, staging / channel, genesis.hash)
        print(f"{channel}: height {entry['height']}, {entry['key_count']} keys: checked")


def restore(backup: Path, config: NodeConfig) -> None:
    """Restore `backup` into the config's data dir, which must be empty or absent. All
    is copied and checked in a staging directory first, then moved into place."""
    manifest = read_manifest(backup, config)
    data_dir = config.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir}: the data dir is not empty; restore into an empty one")
    staging = data_dir.with_name(data_dir.name + ".restoring")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        stage_restore(backup, manifest, config, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if data_dir.exists():
        data_dir.rmdir()
    staging.rename(data_dir)


def cmd_restore(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        restore(args.from_dir, config)
    except (BackupError, ConfigError, StorageError, OSError, KeyError) as e:
        print(f"govchain: restore refused: {e}", file=sys.stderr)
        return 1
    print(f"restored {args.from_dir} into {config.data_dir}; start the node to catch up")
    return 0


def add_backup_parsers(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="back up a running node (channels, sidecar, config)")
    b.add_argument("--config", type=Path, required=True, help="the node's config")
    b.add_argument("--out", type=Path, required=True, help="a new (or empty) directory")
    b.add_argument("--with-keys", action="store_true", help="copy the key files too")
    b.add_argument("--node", help="the node's address (default: from the config's listen)")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser("restore", help="restore a backup into an empty data dir")
    r.add_argument("--from", dest="from_dir", type=Path, required=True, help="the backup")
    r.add_argument("--config", type=Path, required=True, help="the node's config")
    r.set_defaults(func=cmd_restore)
