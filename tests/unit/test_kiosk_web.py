"""The kiosk's pages and endpoints over HTTP, with a stand-in for the SDK's kiosk flow
(the real one runs against a real testnet in tests/browser/test_kiosk.py): every form
refuses bad input with a clear 4xx and no traceback, steps run only in order, the ID
number is never echoed, logged or kept, and an idle visit is wiped server-side."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client.approval import Decision
from client.hall import MaterialPlan, Network, PullUpdate, Session
from protos import datashare_pb2 as ds
from protos import government_pb2 as government
from web.kiosk.app import make_kiosk_app
from web.kiosk.settings import KioskSettings

ITEM = "PEST-FIRST"
ID_NUMBER = "110108198001011237"  # valid check character
HTML = {"accept": "text/html"}
LICENSE = government.License(license_id="BL01-x", type_code="BL01", issuer="market-regulation")


class FakeState:
    def service_item(self, code: str) -> government.ServiceItem | None:
        if code != ITEM:
            return None
        return government.ServiceItem(
            code=code, name="农药经营许可 permit", department="agriculture"
        )

    def materials(self, code: str) -> government.Materials | None:
        chain = government.Material(
            name="营业执照 business license",
            required=True,
            license_type="BL01",
            items=["BL01/name"],
        )
        scan = government.Material(name="仓储设施照片 storage photos", required=True, scan=True)
        return government.Materials(item_code=code, materials=[chain, scan])

    def license_type(self, code: str) -> government.LicenseType:
        return government.LicenseType(code=code, name="营业执照 business license")


class FakeHall:
    """The calls the kiosk makes of `client.hall.Hall`, recorded (and no ID number kept)."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.stub = None
        self.calls: list[str] = []

    def subject_ref(self, id_number: str) -> bytes:
        return hashlib.sha256(b"subject-key" + id_number.encode()).digest()

    def start_session(self, id_number: str, face_ok: bool, **_: Any) -> Session:
        self.calls.append(f"record_auth:{face_ok}")
        return Session("S1", self.subject_ref(id_number), "kiosk-1", 0, face_ok)

    def plan(self, item_code: str, subject: bytes) -> list[MaterialPlan]:
        return [
            MaterialPlan("营业执照 business license", True, False, "BL01", ("BL01/name",), LICENSE),
            MaterialPlan("仓储设施照片 storage photos", True, True),
        ]

    def consent(self, session: Session, item_code: str, by_dept: dict, valid_ms: int, **kw: Any):  # type: ignore[no-untyped-def]
        self.calls.append(f"create_grant:{sorted(by_dept)}")
        return government.Grant(grant_id="G1", case_number="C1", service_item=item_code)

    def open_case(self, grant: government.Grant) -> str:
        self.calls.append("open_case")
        return grant.case_number

    def pull(self, grant, case_number, plans) -> Iterator[PullUpdate]:  # type: ignore[no-untyped-def]
        for i, status in enumerate((ds.PENDING, ds.PULLING, ds.OBTAINED)):
            event = ds.PullEvent(material=plans[0].name, status=status)
            yield PullUpdate(plans[0], event, 0.1 * i, ds.PullRequest())

    def attach_and_submit(self, case_number: str, pulled: list, scanned: dict) -> None:
        self.calls.append(f"submit:{len(pulled)}:{len(scanned)}")

    def decision(self, case_number: str) -> Decision:
        """The item has no rule here: the case waits for the department."""
        return Decision(case_number, "submitted", 0, (), None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kiosk() -> tuple[TestClient, FakeHall, Clock]:
    hall, clock = FakeHall(), Clock()
    settings = KioskSettings(
        network=Network("test", {"agriculture": "127.0.0.1:1"}),
        terminal_id="kiosk-1",
        terminal_key=None,  # type: ignore[arg-type]
        requester="agriculture",
        requester_key=None,  # type: ignore[arg-type]
        subject_key=b"k" * 32,
        items=(ITEM,),
        idle_timeout_s=60,
    )
    app = make_kiosk_app(settings, hall=hall, clock=clock)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False), hall, clock


def token(client: TestClient, path: str = "/") -> str:
    page = client.get(path, headers=HTML).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client: TestClient, path: str, data: dict[str, str], **kw: Any):  # type: ignore[no-untyped-def]
    return client.post(path, data=data, headers=HTML, follow_redirects=False, **kw)


def to_identity(client: TestClient) -> str:
    csrf = token(client)
    r = post(client, "/item", {"item_code": ITEM, "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/identity"
    return csrf


def to_consent(client: TestClient) -> str:
    csrf = to_identity(client)
    data = {"id_number": ID_NUMBER, "face_match": "yes", "csrf_token": csrf}
    r = post(client, "/identity", data)
    assert r.status_code == 303 and r.headers["location"] == "/consent", r.text
    return csrf


def to_pull(client: TestClient) -> str:
    csrf = to_consent(client)
    r = post(client, "/consent", {"decision": "confirm", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/pull"
    return csrf


def assert_clean(r) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in r.text and ID_NUMBER not in r.text


def test_the_start_page_lists_the_items_materials_on_chain_or_scan(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    page = client.get("/", headers=HTML).text
    assert "农药经营许可" in page and "链上" in page and "BL01" in page and "需扫描" in page


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/item", {"item_code": ITEM}),
        ("/identity", {"id_number": ID_NUMBER, "face_match": "yes"}),
        ("/consent", {"decision": "confirm"}),
        ("/pull/start", {}),
        ("/scan", {"index": "1"}),
        ("/submit", {}),
        ("/reset", {}),
        ("/alive", {}),
    ],
)
def test_every_post_without_the_csrf_token_is_refused(kiosk, path: str, data: dict) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    to_identity(client)
    for extra in ({}, {"csrf_token": "forged"}):
        r = post(client, path, data | extra)
        assert r.status_code == 403 and "did not come from this page" in r.text
        assert_clean(r)
    assert hall.calls == []


@pytest.mark.parametrize("item", ["NOPE", "../etc", "", "x" * 41])
def test_an_unknown_item_is_refused(kiosk, item: str) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    r = post(client, "/item", {"item_code": item, "csrf_token": token(client)})
    assert r.status_code in (404, 422) and "Traceback" not in r.text


@pytest.mark.parametrize(
    ("id_number", "why"),
    [
        ("11010819800101123", "18"),  # 17 characters
        ("11010819800101123A", "18"),
        ("110108198013011237", "出生日期"),  # month 13
        ("110108198001011234", "校验位"),  # wrong check character
        ("1" * 41, "id_number"),  # longer than the field allows
    ],
)
def test_a_malformed_id_number_is_refused_without_echo_or_log(
    kiosk, caplog, id_number, why
) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = to_identity(client)
    with caplog.at_level(logging.DEBUG):
        r = post(
            client, "/identity", {"id_number": id_number, "face_match": "yes", "csrf_token": csrf}
        )
    assert r.status_code == 422 and why in r.text
    assert id_number not in r.text and id_number not in caplog.text and "Traceback" not in r.text
    assert hall.calls == []  # nothing reached the chain


def test_a_bad_company_code_is_refused(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = to_identity(client)
    data = {"id_number": ID_NUMBER, "company": "91-11", "face_match": "yes", "csrf_token": csrf}
    r = post(client, "/identity", data)
    assert r.status_code == 422 and "统一社会信用代码" in r.text and hall.calls == []
    assert_clean(r)


def test_a_failed_face_check_is_recorded_and_the_person_stays_at_identity(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = to_identity(client)
    r = post(client, "/identity", {"id_number": ID_NUMBER, "csrf_token": csrf})
    assert r.status_code == 403 and "人脸比对未通过" in r.text
    assert hall.calls == ["record_auth:False"]
    assert_clean(r)
    assert post(client, "/consent", {"decision": "confirm", "csrf_token": csrf}).status_code == 409


def test_steps_out_of_order_are_409(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = token(client)
    # no visit at all
    r = post(client, "/identity", {"id_number": ID_NUMBER, "face_match": "yes", "csrf_token": csrf})
    assert r.status_code == 409 and "首页" in r.text
    to_identity(client)
    for path, data in (
        ("/consent", {"decision": "confirm"}),
        ("/pull/start", {}),
        ("/submit", {}),
        ("/scan", {"index": "1"}),
    ):
        r = post(client, path, data | {"csrf_token": csrf})
        assert r.status_code == 409 and "steps out of order" in r.text, path
        assert_clean(r)
    for path in ("/consent", "/pull", "/receipt", "/evidence/0", "/pull/events"):
        r = client.get(path, headers=HTML)
        assert r.status_code == 409 and "/identity" in r.text, path
    assert hall.calls == []


def test_consent_needs_a_known_decision_and_decline_goes_back_to_start(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = to_consent(client)
    page = client.get("/consent", headers=HTML).text
    assert "market-regulation" in page and "BL01/name" in page and "有效期" in page
    r = post(client, "/consent", {"decision": "maybe", "csrf_token": csrf})
    assert r.status_code == 422
    r = post(client, "/consent", {"decision": "decline", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/?ended=declined"
    assert client.app.state.kiosk.visits._visits == {}
    assert hall.calls == ["record_auth:True"]  # no grant


def test_submit_before_the_pull_is_done_and_bad_scans_are_refused(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    csrf = to_pull(client)
    assert post(client, "/submit", {"csrf_token": csrf}).status_code == 409
    for index in ("0", "7", "-1", "x"):  # 0 is on chain, not scan-required
        r = post(client, "/scan", {"index": index, "csrf_token": csrf})
        assert r.status_code == 422, index
        assert_clean(r)


def events(client: TestClient) -> list[dict]:  # type: ignore[type-arg]
    import json

    out = []
    with client.stream("GET", "/pull/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
                if out[-1].get("done"):
                    break
    return out


def test_the_whole_flow_pull_events_scan_submit_receipt(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, _ = kiosk
    csrf = to_pull(client)
    page = client.get("/pull", headers=HTML).text
    assert 'data-live="/pull/events"' in page and "等待中" in page and "需扫描" in page
    r = client.post("/pull/start", headers={"x-csrf-token": csrf, "accept": "application/json"})
    assert r.status_code == 202
    again = client.post("/pull/start", headers={"x-csrf-token": csrf, "accept": "application/json"})
    assert again.status_code == 409
    seen = events(client)
    states = [m["state"] for m in seen if m.get("target") == "m0"]
    assert states[-1] == "obtained" and seen[-1] == {"done": True, "ready": False}
    assert [m["state"] for m in seen if m.get("target") == "m1"] == ["scan"]
    assert post(client, "/submit", {"csrf_token": csrf}).status_code == 409  # scan missing
    assert post(client, "/scan", {"index": "1", "csrf_token": csrf}).status_code == 303
    assert post(client, "/scan", {"index": "1", "csrf_token": csrf}).status_code == 422  # twice
    r = post(client, "/submit", {"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/receipt"
    receipt = client.get("/receipt", headers=HTML).text
    assert "C1" in receipt and 'href="/evidence/0"' in receipt and "/evidence/1" not in receipt
    assert 'data-decision="submitted"' in receipt and "等待部门审批" in receipt
    assert client.get("/evidence/1", headers=HTML).status_code == 404
    assert hall.calls == [
        "record_auth:True",
        "create_grant:['market-regulation']",
        "open_case",
        "submit:1:1",
    ]


def test_the_id_number_is_kept_nowhere_in_the_visit(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    to_consent(client)
    (visit,) = client.app.state.kiosk.visits._visits.values()
    assert visit.session.subject_ref == FakeHall().subject_ref(ID_NUMBER)
    held = repr(vars(visit)) + repr(vars(visit.session))
    assert ID_NUMBER not in held and ID_NUMBER.encode().hex() not in held


def test_an_idle_visit_is_wiped_and_its_old_cookie_reaches_nothing(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, hall, clock = kiosk
    csrf = to_consent(client)
    old_cookie = dict(client.cookies)
    clock.now += 59  # within the timeout: a request restarts the idle clock
    assert client.get("/consent", headers=HTML).status_code == 200
    clock.now += 61
    r = client.get("/consent", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?ended=1"
    assert client.app.state.kiosk.visits._visits == {}
    # the cookie the browser held before (visit id and CSRF token) is of no use now
    client.cookies.clear()
    client.cookies.update(old_cookie)
    r = post(client, "/consent", {"decision": "confirm", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/?ended=1"
    assert "create_grant" not in " ".join(hall.calls)
    start = client.get("/?ended=idle", headers=HTML).text
    assert "会话已清除" in start


def test_reset_wipes_the_visit_and_names_why(kiosk) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    csrf = to_consent(client)
    r = post(client, "/reset", {"reason": "idle", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/?ended=idle"
    assert client.app.state.kiosk.visits._visits == {}
    r = post(client, "/reset", {"reason": "<script>", "csrf_token": csrf})
    assert r.headers["location"] == "/?ended=reset"


def test_visits_are_bounded_and_a_full_kiosk_says_it_is_busy() -> None:
    """Each request without a cookie may start a visit: a flood must not grow memory."""
    from fastapi import HTTPException

    from web.kiosk.visits import Visits

    visits = Visits(idle_s=120, max_visits=3)
    for _ in range(3):
        visits.new()
    with pytest.raises(HTTPException) as refused:
        visits.new()
    assert refused.value.status_code == 503 and len(visits) == 3
