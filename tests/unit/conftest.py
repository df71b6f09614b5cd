"""Fixtures that tests of several files share (their other helpers are in modules beside
them):

- storage and ledger (tests/unit/ledger_blocks.py): `store`, so each of those tests runs
  on the in-memory store and on LevelDB, and a `ledger` on it;
- the service chain (tests/unit/service_permit.py): the pesticide permit `published`, a
  case `opened` for it, and that case `submitted` with every material;
- before every test, the shared signer's nonces start again at 1 (`fresh_nonces`), so a
  test's tx ids are the same whichever tests ran before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from protos import government_pb2 as government
from storage.ledger import ChannelLedger
from storage.stores import ByteStore
from tests.apps import reset_nonces
from tests.unit.ledger_blocks import CHANNEL, GENESIS, open_store
from tests.unit.service_permit import (
    AGRICULTURE,
    CHAIN_SOURCES,
    KIOSK,
    PERMIT_MATERIALS,
    Ledger,
    attachment,
    new_case,
    permit_item,
    permit_materials,
)


@pytest.fixture(autouse=True)
def fresh_nonces() -> None:
    reset_nonces()


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ByteStore]:
    opened = open_store(request.param, tmp_path / "db")
    yield opened
    opened.close()


@pytest.fixture
def ledger(store: ByteStore) -> ChannelLedger:
    return ChannelLedger(store, CHANNEL, GENESIS)


@pytest.fixture
def published() -> Ledger:
    ledger = Ledger()
    ledger.ok(AGRICULTURE, "service.publish_item", permit_item())
    ledger.ok(AGRICULTURE, "service.publish_materials", permit_materials())
    return ledger


@pytest.fixture
def opened(published: Ledger) -> Ledger:
    published.ok(KIOSK, "service.open_case", new_case())
    return published


@pytest.fixture
def submitted(opened: Ledger) -> Ledger:
    for m in PERMIT_MATERIALS:
        opened.ok(KIOSK, "service.attach_material", attachment(m, CHAIN_SOURCES[m.name]))
    opened.ok(KIOSK, "service.submit_case", government.CaseStep(case_number="C-2024-0001"))
    return opened
