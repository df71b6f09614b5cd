"""The kiosk's FastAPI app: the shared web factory (sessions, CSRF, headers, error pages)
plus the kiosk's templates, static files, routes and server-side visits.

`make_kiosk_app(settings)` is what `govchain kiosk serve` runs; tests hand in a stand-in
for the SDK's `Hall` and a clock. How a request finds its visit, and what happens when
it has none or it is at another step, is decided here once for every route.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fastapi import FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, RedirectResponse, Response

from client.hall import Hall
from client.txs import TxRejected
from web import errors
from web.app import make_app, render
from web.kiosk.catalog import DEPARTMENT_NAMES
from web.kiosk.settings import KioskSettings
from web.kiosk.visits import STEP_PATHS, Visit, Visits

HERE = Path(__file__).resolve().parent
VISIT = "visit"  # the cookie session's key for the visit id
STEP_LABELS = (
    ("item", "选择事项", "Service"),
    ("identity", "身份核验", "Identity"),
    ("consent", "授权同意", "Consent"),
    ("pull", "一键拉取", "Pull"),
    ("receipt", "提交回执", "Receipt"),
)
STEP_NAMES = {key: f"{zh} {en}" for key, zh, en in STEP_LABELS}


@dataclass
class Kiosk:
    """What every route needs: the settings, the SDK's kiosk flow and the visits."""

    settings: KioskSettings
    hall: Hall
    visits: Visits


class VisitEnded(Exception):
    """The browser's visit id reaches no visit any more (wiped when idle, or ended)."""


def kiosk_of(request: Request) -> Kiosk:
    return request.app.state.kiosk


def current_visit(request: Request) -> Visit | None:
    return kiosk_of(request).visits.get(request.session.get(VISIT))


def visit_at(request: Request, *steps: str) -> Visit:
    """The request's visit, which must be at one of `steps`: else the start (its visit
    ended) or 409 (no visit yet, or another step is due)."""
    visit = current_visit(request)
    if visit is None:
        if request.session.pop(VISIT, None):
            raise VisitEnded()
        raise HTTPException(409, "没有进行中的办理，请从首页开始 no visit in progress: start at /")
    if visit.step not in steps:
        raise HTTPException(
            409,
            f"请按步骤办理，当前步骤：{STEP_NAMES[visit.step]} — steps out of order; "
            f"continue at {STEP_PATHS[visit.step]}",
        )
    return visit


def page(request: Request, name: str, step: str, status_code: int = 200, **ctx: Any) -> Response:
    """A kiosk page: the step bar, and the idle timer when a visit is in progress."""
    kiosk = kiosk_of(request)
    visit = ctx.pop("visit", None)
    return render(
        request,
        name,
        status_code,
        visit=visit,
        step=step,
        steps=STEP_LABELS,
        idle_ms=int(kiosk.settings.idle_timeout_s * 1000),
        department_names=DEPARTMENT_NAMES,
        **ctx,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(VisitEnded)
    async def ended(request: Request, exc: VisitEnded) -> Response:
        if errors.wants_html(request):
            return RedirectResponse("/?ended=1", status_code=303)
        return JSONResponse({"error": "Conflict", "detail": "session ended"}, status_code=409)

    @app.exception_handler(grpc.RpcError)
    async def node_down(request: Request, exc: grpc.RpcError) -> Response:
        detail = "区块链节点暂时无法连接，请稍后再试 the blockchain node did not answer; try again"
        return errors.error_response(request, 502, detail)

    @app.exception_handler(TxRejected)
    async def refused(request: Request, exc: TxRejected) -> Response:
        return errors.error_response(request, 409, f"区块链拒绝了该操作 the chain refused: {exc}")


async def sweep_forever(visits: Visits) -> None:
    """Wipe idle visits even while no request arrives."""
    while True:
        await asyncio.sleep(max(0.5, visits.idle_s / 4))
        visits.sweep()


def make_kiosk_app(
    settings: KioskSettings,
    hall: Hall | None = None,
    clock: Callable[[], float] = time.monotonic,
    secret_key: str | None = None,
) -> FastAPI:
    from web.kiosk import pull_routes, routes

    app = make_app("govchain kiosk", [HERE / "templates"], secret_key=secret_key)
    app.mount("/kiosk-static", StaticFiles(directory=HERE / "static"), name="kiosk_static")
    visits = Visits(settings.idle_timeout_s, clock)
    app.state.kiosk = Kiosk(settings, hall or settings.hall(), visits)
    install_handlers(app)
    app.include_router(routes.router)
    app.include_router(pull_routes.router)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(sweep_forever(visits))
        yield
        task.cancel()

    app.router.lifespan_context = lifespan
    return app
