"""The gateway's OpenAPI document: the committed docs/openapi.json is what the code makes
(regenerate with `python -m web.gateway.openapi > docs/openapi.json`), it is served at
/openapi.json, and /docs is a reference page that needs no script from anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from web.gateway import openapi
from web.gateway.app import unconnected_app

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"


def test_the_committed_document_is_what_the_code_makes() -> None:
    assert COMMITTED.read_text() == openapi.text(), (
        "docs/openapi.json is stale: python -m web.gateway.openapi > docs/openapi.json"
    )


def test_the_served_document_equals_the_committed_one() -> None:
    served = TestClient(unconnected_app()).get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


def test_every_v1_operation_states_its_bearer_token_and_refusals() -> None:
    doc = openapi.document()
    ops = [(p, m, op) for p, ms in doc["paths"].items() for m, op in ms.items()]
    assert len(ops) >= 13
    for path, _, op in ops:
        assert path.startswith("/v1/")
        assert op["security"] == [{"bearer": []}]
        assert {"401", "403", "422", "429"} <= set(op["responses"])


def test_personal_values_travel_only_in_post_bodies() -> None:
    doc = openapi.document()
    params = {p["name"] for ms in doc["paths"].values() for op in ms.values()
              for p in op.get("parameters", [])}  # fmt: skip
    assert not params & {"id_number", "subject_id"}
    assert "id_number" in doc["components"]["schemas"]["SessionIn"]["properties"]


def test_docs_is_a_reference_page_without_inline_or_remote_script() -> None:
    page = TestClient(unconnected_app()).get("/docs", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "/v1/pulls/{pull_id}/events" in page.text and "SessionIn" in page.text
    assert "<script>" not in page.text and "cdn" not in page.text.lower()


def test_a_material_state_can_be_every_pull_status_the_nodes_send() -> None:
    """A status the gateway's model lacks would turn a provider's event into a 500."""
    from typing import get_args

    from protos import datashare_pb2 as ds
    from web.gateway.models import MaterialState

    allowed = set(get_args(MaterialState.model_fields["status"].annotation))
    assert allowed == set(ds.PullStatus.keys())
