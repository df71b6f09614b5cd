"""The JSON/HTTP gateway as its own process (`python -m cli.main gateway serve`), over
HTTP, against a real 4-validator government testnet seeded as the demo seeds it: each
endpoint's happy path, the whole flow session -> grant -> pull (server-sent events in
order) -> case -> audit -> tx verified, every refusal (422 naming the field and never
echoing the value, 401, 403, 404, 429), and the ID number in no line the gateway wrote.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from cli.ports import free_port_block
from demo.specs import COMPANY_ID, ITEM, REP_ID, SPECS
from demo.story import Demo
from tests.e2e.harness import ROOT, Testnet, wait_for
from web.gateway.config import hash_token

TOKENS = {"hall": ["read", "write"], "reader": ["read"], "other": ["read", "write"]}
TOKENS["burst"] = ["read"]


def bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer token-of-{name}"}


HALL, READER, OTHER = bearer("hall"), bearer("reader"), bearer("other")


class Gateway:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self.http = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str, headers: dict[str, str] = HALL, **kw: Any) -> httpx.Response:
        return self.http.get(path, headers=headers, **kw)

    def post(self, path: str, body: Any, headers: dict[str, str] = HALL) -> httpx.Response:
        return self.http.post(path, json=body, headers=headers)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    net = Testnet(
        tmp / "net", app="government", view_change_timeout_ticks=20, status_interval_ticks=5
    )
    net.start_all()
    proc = None
    try:
        Demo(net.root, out=io.StringIO()).seed()
        config = tmp / "gateway.toml"
        config.write_text(
            "[rate]\nper_s = 10\nburst = 40\n"
            + "".join(
                f'[[tokens]]\nname = "{n}"\nscopes = {json.dumps(s)}\n'
                f'sha256 = "{hash_token(f"token-of-{n}").hex()}"\n'
                for n, s in TOKENS.items()
            )
        )
        port = free_port_block(1)
        log = tmp / "gateway.log"
        command = [sys.executable, "-m", "cli.main", "gateway", "serve", "--dir", str(net.root)]
        command += ["--config", str(config), "--listen", f"127.0.0.1:{port}"]
        with open(log, "wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        gw = Gateway(f"http://127.0.0.1:{port}", log)
        wait_for(lambda: answers(gw, proc), 30, "the gateway to answer")
        yield gw
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
        net.stop_all()


def answers(gw: Gateway, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, f"the gateway exited: {gw.log.read_text()}"
    try:
        return gw.http.get("/openapi.json").status_code == 200
    except httpx.TransportError:
        return False


def events_of(gw: Gateway, pull_id: str) -> list[tuple[str, dict]]:
    """The pull's server-sent events, as they arrive, until `end`."""
    out: list[tuple[str, dict]] = []
    with gw.http.stream("GET", f"/v1/pulls/{pull_id}/events", headers=HALL) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
                if kind == "end":
                    break
    return out


@pytest.fixture(scope="module")
def flow(gateway: Gateway) -> dict[str, Any]:
    """Session -> grant (for the company the person represents) -> pull, followed live."""
    r = gateway.post("/v1/sessions", {"id_number": REP_ID, "face_ok": True})
    assert r.status_code == 201, r.text
    session = r.json()
    body = {"session_id": session["session_id"], "item_code": ITEM, "subject_id": COMPANY_ID}
    r = gateway.post("/v1/grants", {**body, "purpose": "首次申请", "intake": "kiosk"})
    assert r.status_code == 201, r.text
    grant = r.json()
    r = gateway.post("/v1/pulls", {"grant_id": grant["grant_id"]})
    assert r.status_code == 202, r.text
    started = r.json()
    events = events_of(gateway, started["pull_id"])
    final = gateway.get(f"/v1/pulls/{started['pull_id']}").json()
    return {"session": session, "grant": grant, "started": started, "events": events,
            "final": final}  # fmt: skip


def test_the_served_openapi_document_is_the_committed_one(gateway: Gateway) -> None:
    served = gateway.http.get("/openapi.json").json()
    assert served == json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert gateway.http.get("/docs").status_code == 200


def test_catalog_entries_and_service_items_with_their_materials(gateway: Gateway) -> None:
    entries = gateway.get("/v1/catalog", READER).json()
    assert {f"RES-{s.type_code}" for s in SPECS} <= {e["resource_code"] for e in entries}
    entry = gateway.get("/v1/catalog/RES-BL01", READER).json()
    assert entry["provider"] == "market-regulation" and entry["sharing"] == "CONDITIONAL"
    assert ITEM in [i["code"] for i in gateway.get("/v1/items", READER).json()]
    item = gateway.get(f"/v1/items/{ITEM}", READER).json()
    assert item["department"] == "agriculture"
    sources = [(m["license_type"], m["source"]) for m in item["materials"]]
    assert sources == [(s.type_code, "chain") for s in SPECS] + [("", "scan")]


def test_the_whole_flow_pulls_every_material_with_live_events_in_order(flow) -> None:
    grant, session = flow["grant"], flow["session"]
    assert session["success"] and session["terminal_id"] == "haidian-kiosk-01"
    assert (
        set(grant["items"]) == {s.department for s in SPECS} and grant["grantee"] == "agriculture"
    )
    status = [(e["name"], e["status"]) for kind, e in flow["events"] if kind == "status"]
    for spec in SPECS:
        labels = [
            e["label_zh"] for k, e in flow["events"] if k == "status" and e["name"] == spec.name
        ]
        assert labels.index("拉取中") < labels.index("区块链获取"), labels
        assert labels[-1] == "区块链获取"
    assert ("仓储设施照片 storage photos", "SCAN_REQUIRED") in status
    seqs = [e["seq"] for kind, e in flow["events"] if kind == "status"]
    assert seqs == list(range(1, len(seqs) + 1))
    end = flow["events"][-1]
    assert end[0] == "end" and end[1]["done"] and "items" not in end[1]["materials"][0]
    final = flow["final"]
    assert final["done"] and final["case_number"] == grant["case_number"]
    obtained = [m for m in final["materials"] if m["status"] == "OBTAINED"]
    assert len(obtained) == 4 and all(m["verified"] and m["access_tx_id"] for m in obtained)
    values = {i["code"]: i["value"] for m in obtained for i in m["items"]}
    assert values["BL01/uscc"] == COMPANY_ID and all(
        i["verified"] for m in obtained for i in m["items"]
    )


def test_case_status_and_the_audit_trail_show_the_pull(gateway: Gateway, flow) -> None:
    grant = flow["grant"]
    case = gateway.get(f"/v1/cases/{grant['case_number']}", READER).json()
    assert case["item_code"] == ITEM and case["status"] == "open" and case["intake"] == "kiosk"
    assert case["applicant_ref"] == grant["subject_ref"]
    audit = gateway.get(f"/v1/audit/{grant['subject_ref']}", READER).json()
    mine = [r for r in audit["records"] if r["grant_id"] == grant["grant_id"]]
    assert sorted(r["provider"] for r in mine) == sorted(s.department for s in SPECS)
    assert {r["outcome"] for r in mine} == {"granted"} and {r["requester"] for r in mine} == {
        "agriculture"
    }


def test_a_tx_comes_with_its_proof_certificate_and_a_true_verification(
    gateway: Gateway, flow
) -> None:
    material = next(m for m in flow["final"]["materials"] if m["status"] == "OBTAINED")
    r = gateway.get(f"/v1/tx/authorization/{material['access_tx_id']}", READER)
    assert r.status_code == 200, r.text
    tx = r.json()
    assert tx["type"] == "authorization.record_access" and tx["result_code"] == 0
    assert tx["payload"]["grant_id"] == flow["grant"]["grant_id"]
    assert tx["proof"]["leaf_count"] >= 1 and len(tx["commits"]) >= 3
    verification = tx["verification"]
    assert verification["verified"] is True, verification
    names = [c["name"] for c in verification["checks"]]
    assert "merkle proof" in names and "commit certificate" in names
    block = gateway.get(f"/v1/blocks/authorization/{tx['height']}", READER).json()
    assert block["hash"] == tx["block_hash"] and tx["tx_id"] in [t["tx_id"] for t in block["txs"]]
    assert len(block["commits"]) >= 3 and block["height"] == tx["height"]


WRITES = [("POST", "/v1/sessions"), ("POST", "/v1/grants"), ("POST", "/v1/pulls")]
READS = ["/v1/catalog", "/v1/catalog/RES-BL01", "/v1/items", f"/v1/items/{ITEM}",
         "/v1/cases/C1", "/v1/audit/" + "00" * 32, "/v1/tx/license/" + "00" * 32,
         "/v1/blocks/license/1"]  # fmt: skip
SECRET = "110108199912319999"
INVALID = [
    ("/v1/sessions", {"id_number": "bad id 110108199912319999", "face_ok": True}, "id_number"),
    ("/v1/sessions", {"id_number": SECRET}, "face_ok"),
    ("/v1/sessions", {"id_number": SECRET, "face_ok": "yes"}, "face_ok"),
    ("/v1/sessions", {"id_number": SECRET, "face_ok": True, "level": 9}, "level"),
    ("/v1/sessions", {"id_number": SECRET, "face_ok": True, "note": SECRET}, "note"),
    ("/v1/grants", {"session_id": "S 1", "item_code": ITEM}, "session_id"),
    ("/v1/grants", {"session_id": "S1", "item_code": ITEM, "valid_minutes": 0}, "valid_minutes"),
    (
        "/v1/grants",
        {"session_id": "S1", "item_code": ITEM, "subject_id": "x" + SECRET},
        "subject_id",
    ),
    ("/v1/pulls", {"grant_id": ""}, "grant_id"),
    ("/v1/pulls", [SECRET], "body"),
]


@pytest.mark.parametrize(("path", "body", "field"), INVALID)
def test_bad_input_is_422_naming_the_field_never_the_value(
    gateway: Gateway, path: str, body: Any, field: str
) -> None:
    r = gateway.post(path, body)
    assert r.status_code == 422 and field in r.json()["detail"], r.text
    assert SECRET not in r.text and "Traceback" not in r.text
    r = gateway.http.post(path, content=b"{not json " + SECRET.encode(), headers=HALL)
    assert r.status_code == 422 and SECRET not in r.text


BAD_PATHS = [
    ("/v1/catalog/bad code", 422, "resource_code"),
    ("/v1/audit/xyz", 422, "subject_ref"),
    ("/v1/tx/nochannel/" + "00" * 32, 422, "channel"),
    ("/v1/tx/license/abc", 422, "tx_id"),
    ("/v1/blocks/license/0", 422, "height"),
    ("/v1/blocks/x/1", 422, "channel"),
    ("/v1/pulls/zzz", 422, "pull_id"),
    ("/v1/catalog/RES-NONE", 404, "no catalog entry"),
    (f"/v1/items/{ITEM}-NONE", 404, "no service item"),
    ("/v1/cases/C-none", 404, "no case"),
    ("/v1/tx/license/" + "00" * 32, 404, "no tx"),
    ("/v1/blocks/license/999999", 404, "no block"),
    ("/v1/pulls/P0000000000000000", 404, "no pull"),
    ("/v1/pulls/P0000000000000000/events", 404, "no pull"),
    ("/v1/nothing", 404, "Not Found"),
]


@pytest.mark.parametrize(("path", "status", "detail"), BAD_PATHS)
def test_bad_or_unknown_ids_are_refused_clearly(
    gateway: Gateway, path: str, status: int, detail: str
) -> None:
    r = gateway.get(path)
    assert r.status_code == status and detail in r.json()["detail"], r.text
    assert set(r.json()) == {"error", "detail"} and "Traceback" not in r.text


def test_unknown_ids_in_bodies_are_404(gateway: Gateway) -> None:
    r = gateway.post("/v1/grants", {"session_id": "S-none", "item_code": ITEM})
    assert r.status_code == 404 and "no session" in r.json()["detail"]
    assert gateway.post("/v1/pulls", {"grant_id": "G-none"}).status_code == 404


def test_an_empty_audit_trail_is_an_empty_list(gateway: Gateway) -> None:
    assert gateway.get("/v1/audit/" + "ab" * 32).json()["records"] == []


def test_every_endpoint_wants_a_token_and_writes_want_the_write_scope(gateway: Gateway) -> None:
    for path in [*READS, "/v1/pulls/P0000000000000000"]:
        r = gateway.http.get(path)
        assert r.status_code == 401 and "Bearer" in r.json()["detail"], path
        assert gateway.http.get(path, headers=bearer("stranger")).status_code == 401
    for _, path in WRITES:
        assert gateway.http.post(path, json={}).status_code == 401
        r = gateway.post(path, {}, READER)
        assert r.status_code == 403 and "'write' scope" in r.json()["detail"], path
    assert gateway.get("/v1/pulls/P0000000000000000", READER).status_code == 403


def test_a_pull_is_seen_only_by_the_token_that_started_it(gateway: Gateway, flow) -> None:
    pull_id = flow["started"]["pull_id"]
    assert gateway.get(f"/v1/pulls/{pull_id}", OTHER).status_code == 404
    assert gateway.get(f"/v1/pulls/{pull_id}/events", OTHER).status_code == 404


def test_over_the_rate_is_429_with_retry_after(gateway: Gateway) -> None:
    statuses = []
    for _ in range(60):
        r = gateway.get("/v1/audit/" + "cd" * 32, bearer("burst"))
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1 and "over its rate" in r.json()["detail"]
            break
    assert statuses[0] == 200 and statuses[-1] == 429
    assert gateway.get("/v1/audit/" + "cd" * 32, READER).status_code == 200  # its own bucket


def test_no_id_number_in_anything_the_gateway_logged(gateway: Gateway, flow) -> None:
    """Last: every call above has run. The gateway's stdout and stderr hold its start,
    its refusals and its pulls, and none of the ID numbers it was sent."""
    text = gateway.log.read_text()
    assert f"pull {flow['started']['pull_id']} finished" in text and "refused 422" in text
    for value in (REP_ID, COMPANY_ID, SECRET, "token-of-hall"):
        assert value not in text
