"""The source mapping refuses each bad field with its path (docs/operations.md)."""

from __future__ import annotations

import re

import pytest

from sources.mapping import MappingError, parse_mapping
from tests.unit.test_sql_source import doc_example

GOOD = doc_example()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('database = "postgresql+psycopg', 'database = "oracle', "database: 'oracle' is not one"),
        (
            'database = "postgresql+psycopg://govchain_reader@db.scjg.internal/scjg"',
            "",
            "database: required",
        ),
        ('table = "t_yyzz"', "", "licenses.BL.table: give exactly one of table or query"),
        ('table = "t_yyzz"', 'table = "t_yyzz"\nquery = "SELECT 1"', "exactly one"),
        ('table = "t_yyzz"', 'query = "DELETE FROM t_yyzz"', "licenses.BL.query: must be a SELECT"),
        ('table = "t_yyzz"', 'table = "t_yyzz; DROP"', "licenses.BL.table: 't_yyzz; DROP' is not"),
        ('id = "tyshxydm"', "", "licenses.BL.id: required"),
        ('holder = "qymc"', "holder = 3", "licenses.BL.holder: required, a non-empty string"),
        ('status = "djzt"', 'status = ""', "licenses.BL.status: required"),
        ('valid_until = "yxqz"', 'valid_untill = "yxqz"', "licenses.BL.valid_untill: unknown"),
        ('name = "qymc"', 'name = "qy mc"', "licenses.BL.items.name: 'qy mc' is not"),
        ("[licenses.BL]", "[licenses.'B L']", "licenses.B L: not a license type code"),
        ("[licenses.BL.items]\n", "[licenses.BL.nothing]\n", "licenses.BL.nothing: unknown"),
        ("[licenses.BL]", "[licenses.BL]\nschema = 'public'\nquery = 'SELECT 1'", "exactly one"),
        ("[licenses.BL]", "x = 1\n[licenses.BL]", "x: unknown field"),
    ],
)
def test_each_bad_field_is_named(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(MappingError, match=re.escape(message)):
        parse_mapping(GOOD.replace(old, new, 1))


def test_no_items_and_no_licenses_are_refused() -> None:
    items = GOOD.index("[licenses.BL.items]")
    with pytest.raises(MappingError, match=r"licenses\.BL\.items: required"):
        parse_mapping(GOOD[:items])
    with pytest.raises(MappingError, match="licenses: required"):
        parse_mapping('database = "sqlite:////x.db"\n')
    with pytest.raises(MappingError, match="not TOML"):
        parse_mapping("database = ")


def test_a_query_maps_like_a_table() -> None:
    text = GOOD.replace('table = "t_yyzz"', "query = \"SELECT * FROM t_yyzz WHERE djzt = '1'\"")
    assert parse_mapping(text).licenses["BL"].query.startswith("SELECT")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('subject = "tyshxydm"\n', "", "licenses.BL.subject: required"),
        ('"3" = "REVOKED"', '"3" = "GONE"', "licenses.BL.statuses.3: 'GONE' is not one of VALID"),
        ('"1" = "VALID"', '"1" = "EXPIRED"', "licenses.BL.statuses: no code means VALID"),
        ('database = "', 'timezone = "Mars/Olympus"\ndatabase = "', "timezone: 'Mars/Olympus'"),
    ],
)
def test_subject_statuses_and_timezone_are_checked(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(MappingError, match=re.escape(message)):
        parse_mapping(GOOD.replace(old, new, 1))


def test_without_statuses_nothing_is_guessed() -> None:
    start = GOOD.index("[licenses.BL.statuses]")
    with pytest.raises(MappingError, match=r"licenses\.BL\.statuses: required"):
        parse_mapping(GOOD[:start])
    assert parse_mapping(GOOD).timezone == "Asia/Shanghai"
