"""`SqlSource`: a department's existing database, read-only, through SQLAlchemy Core.

The mapping (sources/mapping.py) names the tables and columns; this adapter builds only
SELECTs from it and runs them on a connection that cannot write either: SQLite is opened
with a `mode=ro` URI, PostgreSQL runs every transaction as `SET TRANSACTION READ ONLY`
(and a deployment gives the node a role with SELECT grants only, docs/operations.md).
The salts behind the commitments are govchain's own data, kept in the sidecar.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from sources.base import LICENSE_ID, value_bytes
from sources.mapping import LicenseMapping, SourceMapping
from sources.sidecar import Sidecar

SCAN_BATCH_ROWS = 2_000  # rows fetched per round trip while scanning a table


@dataclass(frozen=True)
class LicenseRecord:
    """One license as the department's records hold it now."""

    type_code: str
    key: str  # the department's own key of the license (its id column)
    holder: str
    subject: str  # the holder's ID number or credit code (hashed before it goes on chain)
    status: str  # the department's own status code
    valid_from: object  # as the database returns it (a date, a timestamp, text); or None
    valid_until: object
    items: dict[str, bytes]  # item code -> value bytes (items with NULL left out)


def read_only_engine(url: str) -> sa.Engine:
    """An engine whose connections refuse writes (the database's own check, not ours)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        parsed = parsed.set(database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        return sa.create_engine(parsed)
    engine = sa.create_engine(parsed, pool_pre_ping=True)

    @sa.event.listens_for(engine, "begin")
    def _read_only(conn: sa.Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _source(m: LicenseMapping) -> sa.FromClause:
    columns = [sa.column(c) for c in m.columns()]
    if m.query is not None:
        return sa.text(m.query).columns(*columns).subquery("src")
    return sa.table(m.table, *columns, schema=m.schema)


def _record(m: LicenseMapping, row: sa.RowMapping) -> LicenseRecord:
    items = {code: value_bytes(row[col]) for code, col in m.items.items()}
    return LicenseRecord(
        type_code=m.type_code,
        key=str(row[m.id]),
        holder=str(row[m.holder]),
        subject=str(row[m.subject] or ""),
        status=str(row[m.status]),
        valid_from=row[m.valid_from] if m.valid_from else None,
        valid_until=row[m.valid_until],
        items={code: v for code, v in items.items() if v is not None},
    )


class SqlSource:
    """Reads license records and item values from the department's own tables."""

    def __init__(self, mapping: SourceMapping, sidecar: Sidecar) -> None:
        self.mapping = mapping
        self.sidecar = sidecar
        self.engine = read_only_engine(mapping.database)
        self._sources = {code: _source(m) for code, m in mapping.licenses.items()}

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A read-only connection inside a transaction (rolled back: nothing to keep)."""
        with self.engine.connect() as conn, conn.begin() as tx:
            yield conn
            tx.rollback()

    def _row(self, type_code: str, key: str) -> sa.RowMapping | None:
        m = self.mapping.licenses[type_code]
        src = self._sources[type_code]
        query = sa.select(src).where(src.c[m.id] == key).limit(2)
        with self.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if len(rows) > 1:
            raise LookupError(f"{type_code}: more than one row in the source for one key")
        return rows[0] if rows else None

    def record(self, type_code: str, key: str) -> LicenseRecord | None:
        """The license the source keeps under its own key now (None if there is none)."""
        row = self._row(type_code, key)
        return None if row is None else _record(self.mapping.licenses[type_code], row)

    def scan(self, type_code: str) -> Iterator[LicenseRecord]:
        """Every license of a type as the source holds it now, streamed in batches (a
        table of 100,000 rows is never held as rows at once)."""
        m = self.mapping.licenses[type_code]
        src = self._sources[type_code]
        with self.connect() as conn:
            result = conn.execution_options(yield_per=SCAN_BATCH_ROWS).execute(sa.select(src))
            for row in result.mappings():
                yield _record(m, row)

    def lookup(self, license_id: str, item: str) -> tuple[bytes, bytes] | None:
        """(salt, current value) of an item of a license anchored from this source: the
        sidecar says which of the department's rows the chain's license id stands for
        and keeps the salt; the value is read from that row as it is now, so a changed
        record shows as a mismatch with its commitment, never as a silently different
        release."""
        if not LICENSE_ID.match(license_id):
            return None
        anchored = self.sidecar.anchored(license_id)
        salt = self.sidecar.salt(license_id, item)
        if anchored is None or salt is None:
            return None
        m = self.mapping.licenses.get(anchored.type_code)
        if m is None or item not in m.items:
            return None
        row = self._row(anchored.type_code, anchored.source_key)
        value = None if row is None else value_bytes(row[m.items[item]])
        return None if value is None else (salt, value)
