"""govchain's own data beside a department's records: the salt behind each item's
commitment (and, later, a watcher's progress), never written into the department's
tables (its schema and its backups stay its own).

It lives in one small SQLite file in the node's data dir. Everything goes through
`Sidecar`'s few methods, with values as opaque bytes, so encrypting it at rest later is a
small step: seal each blob on its way in (`put_salts`, `set_progress`) and open it on its
way out (`salt`, `progress`) under a key the node holds; no caller changes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS salts (
    license_id TEXT NOT NULL,
    item TEXT NOT NULL,
    salt BLOB NOT NULL,
    PRIMARY KEY (license_id, item)
);
CREATE TABLE IF NOT EXISTS progress (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


class Sidecar:
    """Salts by (license id, item code), and named progress markers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def salt(self, license_id: str, item: str) -> bytes | None:
        row = self._db.execute(
            "SELECT salt FROM salts WHERE license_id = ? AND item = ?", (license_id, item)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def put_salts(self, license_id: str, salts: dict[str, bytes]) -> None:
        """Record a license's salts in one transaction (all or none)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO salts (license_id, item, salt) VALUES (?, ?, ?)",
                [(license_id, item, salt) for item, salt in salts.items()],
            )

    def progress(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM progress WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_progress(self, name: str, value: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO progress (name, value) VALUES (?, ?)", (name, value)
        )
