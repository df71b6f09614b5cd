"""Bad input gets an HTTP status and a clear message, never a traceback.

A browser (Accept: text/html) gets a page in Chinese and English; an API caller gets
`{"error": ..., "detail": ...}`. Every refusal is logged with its path and status only,
sampled per (path, status) so a flood of bad requests cannot flood the log, and never with
a submitted value: forms here carry ID numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("govchain.web")
LOG_INTERVAL_S = 10.0

TITLES = {
    400: ("请求有误", "Bad request"),
    401: ("未登录", "Unauthorized"),
    403: ("禁止访问", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("方法不允许", "Method not allowed"),
    409: ("状态冲突", "Conflict"),
    413: ("内容过大", "Too large"),
    422: ("输入无效", "Invalid input"),
    429: ("请求过多", "Too many requests"),
    500: ("内部错误", "Internal error"),
    502: ("区块链节点不可用", "Blockchain node unavailable"),
    503: ("暂不可用", "Unavailable"),
}


class SampledRefusals:
    """One log line per (path, status) per interval, with how many were not logged."""

    def __init__(
        self, interval_s: float = LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ):
        self.interval_s, self.clock = interval_s, clock
        self.last: dict[tuple[str, int], float] = {}
        self.skipped: dict[tuple[str, int], int] = {}

    def log(self, path: str, status: int, reason: str) -> bool:
        key = (path, status)
        now = self.clock()
        if now - self.last.get(key, -1e18) < self.interval_s:
            self.skipped[key] = self.skipped.get(key, 0) + 1
            return False
        skipped = self.skipped.pop(key, 0)
        self.last[key] = now
        log.warning("refused %s %s: %s (%d more not logged)", status, path, reason, skipped)
        return True


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def error_response(request: Request, status: int, detail: str) -> Response:
    zh, en = TITLES.get(status, ("错误", "Error"))
    if not wants_html(request):
        return JSONResponse({"error": en, "detail": detail}, status_code=status)
    templates = getattr(request.app.state, "templates", None)
    if templates is None:
        return HTMLResponse(f"<h1>{zh} {en}</h1><p>{detail}</p>", status_code=status)
    context = {"request": request, "status": status, "zh": zh, "en": en, "detail": detail}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def install(app: FastAPI, refusals: SampledRefusals) -> None:
    """Exception handlers for HTTP errors, invalid input and anything unexpected."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = (
            exc.detail
            if isinstance(exc.detail, str)
            else TITLES.get(exc.status_code, ("", "Error"))[1]
        )
        refusals.log(request.url.path, exc.status_code, detail)
        return error_response(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Field names and messages only: the submitted values may be personal data.
        fields = sorted(
            {".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors()}
        )
        detail = f"invalid or missing: {', '.join(fields)}"
        refusals.log(request.url.path, 422, detail)
        return error_response(request, 422, detail)


class CatchAll:
    """ASGI middleware: anything unexpected becomes a 500 page with no traceback, and one
    log line with the exception's type and where it was raised, not its message (a
    message may quote a submitted value). Starlette's own handler would re-raise it into
    the server's log with the message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            log.error("unexpected %s at %s on %s", type(exc).__name__, where, scope.get("path"))
            if not started:
                request = Request(scope, receive)
                response = error_response(request, 500, "something went wrong; please try again")
                await response(scope, receive, send)


__all__ = ["CatchAll", "HTTPException", "SampledRefusals", "error_response", "install"]
