"""govchain's own data beside a department's records, never written into the department's
tables (its schema and its backups stay its own):

- `salts`: the salt behind each item's commitment, by chain license id (sealed);
- `rows`: per department row (license type, a keyed hash of the department's own key), which chain
  license stands for it now, that license's status and content as anchored, and the
  fingerprint of the last row version the watcher finished with (so an unchanged row
  costs one comparison per scan);
- `anchored`: per chain license id anchored from the source, which row it stands for
  (its key sealed; the pull path reads the value behind a chain id through this);
- `intents`: the watcher's journal. An intent holds the exact signed tx bytes of one
  change, written (with the salts of a new license) before the tx is submitted, and
  removed in the same transaction that records its committed result. After a crash the
  watcher finds each open intent and either sees it committed or submits the same bytes
  again: the chain admits one tx id once, so nothing is anchored twice and nothing is lost.

It is one SQLite file in the node's data dir, in WAL mode so the node reads salts while the
watcher (another process) writes. Salts and row keys are sealed under the file's own
random data key, which is kept in the file wrapped under a key derived from the
department's key (sources/sealing.py): without that key the file opens nothing, and a
department key rotation only rewraps the data key (`Sidecar.rewrap`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sources.sealing import PlainSealer, Sealer, SealingError

DEK_BOUND = b"govchain-sidecar data key"

SCHEMA = """
CREATE TABLE IF NOT EXISTS salts (
    license_id TEXT NOT NULL,
    item TEXT NOT NULL,
    salt BLOB NOT NULL,
    PRIMARY KEY (license_id, item)
);
CREATE TABLE IF NOT EXISTS progress (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    type_code TEXT NOT NULL,
    source_key TEXT NOT NULL,
    license_id TEXT,
    chain_status TEXT,
    content BLOB,
    valid_until_ms INTEGER NOT NULL DEFAULT 0,
    seen BLOB,
    note TEXT,
    PRIMARY KEY (type_code, source_key)
);
CREATE TABLE IF NOT EXISTS anchored (
    license_id TEXT PRIMARY KEY,
    type_code TEXT NOT NULL,
    source_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    tx_id BLOB PRIMARY KEY,
    type_code TEXT NOT NULL,
    source_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    license_id TEXT NOT NULL,
    chain_status TEXT NOT NULL,
    content BLOB NOT NULL,
    valid_until_ms INTEGER NOT NULL,
    seen BLOB NOT NULL,
    tx BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class RowState:
    """What the sidecar knows of one department row."""

    license_id: str | None  # the chain license standing for it now (None: never anchored)
    chain_status: str | None  # that license's status as this watcher last set it
    content: bytes | None  # the content fingerprint that license commits to
    valid_until_ms: int
    seen: bytes | None  # fingerprint of the last row version fully handled


@dataclass(frozen=True)
class Anchored:
    type_code: str
    source_key: str


@dataclass(frozen=True)
class Intent:
    """One journaled change: the signed tx and what the row's state becomes once it
    commits (`kind`: anchor, supersede or set_status)."""

    tx_id: bytes
    type_code: str
    source_key: str
    kind: str
    license_id: str
    chain_status: str
    content: bytes
    valid_until_ms: int
    seen: bytes  # the fingerprint of the row version this change was planned from
    tx: bytes


class SidecarError(ValueError):
    """A sidecar that cannot be used with the key given (sealed under another key, or
    written in plaintext and now opened with a key)."""


class Sidecar:
    """Salts, row states, the license-id index and the watcher's journal."""

    def __init__(self, path: Path, sealer: Sealer | PlainSealer | None = None) -> None:
        self.sealer = sealer or PlainSealer()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._check_sealing(path)

    def _check_sealing(self, path: Path) -> None:
        """Unwrap the file's data key with the key given (or make one for a new file)."""
        kek = self.sealer
        with self._transaction() as db:
            row = db.execute("SELECT value FROM progress WHERE name = 'dek'").fetchone()
            plain = db.execute("SELECT 1 FROM progress WHERE name = 'plain'").fetchone()
            used = db.execute("SELECT COUNT(*) FROM salts").fetchone()[0]
            if row is None and not plain and not used:  # a new file: sealed iff given a key
                if isinstance(kek, Sealer):
                    row = (kek.seal(os.urandom(32), DEK_BOUND),)
                    db.execute("INSERT INTO progress (name, value) VALUES ('dek', ?)", row)
                else:
                    db.execute("INSERT INTO progress (name, value) VALUES ('plain', x'01')")
        if row is None:
            if isinstance(kek, Sealer):
                raise SidecarError(f"{path}: its salts are in plaintext; a key cannot read them")
            return
        if not isinstance(kek, Sealer):
            raise SidecarError(f"{path}: its salts are sealed; give the department key")
        try:
            self.sealer = Sealer(kek.open(bytes(row[0]), DEK_BOUND))
        except SealingError:
            raise SidecarError(
                f"{path}: its salts are sealed under another department key"
            ) from None

    def rewrap(self, new_kek: Sealer) -> None:
        """Seal the file's data key under a new key (after a department key rotation):
        the salts stay as they are, only the wrapping of their key changes."""
        if not isinstance(self.sealer, Sealer):
            raise SidecarError("a plaintext sidecar has no data key to rewrap")
        wrapped = new_kek.seal(self.sealer.key_bytes(), DEK_BOUND)
        with self._transaction() as db:
            db.execute("UPDATE progress SET value = ? WHERE name = 'dek'", (wrapped,))

    def ref(self, type_code: str, key: str) -> str:
        """How a department row is named in the sidecar (a keyed hash when sealed)."""
        return self.sealer.ref(type_code, key)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: a crash inside leaves the file as it was before."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- salts and the license-id index (the pull path reads these)

    def salt(self, license_id: str, item: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT salt FROM salts WHERE license_id = ? AND item = ?", (license_id, item)
            ).fetchone()
        if row is None:
            return None
        return self.sealer.open(bytes(row[0]), _bound(license_id, item))

    def anchored(self, license_id: str) -> Anchored | None:
        with self._lock:
            row = self._db.execute(
                "SELECT type_code, source_key FROM anchored WHERE license_id = ?", (license_id,)
            ).fetchone()
        if row is None:
            return None
        key = self.sealer.open(_blob_of(row[1]), _bound(license_id, "row"))
        return Anchored(row[0], key.decode())

    # ---- progress markers

    def progress(self, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM progress WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_progress(self, name: str, value: bytes) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO progress (name, value) VALUES (?, ?)", (name, value))

    # ---- the watcher's view of the department's rows

    def row_states(self, type_code: str) -> dict[str, RowState]:
        """Every row of a type the sidecar knows, by the department's key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_key, license_id, chain_status, content, valid_until_ms, seen "
                "FROM rows WHERE type_code = ?",
                (type_code,),
            ).fetchall()
        return {r[0]: RowState(r[1], r[2], _blob(r[3]), r[4], _blob(r[5])) for r in rows}

    def mark_seen(self, type_code: str, seen: Iterable[tuple[str, bytes, str]]) -> None:
        """Record row versions handled with no (further) change on chain, with a note
        (why nothing was anchored, if so)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO rows (type_code, source_key, seen, note) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (type_code, source_key) DO UPDATE SET seen = excluded.seen, "
                "note = excluded.note",
                [(type_code, key, fp, note) for key, fp, note in seen],
            )

    # ---- the journal

    def counter(self, name: str) -> int:
        """A named counter's value (license-id serials), 0 if never set."""
        value = self.progress(name)
        return int(value) if value else 0

    def journal(
        self,
        intents: list[Intent],
        salts: dict[str, dict[str, bytes]],
        counters: dict[str, int] | None = None,
        rows: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Write intents, the salts of the licenses they create, which department row each
        new license stands for (`rows`: license id -> (type code, the row's own key)) and
        the counters their ids used, in one transaction, before the txs are submitted."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO anchored VALUES (?, ?, ?)",
                [
                    (lid, type_code, self.sealer.seal(key.encode(), _bound(lid, "row")))
                    for lid, (type_code, key) in (rows or {}).items()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO progress (name, value) VALUES (?, ?)",
                [(name, str(v).encode()) for name, v in (counters or {}).items()],
            )
            db.executemany(
                "INSERT INTO intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        i.tx_id,
                        i.type_code,
                        i.source_key,
                        i.kind,
                        i.license_id,
                        i.chain_status,
                        i.content,
                        i.valid_until_ms,
                        i.seen,
                        i.tx,
                    )
                    for i in intents
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO salts (license_id, item, salt) VALUES (?, ?, ?)",
                [
                    (lid, item, self.sealer.seal(salt, _bound(lid, item)))
                    for lid, by_item in salts.items()
                    for item, salt in by_item.items()
                ],
            )

    def open_intents(self) -> list[Intent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT tx_id, type_code, source_key, kind, license_id, chain_status, content, "
                "valid_until_ms, seen, tx FROM intents ORDER BY rowid"
            ).fetchall()
        return [
            Intent(bytes(r[0]), *r[1:6], bytes(r[6]), r[7], bytes(r[8]), bytes(r[9])) for r in rows
        ]

    def settle(self, committed: list[Intent], refused: list[tuple[Intent, str, bool]]) -> None:
        """Close intents in one transaction: a committed one moves its row to the state it
        names; a refused one (with a note) leaves the row as it was, and marks that row
        version seen unless `retry` (the next scan plans it again)."""
        with self._transaction() as db:
            for i in committed:
                db.execute(
                    "INSERT INTO rows (type_code, source_key, license_id, chain_status, content,"
                    " valid_until_ms, note) VALUES (?, ?, ?, ?, ?, ?, NULL) "
                    "ON CONFLICT (type_code, source_key) DO UPDATE SET "
                    "license_id = excluded.license_id, chain_status = excluded.chain_status, "
                    "content = excluded.content, valid_until_ms = excluded.valid_until_ms, "
                    "note = NULL",
                    (
                        i.type_code,
                        i.source_key,
                        i.license_id,
                        i.chain_status,
                        i.content,
                        i.valid_until_ms,
                    ),
                )
            for i, note, retry in refused:
                db.execute(
                    "INSERT INTO rows (type_code, source_key, seen, note) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (type_code, source_key) DO UPDATE SET seen = excluded.seen, "
                    "note = excluded.note",
                    (i.type_code, i.source_key, None if retry else i.seen, note),
                )
            db.executemany(
                "DELETE FROM intents WHERE tx_id = ?",
                [(i.tx_id,) for i in committed] + [(i.tx_id,) for i, _, _ in refused],
            )

    def summary(self) -> dict[str, object]:
        """Counts for `govchain source status`: rows by chain status, notes, open intents."""
        with self._lock:
            by_status = self._db.execute(
                "SELECT type_code, COALESCE(chain_status, 'not anchored'), COUNT(*) FROM rows "
                "GROUP BY 1, 2"
            ).fetchall()
            notes = self._db.execute(
                "SELECT note, COUNT(*) FROM rows WHERE note IS NOT NULL GROUP BY 1"
            ).fetchall()
            (licenses,) = self._db.execute("SELECT COUNT(*) FROM anchored").fetchone()
            (intents,) = self._db.execute("SELECT COUNT(*) FROM intents").fetchone()
        rows: dict[str, dict[str, int]] = {}
        for type_code, status, count in by_status:
            rows.setdefault(type_code, {})[status] = count
        last = self.progress("watch:last_pass")
        return {
            "rows": rows,
            "notes": dict(notes),
            "licenses_anchored": licenses,
            "open_intents": intents,
            "last_pass": None if last is None else json.loads(last),
        }


def _bound(license_id: str, what: str) -> bytes:
    """What a sealed value is bound to: its license id and item code (or "row")."""
    return f"{license_id}\x00{what}".encode()


def _blob_of(value: object) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]


def _blob(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[arg-type]
