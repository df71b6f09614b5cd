"""Shared by the console's tests: a console app over a testnet directory (for the HTTP
tests no node needs to run: every refusal they check happens before a network call),
logging in through the page's own challenge, and reading a page's CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

import nacl.signing
from fastapi.testclient import TestClient

from cli.console_proposals import FileProposals
from web.console.app import Console, console_from_config, make_console_app
from web.console.auth import sign_login
from web.console.config import ConsoleConfig

HTML = {"accept": "text/html"}
DEPARTMENT = "agriculture"


def make_console(root: Path, department: str = DEPARTMENT, keys: bool = True) -> Console:
    config = ConsoleConfig(
        dir=root,
        department=department,
        department_key=root / "keys" / f"{department}.tx.key" if keys else None,
        validator_key=root / "keys" / f"{department}.key" if keys else None,
    )
    return console_from_config(config, FileProposals(config.proposals_dir))


def client_of(console: Console) -> TestClient:
    return TestClient(make_console_app(console), raise_server_exceptions=False)


def department_key(root: Path, department: str = DEPARTMENT) -> nacl.signing.SigningKey:
    seed = (root / "keys" / f"{department}.tx.key").read_text().strip()
    return nacl.signing.SigningKey(bytes.fromhex(seed))


def form_of(page: str) -> dict[str, str]:
    """The challenge and CSRF token a login page shows."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    challenge = re.search(r'name="challenge" value="([^"]+)"', page)
    assert token and challenge, "not a login page"
    return {"csrf_token": token.group(1), "challenge": challenge.group(1)}


def csrf_of(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the page"
    return token.group(1)


def log_in(client: TestClient, root: Path, department: str = DEPARTMENT) -> None:
    form = form_of(client.get("/login", headers=HTML).text)
    form["signature"] = sign_login(department_key(root, department), department, form["challenge"])
    r = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/network", r.text
