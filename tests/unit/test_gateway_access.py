"""The gateway's callers: named, scoped tokens (401 without or with a wrong one, 403
without the scope) and a token bucket per token (429 with Retry-After), over HTTP on an
unconnected gateway app (the refusals come before any network call)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from web.gateway.access import Access, TokenBucket
from web.gateway.app import make_gateway_app
from web.gateway.config import Rate, Token, hash_token

READ = Token("reader-app", frozenset({"read"}), hash_token("read-token"))
BOTH = Token("hall-app", frozenset({"read", "write"}), hash_token("write-token"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(Rate(per_s=2.0, burst=3), clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one token takes half a second at 2/s
    clock.now += 0.5
    assert bucket.take() == 0.0
    clock.now += 100  # refills only up to the burst
    assert [bucket.take() == 0.0 for _ in range(4)] == [True, True, True, False]


def test_each_token_has_its_own_bucket() -> None:
    access = Access([READ, BOTH], Rate(per_s=1.0, burst=1), Clock())
    assert access.admit("Bearer read-token", "read") == READ
    with pytest.raises(Exception) as over:
        access.admit("Bearer read-token", "read")
    assert over.value.status_code == 429 and over.value.headers["Retry-After"] == "1"
    assert access.admit("Bearer write-token", "read") == BOTH


@pytest.fixture
def client() -> TestClient:
    app = make_gateway_app(None, Access([READ, BOTH], Rate(per_s=0.01, burst=2), Clock()))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "no API token"),
        ("Basic abc", "must be: Bearer TOKEN"),
        ("Bearer nope", "unknown API token"),
        ("Bearer ", "unknown API token"),
    ],
)
def test_a_missing_or_wrong_token_is_401_with_a_clear_message(
    client: TestClient, header: str | None, detail: str
) -> None:
    headers = {"authorization": header} if header else {}
    r = client.get("/v1/catalog", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "Unauthorized" and detail in r.json()["detail"]


def test_a_read_token_on_a_write_endpoint_is_403(client: TestClient) -> None:
    body = {"id_number": "110108198001011234", "face_ok": True}
    r = client.post("/v1/sessions", json=body, headers={"authorization": "Bearer read-token"})
    assert r.status_code == 403 and "reader-app" in r.json()["detail"]
    assert "write" in r.json()["detail"] and "110108" not in r.text


def test_over_the_rate_is_429_with_retry_after(client: TestClient) -> None:
    headers = {"authorization": "Bearer read-token"}
    statuses = [client.get("/v1/catalog", headers=headers).status_code for _ in range(3)]
    assert statuses[2] == 429  # the first two pass the token check (503: no network here)
    r = client.get("/v1/catalog", headers=headers)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json() == {
        "error": "Too many requests",
        "detail": "the token of 'reader-app' is over its rate; retry later",
    }
