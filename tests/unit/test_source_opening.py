"""A node's source follows `<data_dir>/source.toml` without a restart: the embedded files
until a mapping appears, the department's database after, and a mapping that turns bad
fails lookups (with the reason kept) instead of serving from a stale adapter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sources.embedded import EmbeddedSource
from sources.mapping import MappingError
from sources.opening import ConfiguredSource, open_source
from sources.sidecar import Sidecar
from sources.sql import SqlSource
from tests.source_rows import anchor_row
from tests.unit.test_sql_source import LICENSE, _sqlite, doc_example, example_mapping


def write(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime per version


def test_a_mapping_is_picked_up_changed_and_refused_while_running(tmp_path: Path) -> None:
    department = _sqlite(tmp_path)
    EmbeddedSource(tmp_path / "source").put("L-1", {"name": (bytes(16), b"embedded")})
    source = open_source(tmp_path)
    assert source.lookup("L-1", "name") == (bytes(16), b"embedded")

    toml = doc_example().replace(
        'database = "postgresql+psycopg://govchain_reader@db.scjg.internal/scjg"',
        f'database = "{department.url}"',
    )
    write(tmp_path / "source.toml", toml, 1)
    sql = SqlSource(example_mapping(department.url), Sidecar(tmp_path / "sidecar.sqlite"))
    lic = anchor_row(sql, "BL", LICENSE)
    assert source.lookup(lic.license_id, "name")[1] == "杭州绿野农资有限公司".encode()
    assert source.lookup("L-1", "name") is None, "the embedded files are no longer read"

    write(tmp_path / "source.toml", toml.replace('id = "tyshxydm"\n', ""), 2)
    assert source.lookup(lic.license_id, "name") is None
    assert "licenses.BL.id: required" in source.error

    write(tmp_path / "source.toml", toml, 3)
    assert source.lookup(lic.license_id, "name") is not None and source.error is None
    sql.close()


def test_a_bad_mapping_at_start_raises(tmp_path: Path) -> None:
    (tmp_path / "source.toml").write_text('database = "oracle://x"\n')
    with pytest.raises(MappingError, match="database: 'oracle'"):
        ConfiguredSource(tmp_path)
