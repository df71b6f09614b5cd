"""`govchain restore` checks a backup against its manifest before anything lands in the
data dir (cli/backup.py): an altered entry, an altered manifest, an altered sidecar,
another node's backup or a data dir in use are refused with a message saying which."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.backup import take_backup
from cli.main import main as cli
from node.backup import read_chunks
from node.config import load_config
from protos import api_pb2 as api
from protos import storage_pb2
from storage.ledger import TIP_KEY
from storage.stores import ContentsDigest, LevelDBStore, MemoryStore


class SnapshotStub:
    """The Admin service's stream, from a store in this process (no node)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def Backup(self, request: api.BackupRequest) -> Iterator[api.BackupChunk]:
        with self.store.snapshot() as snap:
            tip = storage_pb2.Tip.FromString(snap.get(TIP_KEY) or b"")
            yield api.BackupChunk(height=tip.height, tip_hash=tip.hash)
            digest = ContentsDigest()
            yield from read_chunks(snap.iterate(b""), 300, digest)
            sha = bytes.fromhex(digest.hexdigest())
            yield api.BackupChunk(done=True, key_count=digest.key_count, contents_sha256=sha)


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Path, Path]:
    """(config of a one-node testnet with a sidecar, a backup of it); its data dir empty."""
    net = tmp_path / "net"
    args = ["testnet", "init", "--validators", "1", "--channels", "license", "--insecure"]
    assert cli([*args, "--out", str(net)]) == 0
    (config_path,) = net.glob("*/config.toml")
    config = load_config(config_path)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(config.data_dir / "sidecar.sqlite") as db:
        db.execute("CREATE TABLE salts (item TEXT, salt BLOB)")
        db.execute("INSERT INTO salts VALUES ('name', x'00ff')")
    db.close()
    store = MemoryStore()
    tip = storage_pb2.Tip(height=3, hash=b"\x03" * 32, state_root=bytes(32))
    store.write(
        [(TIP_KEY, tip.SerializeToString()), *((b"s:%d" % i, b"v%d" % i) for i in range(40))]
    )
    take_backup(config_path, tmp_path / "backup", SnapshotStub(store), with_keys=False)
    for path in sorted(config.data_dir.iterdir()):
        path.unlink()
    return config_path, tmp_path / "backup"


def restore(config: Path, backup: Path) -> int:
    return cli(["restore", "--from", str(backup), "--config", str(config)])


def test_an_intact_backup_restores_every_file_and_entry(backed_up) -> None:
    config_path, backup = backed_up
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["channels"][0]["key_count"] == 41 and manifest["channels"][0]["height"] == 3
    assert not any(name.endswith(".key") for name in manifest["config_files"])
    assert restore(config_path, backup) == 0
    data_dir = load_config(config_path).data_dir
    store = LevelDBStore(data_dir / "license")
    assert store.get(b"s:7") == b"v7"
    store.close()
    with sqlite3.connect(data_dir / "sidecar.sqlite") as db:
        assert db.execute("SELECT salt FROM salts").fetchall() == [(b"\x00\xff",)]
    db.close()


def _alter_entry(backup: Path) -> None:
    store = LevelDBStore(backup / "channels" / "license")
    store.write([(b"s:7", b"forged")])
    store.close()


def _alter_height(backup: Path) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["channels"][0]["height"] = 99
    (backup / "manifest.json").write_text(json.dumps(manifest))


def _alter_sidecar(backup: Path) -> None:
    with sqlite3.connect(backup / "data" / "sidecar.sqlite") as db:
        db.execute("UPDATE salts SET salt = x'0000'")
    db.close()


@pytest.mark.parametrize(
    ("alter", "says"),
    [
        (_alter_entry, "contents_sha256"),
        (_alter_height, "height is 3, its manifest says 99"),
        (_alter_sidecar, "sidecar.sqlite: missing or altered"),
    ],
)
def test_an_altered_backup_is_refused_and_nothing_is_restored(
    backed_up, alter, says, capsys
) -> None:
    config_path, backup = backed_up
    alter(backup)
    assert restore(config_path, backup) == 1
    err = capsys.readouterr().err
    assert "restore refused" in err and says in err, err
    data_dir = load_config(config_path).data_dir
    assert (
        not list(data_dir.iterdir())
        and not data_dir.with_name(data_dir.name + ".restoring").exists()
    )


def test_another_nodes_backup_or_a_data_dir_in_use_is_refused(backed_up, capsys) -> None:
    config_path, backup = backed_up
    manifest = json.loads((backup / "manifest.json").read_text())
    (backup / "manifest.json").write_text(json.dumps({**manifest, "node_id": "someone-else"}))
    assert restore(config_path, backup) == 1
    assert "restore a node from its own backup" in capsys.readouterr().err
    (backup / "manifest.json").write_text(json.dumps(manifest))
    (load_config(config_path).data_dir / "license").mkdir()
    assert restore(config_path, backup) == 1
    assert "the data dir is not empty" in capsys.readouterr().err
