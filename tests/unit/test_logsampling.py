"""Sampled refusal logs: one line per key and interval, with the count left out."""

from __future__ import annotations

from node.logsampling import SampledLog


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: object) -> None:
        self.lines.append(("warning", event, fields))


def test_one_line_per_key_per_interval_and_the_next_says_how_many_were_left_out() -> None:
    now = [0.0]
    out = Lines()
    log = SampledLog(out, interval_s=10, clock=lambda: now[0])
    written = [log.info("peer-a", "refused", reason="x") for _ in range(1000)]
    assert written.count(True) == 1
    assert log.warning("peer-b", "refused", reason="x")  # another key has its own interval
    now[0] = 10.0
    assert log.info("peer-a", "refused", reason="y")
    assert out.lines == [
        ("info", "refused", {"reason": "x"}),
        ("warning", "refused", {"reason": "x"}),
        ("info", "refused", {"reason": "y", "suppressed": 999}),
    ]
    assert log.suppressed_total == 999


def test_the_same_key_under_another_event_is_logged_on_its_own() -> None:
    out = Lines()
    log = SampledLog(out, interval_s=10, clock=lambda: 0.0)
    assert log.info("k", "a") and log.info("k", "b") and not log.info("k", "a")


def test_keys_are_bounded_the_least_recently_logged_first() -> None:
    out = Lines()
    log = SampledLog(out, interval_s=10, clock=lambda: 0.0, keys_max=100)
    for i in range(10_000):
        log.info(f"peer-{i}", "refused")
    assert len(log._seen) == 100
    assert not log.info("peer-9999", "refused")  # still remembered
    assert log.info("peer-0", "refused")  # forgotten long ago: logged again


def test_fields_may_be_called_key_or_event() -> None:
    out = Lines()
    log = SampledLog(out, interval_s=10, clock=lambda: 0.0)
    assert log.warning("peer-a", "peer refused", key="abc", reason="x")
    assert out.lines == [("warning", "peer refused", {"key": "abc", "reason": "x"})]
