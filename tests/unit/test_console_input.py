"""Bad input to every console page and form gets a clear 4xx, never a traceback, and an
ID number typed into the audit form is never echoed or logged. No node runs here: each
refusal is checked before the console would ask the network."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli.main import main as cli
from tests.browser.console_helpers import HTML, client_of, csrf_of, log_in, make_console

PERSON = "110108198001011234"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("console-input") / "net"
    assert cli(["testnet", "init", "--out", str(out), "--app", "government"]) == 0
    return out


@pytest.fixture
def client(root: Path) -> TestClient:
    c = client_of(make_console(root))
    log_in(c, root)
    return c


def post(client: TestClient, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/audit", headers=HTML).text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTML)


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/explorer?channel=nochannel", 404, "no channel"),
        ("/explorer?channel=license&count=0", 422, "count"),
        ("/explorer?channel=license&count=many", 422, "count"),
        ("/explorer/nochannel/block/1", 404, "no channel"),
        ("/explorer/license/block/0", 422, "height"),
        ("/explorer/license/block/abc", 422, "height"),
        ("/explorer/license/tx/xyz", 400, "64 hex digits"),
        ("/explorer/license/tx/" + "ab" * 31, 400, "64 hex digits"),
        ("/explorer/license/tx/" + "ab" * 32 + "?at_height=-1", 422, "at_height"),
        ("/cases/bad%20case!", 400, "case number"),
        ("/cases/" + "C" * 101, 422, "number"),
    ],
)
def test_malformed_ids_in_urls_are_clear_4xx(
    client: TestClient, path: str, status: int, reason: str
) -> None:
    r = client.get(path, headers=HTML)
    assert r.status_code == status and reason in r.text, r.text
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        ({"decision": "burn"}, 400, "decision must be one of"),
        ({"decision": "reject"}, 400, "needs its reason"),
        ({"decision": "reject", "note": " "}, 400, "needs its reason"),
        ({"decision": "approve", "note": "x" * 201}, 422, "note"),
        ({}, 422, "decision"),
    ],
)
def test_bad_case_decisions_are_refused(
    client: TestClient, data: dict[str, str], status: int, reason: str
) -> None:
    r = post(client, "/cases/C1/decide", data)
    assert r.status_code == status and reason in r.text


def test_a_decision_needs_the_department_key(root: Path) -> None:
    client = client_of(make_console(root, keys=False))
    log_in(client, root)
    r = post(client, "/cases/C1/decide", {"decision": "approve"})
    assert r.status_code == 403 and "--department-key" in r.text
    r = post(client, "/governance/approve", {"name": "p.json"})
    assert r.status_code == 403 and "--validator-key" in r.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"kind": "person", "id_number": PERSON[:-1]}, "17 digits"),
        ({"kind": "person", "id_number": PERSON[:-1] + "Y"}, "17 digits"),
        ({"kind": "company", "id_number": "91110108MA01XYZ1-K"}, "unified social credit"),
        ({"kind": "alien", "id_number": PERSON}, "person or company"),
    ],
)
def test_bad_audit_input_is_refused_without_echoing_it(
    client: TestClient, caplog: pytest.LogCaptureFixture, data: dict[str, str], reason: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        r = post(client, "/audit", data)
    assert r.status_code == 400 and reason in r.text
    assert data["id_number"] not in r.text and data["id_number"] not in caplog.text


def test_an_overlong_audit_number_is_a_422_naming_the_field_only(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    long = PERSON * 3
    with caplog.at_level(logging.DEBUG):
        r = post(client, "/audit", {"kind": "person", "id_number": long})
    assert r.status_code == 422 and "id_number" in r.text
    assert long not in r.text and long not in caplog.text


@pytest.mark.parametrize("name", ["../etc/passwd.json", "p.txt", ".hidden.json", "a/b.json", ""])
def test_a_proposal_is_named_by_a_bare_file_name(client: TestClient, name: str) -> None:
    r = post(client, "/governance/approve", {"name": name})
    assert r.status_code in (400, 422) and ("file name" in r.text or "name" in r.text)


def test_a_login_form_without_fields_names_them(root: Path) -> None:
    client = client_of(make_console(root))
    token = csrf_of(client.get("/login", headers=HTML).text)
    r = client.post("/login", data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 422 and "challenge" in r.text and "signature" in r.text


def test_a_tx_is_shown_with_hex_bytes_and_named_enums() -> None:
    from chains.tx import encode_tx
    from protos import api_pb2 as api
    from protos import government_pb2 as government
    from web.console.ledger import decode_tx

    grant = government.Grant(
        grant_id="G1", subject_ref=b"\x01\x02", items=["A/b"], legal_basis=government.CONSENT
    )
    body = api.TxBody(
        chain_id="c",
        channel="authorization",
        type="authorization.create_grant",
        payload=grant.SerializeToString(),
    )
    import nacl.signing

    shown = decode_tx(encode_tx(body, nacl.signing.SigningKey(bytes(32))))
    assert shown["payload"] == {
        "grant_id": "G1",
        "subject_ref": "0102",
        "items": ["A/b"],
        "legal_basis": "CONSENT",
    }
    assert decode_tx(b"\xff\xff") == {"error": "the envelope does not parse"}
