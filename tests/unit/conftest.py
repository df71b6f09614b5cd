"""Fixtures the storage and ledger tests share (tests/unit/ledger_blocks.py has the rest):
each of those tests runs on the in-memory store and on LevelDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.ledger import ChannelLedger
from storage.stores import ByteStore
from tests.unit.ledger_blocks import CHANNEL, GENESIS, open_store


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ByteStore]:
    opened = open_store(request.param, tmp_path / "db")
    yield opened
    opened.close()


@pytest.fixture
def ledger(store: ByteStore) -> ChannelLedger:
    return ChannelLedger(store, CHANNEL, GENESIS)
