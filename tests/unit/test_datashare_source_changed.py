"""At pull time the provider's node checks each value it reads against the commitment
anchored on chain: a department record changed since anchoring is reported as
SOURCE_CHANGED, with nothing released (a fake ledger holds the anchored license)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nacl.signing

from chains.license import license_key
from node.datashare_api import DataShareService, event
from protos import datashare_pb2 as ds
from protos import government_pb2 as government
from sources.sidecar import Sidecar
from sources.sql import SqlSource
from tests.source_rows import anchor_row
from tests.unit.test_sql_source import LICENSE, _sqlite, example_mapping


def service_over(source: SqlSource, lic: government.License) -> DataShareService:
    stored = {license_key(lic.license_id): lic.SerializeToString()}
    ledger = SimpleNamespace(get_state=stored.get)
    node = SimpleNamespace(source=source, channels={"license": SimpleNamespace(ledger=ledger)})
    return DataShareService(node)


def test_a_record_changed_since_anchoring_is_source_changed(tmp_path: Path) -> None:
    department = _sqlite(tmp_path)
    source = SqlSource(example_mapping(department.url), Sidecar(tmp_path / "sidecar.sqlite"))
    lic = anchor_row(source, "BL", LICENSE)
    service = service_over(source, lic)
    requester = nacl.signing.SigningKey.generate().verify_key.encode()
    request = ds.PullRequest(signer=requester)
    material = ds.MaterialRequest(license_id=lic.license_id, items=["BL/name", "BL/legal_rep"])

    sealed = service._read_and_seal(request, material)
    assert [s.code for s in sealed] == ["BL/name", "BL/legal_rep"]

    department.admin(f"UPDATE t_yyzz SET fddbr = '李四' WHERE tyshxydm = '{LICENSE}'")
    status, reason = service._read_and_seal(request, material)
    assert status == ds.SOURCE_CHANGED
    assert "legal_rep changed since it was anchored" in reason
    shown = event("营业执照", status, reason)
    assert (shown.label_zh, shown.label_en) == ("源数据已变更", "source changed since anchoring")
    source.close()


def test_an_item_the_source_does_not_hold_still_fails(tmp_path: Path) -> None:
    department = _sqlite(tmp_path)
    source = SqlSource(example_mapping(department.url), Sidecar(tmp_path / "sidecar.sqlite"))
    service = service_over(source, government.License(license_id=LICENSE, type_code="BL"))
    material = ds.MaterialRequest(license_id=LICENSE, items=["BL/name"])
    status, reason = service._read_and_seal(ds.PullRequest(), material)
    assert status == ds.FAILED and "hold no name" in reason
    source.close()
