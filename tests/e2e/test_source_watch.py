"""`govchain source watch` as its own process over a real testnet: market regulation's
licenses live in its own SQLite table (its names, not ours); the watcher anchors new rows,
supersedes changed ones, follows status codes and removals, and survives kill -9 in the
middle of a backlog with every row anchored exactly once."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.anchoring import DEPARTMENT, MAPPING, T_YYZZ
from chains.privacy import commit_item, subject_ref
from cli.main import main as cli
from client.connection import load_signing_key
from client.state import ChainState, committed_payloads
from demo.specs import SPECS
from demo.story import Demo
from node.config import load_config
from protos import government_pb2 as government
from sources.mapping import load_mapping
from sources.sealing import Sealer, sealing_key
from sources.sidecar import Sidecar
from sources.sql import SqlSource
from tests.e2e.harness import ROOT, Testnet, wait_for


@dataclass
class Watched:
    net: Testnet
    db: Path
    config: Path
    subject_key: bytes
    chain: ChainState

    def sql(self, statement: str, rows: list[tuple] | None = None) -> None:
        """The department's own system writing to its own table."""
        with sqlite3.connect(self.db) as conn:
            if rows is None:
                conn.execute(statement)
            else:
                conn.executemany(statement, rows)

    def watch(self, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "source",
                "watch",
                "--config",
                str(self.config),
                "--subject-key",
                str(self.net.root / "keys" / "subject.key"),
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def watch_once(self) -> str:
        proc = self.watch("--once", "--interval", "0.2")
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out.decode()
        return out.decode()

    def licenses(self, uscc: str) -> list[government.License]:
        return self.chain.licenses_of(subject_ref(self.subject_key, uscc), "BL01")

    def status(self) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "cli.main", "source", "status", "--config", str(self.config)],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        return json.loads(out)


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("watch")
    net = Testnet(
        tmp / "net", app="government", view_change_timeout_ticks=20, status_interval_ticks=5
    )
    db = tmp / "scjg.db"
    with sqlite3.connect(db) as conn:
        conn.execute(T_YYZZ)
    config = net.root / DEPARTMENT / "config.toml"
    data_dir = net.configs[net.dirs.index(config.parent)].data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "source.toml").write_text(MAPPING.format(url=f"sqlite:///{db}"))
    net.start_all()
    try:
        Demo(net.root, out=io.StringIO()).publish_license_type(SPECS[0])
        key = bytes.fromhex((net.root / "keys" / "subject.key").read_text().strip())
        i = net.dirs.index(config.parent)
        yield Watched(net, db, config, key, ChainState.connect(net.address(i), net.tls))
    finally:
        net.stop_all()


def uscc(n: int) -> str:
    return f"91110108MA{n:08d}"


def test_rows_are_anchored_superseded_revoked_and_cancelled_as_they_change(
    watched: Watched,
) -> None:
    w = watched
    w.sql(
        "INSERT INTO t_yyzz VALUES (?, ?, ?, ?, ?, ?)",
        [
            (uscc(1), "一号公司", "张三", 1000000, "1", "2040-01-01"),
            (uscc(2), "二号公司", None, 500000, "1", None),
            (uscc(3), "三号公司", "李四", 10, "3", "2040-01-01"),  # revoked before anchoring
            (uscc(4), "四号公司", "王五", 10, "1", "2001-01-01"),  # long expired
            (uscc(5), "五号公司", "赵六", 10, "1", "2040-01-01"),
        ],
    )
    w.watch_once()
    (one,) = w.licenses(uscc(1))
    (two,) = w.licenses(uscc(2))
    assert w.licenses(uscc(3)) == [] and w.licenses(uscc(4)) == []
    assert [c.code for c in two.items] == ["name", "uscc", "capital"], "NULL: not committed"

    # the node (another process) serves the watcher's licenses from the same sidecar
    source = SqlSource(_mapping(w), _sidecar(w))
    salt, value = source.lookup(one.license_id, "capital")
    assert value == b"1000000", "SQLite keeps a whole NUMERIC as an integer"
    assert (
        commit_item(salt, "capital", value) == {c.code: c.commitment for c in one.items}["capital"]
    )

    w.sql(f"UPDATE t_yyzz SET zczb = 2000000 WHERE tyshxydm = '{uscc(1)}'")
    w.sql(f"UPDATE t_yyzz SET djzt = '2' WHERE tyshxydm = '{uscc(2)}'")
    w.sql(f"DELETE FROM t_yyzz WHERE tyshxydm = '{uscc(5)}'")
    w.watch_once()
    old, new = w.licenses(uscc(1))
    assert (old.license_id, old.status, old.superseded_by) == (
        one.license_id,
        government.CANCELLED,
        new.license_id,
    )
    assert new.status == government.VALID
    assert source.lookup(new.license_id, "capital")[1] == b"2000000"
    assert [lic.status for lic in w.licenses(uscc(2))] == [government.SUSPENDED]
    assert [lic.status for lic in w.licenses(uscc(5))] == [government.CANCELLED]

    w.sql(f"UPDATE t_yyzz SET djzt = '3' WHERE tyshxydm = '{uscc(1)}'")
    w.watch_once()
    assert w.licenses(uscc(1))[-1].status == government.REVOKED
    status = w.status()
    assert status["open_intents"] == 0
    assert status["rows"]["BL01"]["REVOKED"] == 1
    last = status["last_pass"]  # --once ends on a pass with nothing left to do
    assert (last["rows"], last["changes"], last["refused"]) == (4, {}, 0)
    assert last["not_anchored"] == {}, "rows already handled are not counted again"
    source.close()


def _sidecar(w: Watched) -> Sidecar:
    data_dir = w.net.configs[w.net.dirs.index(w.config.parent)].data_dir
    config = w.net.configs[w.net.dirs.index(w.config.parent)]
    key = load_signing_key(config.department_key_file)
    return Sidecar(data_dir / "sidecar.sqlite", Sealer(sealing_key(key)))


def _mapping(w: Watched):
    data_dir = w.net.configs[w.net.dirs.index(w.config.parent)].data_dir
    return load_mapping(data_dir / "source.toml")


def test_a_watcher_killed_mid_backlog_anchors_every_row_exactly_once(watched: Watched) -> None:
    w = watched
    rows = range(1000, 4000)
    w.sql(
        "INSERT INTO t_yyzz VALUES (?, ?, ?, ?, ?, ?)",
        [(uscc(n), f"公司{n}", "法人", n, "1", "2040-01-01") for n in rows],
    )
    before = w.status()["licenses_anchored"]
    proc = w.watch("--window", "300", "--interval", "0.2")
    try:
        wait_for(lambda: w.status()["licenses_anchored"] >= before + 300, 120, "some anchored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    at_kill = w.status()
    assert before < at_kill["licenses_anchored"] < before + len(rows), "killed mid-backlog"
    assert at_kill["open_intents"] > 0, "killed with changes journaled but not settled"

    out = w.watch_once()
    assert "journal recovered" in out
    after = w.status()
    assert after["open_intents"] == 0
    assert after["licenses_anchored"] == before + len(rows)
    # every row anchored by exactly one committed tx (read block by block, not per row)
    stub = w.net.stub(w.net.dirs.index(w.config.parent))
    anchors = Counter(
        lic.subject_ref
        for lic in committed_payloads(stub, "license", "license.anchor", government.License)
    )
    counts = Counter(anchors[subject_ref(w.subject_key, uscc(n))] for n in rows)
    assert counts == {1: len(rows)}, f"rows by number of anchors: {dict(counts)}"
    for n in rows[:: len(rows) // 10]:
        assert [lic.status for lic in w.licenses(uscc(n))] == [government.VALID]


def test_after_a_department_key_rotation_rekey_rewraps_the_sidecar(watched: Watched) -> None:
    """`govchain source rekey`: the sidecar's data key moves from the old department key
    to the new one; the old key then opens nothing."""
    w = watched
    new_key = w.net.root / "keys" / "market-regulation.new.tx.key"
    assert cli(["keygen", "--out", str(new_key)]) == 0
    old_key = load_config(w.config).department_key_file
    rotated = w.config.with_name("config.rotated.toml")
    rotated.write_text(
        w.config.read_text().replace("market-regulation.tx.key", "market-regulation.new.tx.key")
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "cli.main", "source", *args]
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert run("status", "--config", str(rotated)).returncode == 2, "not rewrapped yet"
    done = run("rekey", "--config", str(rotated), "--old-key", str(old_key))
    assert done.returncode == 0, done.stderr
    assert json.loads(run("status", "--config", str(rotated)).stdout)["open_intents"] == 0
    refused = run("status", "--config", str(w.config))
    assert refused.returncode == 2 and "another department key" in refused.stderr
