"""The console's login over HTTP: a challenge signed with the department's key opens a
session; a wrong, malformed, reused or expired one is refused with its reason; posts
without the page's CSRF token are refused; sessions end when idle. Also its settings
(clear errors) and `govchain console sign-login`."""

from __future__ import annotations

from pathlib import Path

import nacl.signing
import pytest

from cli.main import main as cli
from tests.browser.console_helpers import (
    DEPARTMENT,
    HTML,
    client_of,
    department_key,
    form_of,
    log_in,
    make_console,
)
from web.console.auth import Challenges, logged_in, login_message, start_session
from web.console.config import ConsoleConfigError, from_settings


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("console") / "net"
    assert cli(["testnet", "init", "--out", str(out), "--app", "government"]) == 0
    return out


def test_a_signed_challenge_logs_in_and_opens_the_pages(root: Path) -> None:
    client = client_of(make_console(root))
    assert client.get("/audit", headers=HTML, follow_redirects=False).status_code == 303
    log_in(client, root)
    page = client.get("/audit", headers=HTML)
    assert page.status_code == 200 and "数据使用审计" in page.text


def test_not_logged_in_a_browser_goes_to_login_and_an_api_caller_gets_401(root: Path) -> None:
    client = client_of(make_console(root))
    r = client.get("/network", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.get("/network", headers={"accept": "application/json"})
    assert r.status_code == 401 and "log in" in r.json()["detail"]


def attempt(client, root: Path, signature: str | None = None, **override: str):  # type: ignore[no-untyped-def]
    form = form_of(client.get("/login", headers=HTML).text)
    form.update(override)
    if signature is None:
        signature = (
            department_key(root).sign(login_message(DEPARTMENT, form["challenge"])).signature.hex()
        )
    form["signature"] = signature
    return client.post("/login", data=form, headers=HTML, follow_redirects=False), form


def test_a_signature_by_another_key_is_refused(root: Path) -> None:
    client = client_of(make_console(root))
    other = nacl.signing.SigningKey(bytes(32))
    form = form_of(client.get("/login", headers=HTML).text)
    form["signature"] = other.sign(login_message(DEPARTMENT, form["challenge"])).signature.hex()
    r = client.post("/login", data=form, headers=HTML)
    assert r.status_code == 403 and "does not verify with any key registered" in r.text
    assert "登录失败" in r.text and client.get("/audit", headers=HTML).url.path == "/login"


def test_another_departments_key_cannot_log_in_here(root: Path) -> None:
    client = client_of(make_console(root))
    form = form_of(client.get("/login", headers=HTML).text)
    signed = department_key(root, "public-security").sign(
        login_message(DEPARTMENT, form["challenge"])
    )
    form["signature"] = signed.signature.hex()
    assert client.post("/login", data=form, headers=HTML).status_code == 403


@pytest.mark.parametrize(
    ("signature", "reason"), [("zz" * 64, "must be hex"), ("ab" * 10, "64 bytes")]
)
def test_a_malformed_signature_is_a_400(root: Path, signature: str, reason: str) -> None:
    r, _ = attempt(client_of(make_console(root)), root, signature)
    assert r.status_code == 400 and reason in r.text


def test_a_challenge_works_once(root: Path) -> None:
    client = client_of(make_console(root))
    r, form = attempt(client, root)
    assert r.status_code == 303
    again = client.post(
        "/login",
        data={**form, "csrf_token": form_of(client.get("/login", headers=HTML).text)["csrf_token"]},
        headers=HTML,
    )
    assert again.status_code == 403 and "already used" in again.text


def test_an_unknown_challenge_is_refused(root: Path) -> None:
    r, _ = attempt(client_of(make_console(root)), root, challenge="f" * 32)
    assert r.status_code == 403 and "unknown" in r.text


def test_an_expired_challenge_is_refused(root: Path) -> None:
    console = make_console(root)
    now = [1000.0]
    console.challenges = Challenges(clock=lambda: now[0])
    client = client_of(console)
    form = form_of(client.get("/login", headers=HTML).text)
    now[0] += 121
    signed = department_key(root).sign(login_message(DEPARTMENT, form["challenge"]))
    form["signature"] = signed.signature.hex()
    r = client.post("/login", data=form, headers=HTML)
    assert r.status_code == 403 and "expired" in r.text


def test_posts_without_the_pages_csrf_token_are_refused(root: Path) -> None:
    client = client_of(make_console(root))
    form = form_of(client.get("/login", headers=HTML).text)
    form["signature"] = "00" * 64
    for token in (None, "forged"):
        data = {k: v for k, v in form.items() if k != "csrf_token"}
        if token:
            data["csrf_token"] = token
        r = client.post("/login", data=data, headers=HTML)
        assert r.status_code == 403 and "did not come from this page" in r.text
    log_in(client, root)
    for path, data in (
        ("/audit", {"kind": "person", "id_number": "110108198001011234"}),
        ("/cases/C1/decide", {"decision": "approve"}),
        ("/governance/approve", {"name": "p.json"}),
        ("/logout", {}),
    ):
        r = client.post(path, data=data, headers=HTML)
        assert r.status_code == 403 and "did not come from this page" in r.text, path


def test_a_session_ends_when_idle_and_belongs_to_one_department() -> None:
    session: dict = {}
    start_session(session, "agriculture", now=100.0)
    assert logged_in(session, "agriculture", 60, now=150.0)
    assert logged_in(session, "agriculture", 60, now=200.0)  # touched at 150
    assert not logged_in(session, "health", 60, now=201.0)
    assert not logged_in(session, "agriculture", 60, now=261.0)
    assert not logged_in(session, "agriculture", 60, now=262.0)  # gone for good


def test_challenges_are_random_and_bounded() -> None:
    challenges = Challenges()
    issued = {challenges.issue() for _ in range(100)}
    assert len(issued) == 100 and all(len(c) == 32 for c in issued)


def test_sign_login_prints_a_signature_the_console_accepts(
    root: Path, capsys: pytest.CaptureFixture
) -> None:
    key = root / "keys" / f"{DEPARTMENT}.tx.key"
    args = ["console", "sign-login", "--key", str(key), "--department", DEPARTMENT]
    assert cli([*args, "--challenge", "abc123"]) == 0
    signature = bytes.fromhex(capsys.readouterr().out.strip())
    department_key(root).verify_key.verify(login_message(DEPARTMENT, "abc123"), signature)
    assert cli([*args, "--challenge", "not a challenge!"]) == 2
    assert "copy the challenge" in capsys.readouterr().err
    assert cli([*args[:3], str(root / "nodes.txt"), *args[4:], "--challenge", "a1"]) == 2
    assert "not a hex key file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"department": "agriculture"}, "`dir`"),
        ({"dir": "/nonexistent"}, "`department`"),
        ({"dir": "/nonexistent", "department": "x"}, "not a testnet directory"),
        ({"dir": ".", "department": "x", "colour": "red"}, "unknown setting"),
    ],
)
def test_settings_errors_name_the_setting(settings: dict, reason: str) -> None:
    with pytest.raises(ConsoleConfigError, match=reason):
        from_settings(settings, "console.toml")


def test_serve_refuses_bad_settings_with_one_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["console", "serve", "--dir", str(root)]
    assert cli([*base, "--department", "nobody"]) == 2
    assert "not registered in the channels' genesis" in capsys.readouterr().err
    assert cli([*base, "--department", DEPARTMENT, "--listen", "nowhere"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    assert cli([*base, "--department", DEPARTMENT, "--department-key", str(tmp_path)]) == 2
    assert "department_key" in capsys.readouterr().err
    toml = tmp_path / "console.toml"
    toml.write_text('department = "agriculture"\nidle_timeout_s = 3\n')
    assert cli(["console", "serve", "--config", str(toml), "--dir", str(root)]) == 2
    assert "idle_timeout_s" in capsys.readouterr().err
    toml.write_text("department = [")
    assert cli(["console", "serve", "--config", str(toml)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_an_sm2_department_key_logs_in_on_an_sm2_sm3_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`sign-login --crypto-suite sm2-sm3` signs with the key file's SM2 key; the console
    checks a registered SM2 key's signature with SM2, and no other key's."""
    from cli.testnet_files import public_key_of, write_key
    from web.console.auth import LoginRefused, check_signature

    key_file = tmp_path / "dept.key"
    public = write_key(key_file, "sm2-sm3")
    args = ["console", "sign-login", "--key", str(key_file), "--department", DEPARTMENT]
    assert cli([*args, "--challenge", "abc123", "--crypto-suite", "sm2-sm3"]) == 0
    signature = capsys.readouterr().out.strip()
    assert len(bytes.fromhex(signature)) == 64 and len(public) == 65
    check_signature(DEPARTMENT, "abc123", signature, [bytes(32), public])
    other = public_key_of(bytes(range(32)), "sm2-sm3")
    with pytest.raises(LoginRefused, match="does not verify"):
        check_signature(DEPARTMENT, "abc123", signature, [other])
    with pytest.raises(LoginRefused, match="does not verify"):
        check_signature(DEPARTMENT, "abc124", signature, [public])
