"""The watcher's decisions (sources/watch_plan.py), one per row of its table: what a
department row asks of the license chain given what the sidecar knows and the time."""

from __future__ import annotations

import datetime
import itertools

import pytest

from chains.license import parse_license_id
from chains.privacy import commit_item, items_root, subject_ref
from protos import government_pb2 as government
from sources.mapping import parse_mapping
from sources.sidecar import RowState
from sources.sql import LicenseRecord
from sources.validity import validity_ms
from sources.watch_plan import (
    Change,
    PlanContext,
    Settled,
    content_of,
    plan_removed,
    plan_row,
    row_fingerprint,
)
from tests.unit.test_sql_source import doc_example

MAPPING = parse_mapping(doc_example()).licenses["BL"]
KEY = bytes(32)
DAY_MS = 86_400_000
NOW = validity_ms(datetime.date(2026, 11, 30), "Asia/Shanghai", end=False) + 10 * 3_600_000


def ctx(now_ms: int = NOW) -> PlanContext:
    serials = itertools.count(1)
    return PlanContext(
        MAPPING,
        "Asia/Shanghai",
        "market-regulation",
        KEY,
        now_ms,
        2026,
        lambda _name: next(serials),
    )


def row(
    status: str = "1", until: object = datetime.date(2030, 1, 1), **items: bytes
) -> LicenseRecord:
    values = {"name": "绿野农资".encode(), "capital": b"1000000.00"} | items
    return LicenseRecord(
        "BL", "91330100MA27XYZ12K", "绿野农资", "91330100MA27XYZ12K", status, None, until, values
    )


def live(record: LicenseRecord, status: str = "VALID", until_ms: int | None = None) -> RowState:
    content, _, valid_until = content_of(record, "Asia/Shanghai")
    return RowState(
        "BL-market-regulation-2026-000007",
        status,
        content,
        valid_until if until_ms is None else until_ms,
        None,
    )


def test_a_new_valid_row_is_anchored_with_fresh_salts_and_a_chain_id() -> None:
    change = plan_row(row(), None, ctx())
    assert isinstance(change, Change) and change.kind == "anchor"
    lic = change.payload
    assert parse_license_id(lic.license_id) == ("BL", "market-regulation", "2026", "000001")
    assert "91330100MA27XYZ12K" not in lic.license_id + lic.source_ref, "the key stays off chain"
    assert lic.subject_ref == subject_ref(KEY, "91330100MA27XYZ12K")
    assert lic.valid_from_ms == NOW, "no valid_from column: valid from anchoring"
    assert lic.valid_until_ms == validity_ms(datetime.date(2030, 1, 2), "Asia/Shanghai", end=False)
    for c in lic.items:
        assert c.commitment == commit_item(change.salts[c.code], c.code, row().items[c.code])
    assert lic.items_root == items_root([c.commitment for c in lic.items])
    assert plan_row(row(), None, ctx()).salts != change.salts, "salts are fresh each time"


@pytest.mark.parametrize(
    ("record", "note"),
    [
        (row(status="9"), "status code '9' is not in the mapping's statuses"),
        (row(status="3"), "REVOKED: not anchored"),
        (row(until=datetime.date(2026, 11, 29)), "EXPIRED: not anchored"),
        (
            LicenseRecord("BL", "k", "h", "91330100MA27XYZ12K", "1", None, None, {}),
            "no item has a value",
        ),
        (
            LicenseRecord("BL", "k", "h", " ", "1", None, None, {"name": b"x"}),
            "no subject (ID number or credit code)",
        ),
    ],
)
def test_rows_that_are_not_anchored_say_why(record: LicenseRecord, note: str) -> None:
    assert plan_row(record, None, ctx()) == Settled(note)


def test_changed_content_of_a_live_license_supersedes_it() -> None:
    before = row()
    after = row(capital=b"2000000.00")
    change = plan_row(after, live(before), ctx())
    assert change.kind == "supersede"
    assert change.payload.license_id == "BL-market-regulation-2026-000007"
    assert change.payload.successor.license_id != change.payload.license_id
    assert change.license_id == change.payload.successor.license_id
    assert plan_row(before, live(before), ctx()) == Settled(), "same content, same status"


@pytest.mark.parametrize(
    ("code", "chain_status", "wanted"),
    [
        ("3", "VALID", "REVOKED"),
        ("4", "VALID", "CANCELLED"),
        ("2", "VALID", "SUSPENDED"),
        ("1", "SUSPENDED", "VALID"),
        ("3", "SUSPENDED", "REVOKED"),
    ],
)
def test_a_status_code_change_sets_the_chain_status(
    code: str, chain_status: str, wanted: str
) -> None:
    change = plan_row(row(status=code), live(row(), chain_status), ctx())
    assert change.kind == "set_status" and change.chain_status == wanted
    assert change.payload.status == government.LicenseStatus.Value(wanted)
    assert repr(code) in change.payload.reason


def test_a_validity_moved_into_the_past_expires_the_license() -> None:
    change = plan_row(row(until=datetime.date(2026, 1, 1)), live(row()), ctx())
    assert (change.kind, change.chain_status) == ("set_status", "EXPIRED")


def test_a_renewed_row_after_its_license_ended_gets_a_new_license() -> None:
    old = row(until=datetime.date(2026, 6, 1))
    ended = live(old, until_ms=NOW - DAY_MS)
    change = plan_row(row(until=datetime.date(2031, 6, 1)), ended, ctx())
    assert change.kind == "anchor", "an expired license cannot be superseded"
    revoked = live(row(), "REVOKED")
    assert plan_row(row(), revoked, ctx()).kind == "anchor", "reissued after a revocation"
    assert plan_row(row(status="3"), revoked, ctx()) == Settled()


def test_a_suspended_new_row_is_anchored_first_then_suspended() -> None:
    first = plan_row(row(status="2"), None, ctx())
    assert (first.kind, first.chain_status) == ("anchor", "VALID")
    settled = RowState(first.license_id, "VALID", first.content, first.valid_until_ms, None)
    second = plan_row(row(status="2"), settled, ctx())
    assert (second.kind, second.chain_status) == ("set_status", "SUSPENDED")


def test_a_row_removed_from_the_table_cancels_its_live_license() -> None:
    change = plan_removed(live(row()), NOW)
    assert (change.kind, change.chain_status) == ("set_status", "CANCELLED")
    assert plan_removed(live(row(), "REVOKED"), NOW) is None
    assert plan_removed(RowState(None, None, None, 0, b"x"), NOW) is None


def test_contents_and_fingerprints_change_with_what_they_cover() -> None:
    content, _, _ = content_of(row(), "Asia/Shanghai")
    assert content == content_of(row(), "Asia/Shanghai")[0]
    assert content != content_of(row(capital=b"1"), "Asia/Shanghai")[0]
    assert content == content_of(row(status="2"), "Asia/Shanghai")[0], "status is not content"
    seen = row_fingerprint(row(), "Asia/Shanghai")
    assert seen == row_fingerprint(row(), "Asia/Shanghai")
    for other in (row(status="2"), row(capital=b"1"), row(until=None), row(until="")):
        assert row_fingerprint(other, "Asia/Shanghai") != seen
    assert row_fingerprint(row(until=None), "UTC") != row_fingerprint(row(until=""), "UTC")
    assert row_fingerprint(row(), "UTC") != seen, "another zone reads the dates otherwise"


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        (datetime.date(2046, 5, 1), True, "2046-05-02T00:00:00+08:00"),
        (datetime.date(2046, 5, 1), False, "2046-05-01T00:00:00+08:00"),
        ("2046-05-01", True, "2046-05-02T00:00:00+08:00"),
        (datetime.datetime(2046, 5, 1, 12, 30), True, "2046-05-01T12:30:00+08:00"),
        ("2046-05-01T12:30:00+00:00", True, "2046-05-01T12:30:00+00:00"),
    ],
)
def test_validity_bounds_read_in_the_departments_zone(
    value: object, end: bool, expected: str
) -> None:
    assert validity_ms(value, "Asia/Shanghai", end=end) == int(
        datetime.datetime.fromisoformat(expected).timestamp() * 1000
    )


def test_no_bound_is_zero_and_a_bad_one_is_refused() -> None:
    assert validity_ms(None, "Asia/Shanghai", end=True) == 0
    assert validity_ms("", "Asia/Shanghai", end=True) == 0
    with pytest.raises(ValueError, match="not an ISO date"):
        validity_ms("2046年5月1日", "Asia/Shanghai", end=True)
    with pytest.raises(ValueError, match="a date or a timestamp"):
        validity_ms(20460501, "Asia/Shanghai", end=True)
