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


@dataclass(frozen=True)
class LicenseRecord:
    """One license as the department's records hold it now."""

    type_code: str
    license_id: str
    holder: str
    status: str
    valid_until: object  # as the database returns it (a date, a timestamp, text)
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
    columns = {m.id, m.holder, m.status, m.valid_until, *m.items.values()}
    if m.query is not None:
        return sa.text(m.query).columns(*[sa.column(c) for c in sorted(columns)]).subquery("src")
    return sa.table(m.table, *[sa.column(c) for c in sorted(columns)], schema=m.schema)


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

    def _row(self, type_code: str, license_id: str) -> sa.RowMapping | None:
        m = self.mapping.licenses[type_code]
        src = self._sources[type_code]
        query = sa.select(src).where(src.c[m.id] == license_id).limit(2)
        with self.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if len(rows) > 1:
            raise LookupError(f"{type_code} {license_id}: more than one row in the source")
        return rows[0] if rows else None

    def record(self, type_code: str, license_id: str) -> LicenseRecord | None:
        """The license as the source holds it now (None if it holds no such license)."""
        if not LICENSE_ID.match(license_id):
            raise ValueError(f"not a license id: {license_id!r}")
        row = self._row(type_code, license_id)
        if row is None:
            return None
        m = self.mapping.licenses[type_code]
        items = {code: value_bytes(row[col]) for code, col in m.items.items()}
        return LicenseRecord(
            type_code=type_code,
            license_id=str(row[m.id]),
            holder=str(row[m.holder]),
            status=str(row[m.status]),
            valid_until=row[m.valid_until],
            items={code: v for code, v in items.items() if v is not None},
        )

    def lookup(self, license_id: str, item: str) -> tuple[bytes, bytes] | None:
        """(salt, current value): the salt from the sidecar (None if never anchored), the
        value from the department's table as it is now, so a changed record shows as a
        mismatch with its commitment, never as a silently different release."""
        salt = self.sidecar.salt(license_id, item) if LICENSE_ID.match(license_id) else None
        if salt is None:
            return None
        for type_code, m in self.mapping.licenses.items():
            if item not in m.items:
                continue
            row = self._row(type_code, license_id)
            value = None if row is None else value_bytes(row[m.items[item]])
            if value is not None:
                return salt, value
        return None
