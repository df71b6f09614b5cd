"""SqlSource over a department's own tables, the same suite on SQLite and on a real
PostgreSQL server (bench/postgres.py): the mapping of docs/operations.md's worked example, the
lookups, a write refused by the database itself, and a value changed since anchoring."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.anchoring import T_YYZZ
from bench.postgres import PgServer, pg_server
from chains.privacy import commit_item
from sources.mapping import SourceMapping, parse_mapping
from sources.sidecar import Sidecar
from sources.sql import SqlSource
from tests.source_rows import anchor_row

ROOT = Path(__file__).resolve().parents[2]
LICENSE = "91330100MA27XYZ12K"
SCHEMA = T_YYZZ  # market regulation's own table (bench/anchoring.py)
ROWS = f"""
INSERT INTO t_yyzz VALUES
  ('{LICENSE}', '杭州绿野农资有限公司', '王建国', 1000000, '1', '2046-05-01'),
  ('91330100MA27OTHER1', '另一家公司', NULL, 500000, '1', '2030-01-01')"""


def doc_example() -> str:
    """The TOML of docs/operations.md's worked example, verbatim."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Department data sources", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def example_mapping(url: str) -> SourceMapping:
    toml = re.sub(r'(?m)^database = ".*"$', f'database = "{url}"', doc_example())
    return parse_mapping(toml)


@dataclass
class Department:
    """A department's database: the URL the node reads with, and its own admin's SQL."""

    url: str
    admin: Callable[[str], None]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PgServer]:
    with pg_server() as server:
        server.psql(SCHEMA)
        server.psql(ROWS)
        server.psql("CREATE ROLE govchain_reader LOGIN")
        server.psql("GRANT SELECT ON t_yyzz TO govchain_reader")
        yield server


def _sqlite(tmp_path: Path) -> Department:
    path = tmp_path / "scjg.db"

    def admin(sql: str) -> None:
        with sqlite3.connect(path) as db:
            db.execute(sql)

    admin(SCHEMA)
    admin(ROWS)
    return Department(f"sqlite:///{path}", admin)


@pytest.fixture(params=["sqlite", "postgresql"])
def department(request, tmp_path: Path) -> Iterator[Department]:
    if request.param == "sqlite":
        yield _sqlite(tmp_path)
        return
    server: PgServer = request.getfixturevalue("postgres")
    yield Department(server.url("govchain_reader"), server.psql)
    server.psql(f"UPDATE t_yyzz SET fddbr = '王建国' WHERE tyshxydm = '{LICENSE}'")


@pytest.fixture
def source(department: Department, tmp_path: Path) -> Iterator[SqlSource]:
    sidecar = Sidecar(tmp_path / "sidecar.sqlite")
    src = SqlSource(example_mapping(department.url), sidecar)
    yield src
    src.close()
    sidecar.close()


def test_the_worked_example_maps_the_business_license_table() -> None:
    lic = example_mapping("sqlite:////tmp/x.db").licenses["BL"]
    assert (lic.table, lic.id, lic.holder, lic.status, lic.valid_until) == (
        "t_yyzz",
        "tyshxydm",
        "qymc",
        "djzt",
        "yxqz",
    )
    assert lic.items == {"name": "qymc", "legal_rep": "fddbr", "capital": "zczb"}


def test_the_record_reads_the_departments_own_columns(source: SqlSource) -> None:
    record = source.record("BL", LICENSE)
    assert record.holder == "杭州绿野农资有限公司" and record.status == "1"
    assert str(record.valid_until).startswith("2046-05-01")
    assert record.items["legal_rep"] == "王建国".encode()
    assert source.record("BL", "91330100MA27NOPE00") is None


def commitments_of(lic) -> dict[str, bytes]:
    return {c.code: c.commitment for c in lic.items}


def test_lookups_return_anchored_values_that_match_their_commitments(source: SqlSource) -> None:
    lic = anchor_row(source, "BL", LICENSE)
    assert source.lookup(LICENSE, "name") is None, "the department's key is not a chain id"
    commitments = commitments_of(lic)
    assert set(commitments) == {"name", "legal_rep", "capital"}
    for code, commitment in commitments.items():
        salt, value = source.lookup(lic.license_id, code)
        assert commit_item(salt, code, value) == commitment
    assert source.lookup(lic.license_id, "name")[1] == "杭州绿野农资有限公司".encode()
    assert source.lookup("BL-market-regulation-2026-999999", "name") is None, "never anchored"


def test_a_null_column_is_not_served(source: SqlSource) -> None:
    lic = anchor_row(source, "BL", "91330100MA27OTHER1")
    assert "legal_rep" not in commitments_of(lic), "a NULL is not committed either"
    assert source.lookup(lic.license_id, "legal_rep") is None


def test_a_write_through_the_adapters_connection_fails(source: SqlSource) -> None:
    with pytest.raises(sa.exc.DBAPIError), source.connect() as conn:
        conn.exec_driver_sql(f"UPDATE t_yyzz SET qymc = 'x' WHERE tyshxydm = '{LICENSE}'")


def test_even_a_superuser_url_gets_a_read_only_transaction(postgres: PgServer, tmp_path) -> None:
    """The read-only transaction holds on its own, not only through the role's grants."""
    src = SqlSource(example_mapping(postgres.url("postgres")), Sidecar(tmp_path / "s.sqlite"))
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), src.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t_govchain (x INT)")
    src.close()


def test_a_value_changed_after_anchoring_no_longer_matches(
    source: SqlSource, department: Department
) -> None:
    lic = anchor_row(source, "BL", LICENSE)
    department.admin(f"UPDATE t_yyzz SET fddbr = '李四' WHERE tyshxydm = '{LICENSE}'")
    salt, value = source.lookup(lic.license_id, "legal_rep")
    assert value == "李四".encode()
    assert commit_item(salt, "legal_rep", value) != commitments_of(lic)["legal_rep"]


def test_a_query_mapping_reads_what_its_select_gives(
    department: Department, tmp_path: Path
) -> None:
    """`query =` instead of `table =`: the department's own SELECT (here only registered
    companies, status 1) is what is read,
    scanned and looked up, on SQLite and PostgreSQL alike."""
    query = "SELECT tyshxydm, qymc, fddbr, zczb, djzt, yxqz FROM t_yyzz WHERE djzt = '1'"
    toml = doc_example().replace('table = "t_yyzz"', f'query = "{query}"')
    toml = re.sub(r'(?m)^database = ".*"$', f'database = "{department.url}"', toml)
    department.admin("UPDATE t_yyzz SET djzt = '3' WHERE tyshxydm = '91330100MA27OTHER1'")
    src = SqlSource(parse_mapping(toml), Sidecar(tmp_path / "q.sqlite"))
    try:
        assert [r.key for r in src.scan("BL")] == [LICENSE], "the WHERE of the query holds"
        assert src.record("BL", "91330100MA27OTHER1") is None
        lic = anchor_row(src, "BL", LICENSE)
        assert src.lookup(lic.license_id, "name")[1] == "杭州绿野农资有限公司".encode()
    finally:
        src.close()
        department.admin("UPDATE t_yyzz SET djzt = '1' WHERE tyshxydm = '91330100MA27OTHER1'")
