"""The declarative mapping of a department's existing tables to license types.

One TOML file (`<data_dir>/source.toml`, docs/operations.md "Department data sources")
says, per license type, which table (or SELECT query) holds its licenses, which column
gives the department's own license key, the holder, the holder's ID number or credit code
(the subject), the status, the validity and each data item, and what each of the
department's status codes means on chain. The department's
schema stays as it is: govchain adapts to its names, never the other way round. Each bad
field is refused at load with its path (`licenses.BL.items.name: ...`), so a typo fails
the node's start, not a citizen's pull.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
DIALECTS = ("sqlite", "postgresql")
RECORD_FIELDS = ("id", "holder", "subject", "status", "valid_until")
OPTIONAL_FIELDS = ("valid_from",)
# what a department status code may mean on chain (chains/license.py's statuses)
CHAIN_STATUSES = ("VALID", "SUSPENDED", "REVOKED", "CANCELLED", "EXPIRED")
DEFAULT_TIMEZONE = "Asia/Shanghai"


class MappingError(ValueError):
    """A source mapping that cannot be used, with the field at fault."""


@dataclass(frozen=True)
class LicenseMapping:
    """Where one license type's records live and which column is which."""

    type_code: str
    table: str | None
    schema: str | None
    query: str | None
    id: str  # the department's own key of the license (never shown on chain)
    holder: str
    subject: str  # the holder's ID number or unified social credit code
    status: str
    valid_until: str
    valid_from: str | None
    items: dict[str, str]  # item code -> column
    statuses: dict[str, str]  # the department's status code -> chain status name

    def columns(self) -> list[str]:
        """Every column the adapter reads, each once, in a stable order."""
        named = [self.id, self.holder, self.subject, self.status, self.valid_until]
        named += [self.valid_from] if self.valid_from else []
        return sorted(set(named) | set(self.items.values()))


@dataclass(frozen=True)
class SourceMapping:
    database: str  # an SQLAlchemy URL
    licenses: dict[str, LicenseMapping]
    timezone: str = DEFAULT_TIMEZONE  # how dates without a zone are read (validity)


def _text(table: dict, key: str, where: str, pattern: re.Pattern | None = None) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where}{key}: required, a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise MappingError(f"{where}{key}: {value!r} is not a plain column or table name")
    return value


def _license(code: str, spec: object) -> LicenseMapping:
    where = f"licenses.{code}."
    if not CODE.match(code):
        raise MappingError(f"licenses.{code}: not a license type code")
    if not isinstance(spec, dict):
        raise MappingError(f"licenses.{code}: must be a table")
    known = {"table", "schema", "query", "items", "statuses", *RECORD_FIELDS, *OPTIONAL_FIELDS}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise MappingError(
            f"{where}{unknown[0]}: unknown field (known: {', '.join(sorted(known))})"
        )
    if ("table" in spec) == ("query" in spec):
        raise MappingError(f"{where}table: give exactly one of table or query")
    table = _text(spec, "table", where, COLUMN) if "table" in spec else None
    schema = _text(spec, "schema", where, COLUMN) if "schema" in spec else None
    query = _text(spec, "query", where) if "query" in spec else None
    if query is not None and query.split(None, 1)[0].upper() not in ("SELECT", "WITH"):
        raise MappingError(f"{where}query: must be a SELECT (the adapter only reads)")
    if schema is not None and table is None:
        raise MappingError(f"{where}schema: only with table")
    columns = {f: _text(spec, f, where, COLUMN) for f in RECORD_FIELDS}
    valid_from = _text(spec, "valid_from", where, COLUMN) if "valid_from" in spec else None
    items = spec.get("items")
    if not isinstance(items, dict) or not items:
        raise MappingError(f"{where}items: required, a table of item code = column")
    for item in items:
        if not CODE.match(item):
            raise MappingError(f"{where}items.{item}: not an item code")
        _text(items, item, f"{where}items.", COLUMN)
    return LicenseMapping(
        code,
        table,
        schema,
        query,
        valid_from=valid_from,
        items=dict(items),
        statuses=_statuses(spec.get("statuses"), f"{where}statuses"),
        **columns,
    )


def _statuses(table: object, where: str) -> dict[str, str]:
    """The department's status codes and what each means on chain: a row whose code is
    not listed is not anchored (the watcher counts and logs it), never guessed."""
    if not isinstance(table, dict) or not table:
        raise MappingError(f"{where}: required, a table of status code = chain status")
    for code, meaning in table.items():
        if meaning not in CHAIN_STATUSES:
            raise MappingError(
                f"{where}.{code}: {meaning!r} is not one of {', '.join(CHAIN_STATUSES)}"
            )
    if "VALID" not in table.values():
        raise MappingError(f"{where}: no code means VALID, so nothing would be anchored")
    return dict(table)


def parse_mapping(text: str) -> SourceMapping:
    """A mapping from its TOML text; MappingError names the first bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingError(f"not TOML: {e}") from None
    unknown = sorted(set(data) - {"database", "licenses", "timezone"})
    if unknown:
        raise MappingError(f"{unknown[0]}: unknown field (known: database, licenses, timezone)")
    timezone = data.get("timezone", DEFAULT_TIMEZONE)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise MappingError(f"timezone: {timezone!r} is not an IANA time zone") from None
    database = _text(data, "database", "")
    dialect = database.split(":", 1)[0].split("+", 1)[0]
    if dialect not in DIALECTS:
        raise MappingError(f"database: {dialect!r} is not one of {', '.join(DIALECTS)}")
    licenses = data.get("licenses")
    if not isinstance(licenses, dict) or not licenses:
        raise MappingError("licenses: required, one table per license type")
    return SourceMapping(database, {c: _license(c, s) for c, s in licenses.items()}, timezone)


def load_mapping(path: Path) -> SourceMapping:
    try:
        return parse_mapping(path.read_text())
    except MappingError as e:
        raise MappingError(f"{path}: {e}") from None
