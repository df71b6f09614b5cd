"""The console app: its state (config, ledger, challenges, keys), login and logout, and
the page routers (routes_network.py, routes_cases.py, routes_governance.py).

Every page but the login page needs a session of this console's department; without
one a browser is sent to /login and an API caller gets 401. Every state-changing post
needs the session's CSRF token (web.app.require_csrf).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from client.txs import TxKey
from web.app import make_app, render, require_csrf
from web.console.auth import (
    Challenges,
    LoginRefused,
    check_signature,
    logged_in,
    start_session,
)
from web.console.config import ConsoleConfig, ConsoleConfigError, signing_key
from web.console.ledger import Ledger
from web.console.proposals import ProposalStore
from web.errors import error_response, wants_html

HERE = Path(__file__).resolve().parent
SIGNATURE_CHARS_MAX = 200


@dataclass
class Console:
    config: ConsoleConfig
    ledger: Ledger
    proposals: ProposalStore | None = None
    challenges: Challenges = field(default_factory=Challenges)
    department_key: TxKey | None = None
    validator_key: TxKey | None = None
    subject_key: bytes | None = None

    @property
    def department(self) -> str:
        return self.config.department


class NotLoggedIn(Exception):
    """No session of this console's department (or it was idle too long)."""


def console_of(request: Request) -> Console:
    return request.app.state.console


def staff(request: Request) -> Console:
    """A dependency of every page behind the login."""
    console = console_of(request)
    if not logged_in(request.session, console.department, console.config.idle_timeout_s):
        raise NotLoggedIn()
    return console


Staff = Annotated[Console, Depends(staff)]


def page(request: Request, name: str, status_code: int = 200, **context: object) -> Response:
    """render() with what every console page shows (the department, the navigation)."""
    console = console_of(request)
    context.setdefault("department", console.department)
    return render(request, name, status_code, console=console, **context)


def make_console_app(console: Console) -> FastAPI:
    from web.console import routes_cases, routes_governance, routes_network

    app = make_app(
        f"govchain console · {console.department}",
        [HERE / "templates"],
        session_max_age_s=console.config.idle_timeout_s,
    )
    app.state.console = console
    app.mount("/console-static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, exc: NotLoggedIn) -> Response:
        if wants_html(request):
            return RedirectResponse("/login", status_code=303)
        return error_response(request, 401, "log in first: sign a challenge at /login")

    add_login_routes(app)
    for module in (routes_network, routes_cases, routes_governance):
        app.include_router(module.router)
    return app


def add_login_routes(app: FastAPI) -> None:
    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/network", status_code=303)

    @app.get("/login")
    def login_page(request: Request) -> Response:
        return login_form(request)

    @app.post("/login", dependencies=[Depends(require_csrf)])
    def login(
        request: Request,
        challenge: str = Form(..., max_length=64),
        signature: str = Form(..., max_length=SIGNATURE_CHARS_MAX),
    ) -> Response:
        console = console_of(request)
        try:
            console.challenges.take(challenge)
            keys = console.ledger.departments.get(console.department, [])
            check_signature(console.department, challenge, signature, keys)
        except LoginRefused as e:
            return login_form(request, str(e), e.status)
        start_session(request.session, console.department)
        return RedirectResponse("/network", status_code=303)

    @app.post("/logout", dependencies=[Depends(require_csrf)])
    def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)


def login_form(request: Request, problem: str = "", status_code: int = 200) -> Response:
    console = console_of(request)
    challenge = console.challenges.issue()
    return page(
        request, "login.html", status_code, challenge=challenge, problem=problem, logged_in=False
    )


def console_from_config(config: ConsoleConfig, proposals: ProposalStore | None) -> Console:
    """The console of a checked config: its ledger (connects lazily) and keys."""
    subject = config.subject_key_file
    ledger = Ledger.of_testnet(config.dir, config.department)
    suite = ledger.network.crypto_suite
    if config.department not in ledger.departments:
        known = ", ".join(sorted(d for d in ledger.departments if d)) or "none"
        raise ConsoleConfigError(
            f"department {config.department!r} is not registered in the channels' genesis "
            f"(registered: {known})"
        )
    return Console(
        config=config,
        ledger=ledger,
        proposals=proposals,
        # keys of the chain's suite (the testnet's genesis names it): SM2 on sm2-sm3
        department_key=signing_key(config.department_key, "department_key", suite),
        validator_key=signing_key(config.validator_key, "validator_key", suite),
        subject_key=bytes.fromhex(subject.read_text().strip()) if subject.exists() else None,
    )
