"""The factory every web face starts from: one FastAPI app with sessions, CSRF, security
headers, error pages, Jinja2 templates (the face's own, then the shared ones) and the
vendored static files.

`render` is how a route answers with a page: it adds the CSRF token and the request, so a
template never forgets either.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from web import errors
from web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    BodyLimit,
    SecurityHeaders,
    csrf_ok,
    csrf_token,
)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "govchain_session"
# Forms and JSON bodies here are small (an ID number, a consent, a grant request).
BODY_BYTES_MAX = 64 << 10


def make_app(
    title: str,
    template_dirs: Sequence[Path] = (),
    *,
    secret_key: str | None = None,
    session_max_age_s: int = 3600,
    docs: bool = False,
) -> FastAPI:
    """A FastAPI app with the shared middleware and handlers; `docs` serves /docs and
    /openapi.json (the gateway), off for the HTML faces."""
    app = FastAPI(
        title=title,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=session_max_age_s,
        same_site="strict",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, bytes_max=BODY_BYTES_MAX)
    app.add_middleware(errors.CatchAll)
    errors.install(app, errors.SampledRefusals())
    dirs = [str(d) for d in template_dirs] + [str(HERE / "templates")]
    app.state.templates = Jinja2Templates(directory=dirs)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    context.update(request=request, csrf_token=csrf_token(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


async def require_csrf(request: Request, csrf_token: str | None = Form(None)) -> None:
    """A dependency for every state-changing form post (or a fetch with the header)."""
    presented = csrf_token or request.headers.get(CSRF_HEADER)
    if not csrf_ok(request, presented):
        raise HTTPException(403, "the form expired or did not come from this page; reload it")


__all__ = ["CSRF_FIELD", "make_app", "render", "require_csrf"]
