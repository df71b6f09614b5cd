"""A department's validity dates as the chain's millisecond window [from, until).

Departments store validity as a DATE (有效期至 2046-05-01: valid through that day), a
timestamp, or text. The chain needs milliseconds since the epoch with an exclusive end, so
a date's end is the start of the next day in the department's time zone (the mapping's
`timezone`, Asia/Shanghai by default); a timestamp without a zone is read in that zone.
NULL or empty text means no bound (0 on chain: no expiry).
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo


def validity_ms(value: object, timezone: str, *, end: bool) -> int:
    """Milliseconds since the epoch of a validity bound (`end`: the exclusive end)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, str):
        value = _parse(value.strip())
    zone = _zone(timezone)
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, datetime.date):
        day = value + datetime.timedelta(days=1) if end else value
        moment = datetime.datetime.combine(day, datetime.time(), tzinfo=zone)
    else:
        raise ValueError(f"a validity bound must be a date or a timestamp, not {value!r}")
    return max(0, int(moment.timestamp() * 1000))


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _parse(text: str) -> datetime.date | datetime.datetime:
    try:
        if len(text) == 10:
            return datetime.date.fromisoformat(text)
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or timestamp") from None
