from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Testnet


@pytest.fixture
def testnet(tmp_path: Path) -> Iterator[Testnet]:
    net = Testnet(tmp_path / "net", view_change_timeout_ticks=20, status_interval_ticks=5)
    try:
        yield net
    finally:
        net.stop_all()
