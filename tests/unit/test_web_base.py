"""The shared web pieces (web/app.py, security.py, errors.py) over HTTP: security headers
on every response, CSRF refusing forged posts, bad input answered with a status and a
message (never a traceback, never the submitted value), and unexpected errors likewise."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from tests.web_sample import PERSONAL, sample_app
from web.errors import SampledRefusals
from web.serve import split_listen

HTML = {"accept": "text/html"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(sample_app(), raise_server_exceptions=False)


def token_of(client: TestClient) -> str:
    page = client.get("/", headers=HTML).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/missing", "/static/govchain.css"):
        headers = client.get(path, headers=HTML).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_the_session_cookie_is_httponly_and_same_site_strict(client: TestClient) -> None:
    cookie = client.get("/", headers=HTML).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_post_without_the_sessions_csrf_token_is_refused(client: TestClient) -> None:
    token_of(client)
    for data in ({"id_number": "1" * 18}, {"id_number": "1" * 18, "csrf_token": "forged"}):
        r = client.post("/form", data=data, headers=HTML)
        assert r.status_code == 403 and "did not come from this page" in r.text


def test_a_post_with_the_token_passes(client: TestClient) -> None:
    r = client.post("/form", data={"id_number": "1" * 18, "csrf_token": token_of(client)})
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_invalid_input_names_the_field_but_never_echoes_the_value(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    bad = PERSONAL[:-1]  # 17 characters: too short
    with caplog.at_level(logging.WARNING, "govchain.web"):
        r = client.post(
            "/form", data={"id_number": bad, "csrf_token": token_of(client)}, headers=HTML
        )
    assert r.status_code == 422 and "id_number" in r.text and "输入无效" in r.text
    assert bad not in r.text and bad not in caplog.text


def test_an_api_caller_gets_json_errors(client: TestClient) -> None:
    r = client.get("/missing", headers={"accept": "application/json"})
    assert r.status_code == 404 and r.json() == {"error": "Not found", "detail": "Not Found"}


def test_an_unexpected_error_is_a_500_page_without_traceback_or_personal_value(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "govchain.web"):
        r = client.get("/boom", headers=HTML)
    assert r.status_code == 500 and "内部错误" in r.text
    assert "Traceback" not in r.text and PERSONAL not in r.text
    assert "ValueError" in caplog.text and PERSONAL not in caplog.text


def test_refusal_logs_are_sampled_per_path_and_status() -> None:
    now = [0.0]
    refusals = SampledRefusals(interval_s=10, clock=lambda: now[0])
    assert refusals.log("/form", 422, "x")
    assert not any(refusals.log("/form", 422, "x") for _ in range(1000))
    assert refusals.log("/form", 403, "x")  # another status: its own line
    now[0] = 11
    assert refusals.log("/form", 422, "x")


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9", ("::1", 9)), (":80", ("127.0.0.1", 80))],
)
def test_listen_addresses_parse(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8080", "host:", "host:70000", "host:http"])
def test_bad_listen_addresses_say_so(listen: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        split_listen(listen)


def test_a_body_over_the_bound_is_413_before_it_is_read(client: TestClient) -> None:
    """Any client can send any number of bytes: a face reads at most BODY_BYTES_MAX."""
    from web.app import BODY_BYTES_MAX

    big = {"id_number": "1" * 18, "csrf_token": token_of(client), "pad": "x" * BODY_BYTES_MAX}
    r = client.post("/form", data=big, headers=HTML)
    assert r.status_code == 413 and "内容过大" in r.text


def test_a_streamed_body_without_length_is_cut_at_the_bound_too(client: TestClient) -> None:
    from web.app import BODY_BYTES_MAX

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(BODY_BYTES_MAX // 4096 + 2):
            yield b"x" * 4096

    r = client.post("/size", content=chunks(), headers={**HTML, "content-type": "text/plain"})
    assert r.status_code == 413
    assert client.post("/size", content=b"x" * 100).json() == {"bytes": 100}
