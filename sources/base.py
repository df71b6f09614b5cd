"""The interface every source adapter offers, and the one encoding of a value as bytes."""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Protocol

LICENSE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class SourceAdapter(Protocol):
    def lookup(self, license_id: str, item: str) -> tuple[bytes, bytes] | None:
        """(salt, value) of one data item of a license this department issued, or None
        when the department's records hold no such item (or it was never anchored)."""
        ...


def value_bytes(value: object) -> bytes | None:
    """A database value as the bytes its commitment covers: text as UTF-8, bytes as they
    are, numbers in their decimal text (a Decimal as stored, `1000000.00` stays so), dates
    and times in ISO 8601, NULL as None (no value). One encoding, so the value anchored
    and the value read at pull time compare equal exactly when the record did not change."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat().encode()
    if isinstance(value, int | decimal.Decimal | float | str):
        return str(value).encode()
    raise TypeError(f"no byte encoding for a {type(value).__name__} value")
