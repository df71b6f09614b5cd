"""The gateway's FastAPI app: the shared factory (`web.app.make_app`, with /openapi.json),
the versioned routes under /v1, bearer tokens, and refusals as JSON
`{"error", "detail"}` with their headers (WWW-Authenticate on 401, Retry-After on 429).

/docs is a reference page rendered on the server from the OpenAPI document: FastAPI's
Swagger UI loads its script from a CDN and runs inline script, which the shared security
headers forbid and an offline government network could not fetch anyway.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from client.txs import TxRejected
from web import errors
from web.app import make_app, render
from web.gateway import routes_flow, routes_read
from web.gateway.access import Access
from web.gateway.backend import Gateway
from web.gateway.config import Rate
from web.gateway.models import ErrorOut

HERE = Path(__file__).resolve().parent
TITLE = "govchain gateway"
VERSION = "1"
DESCRIPTION = (
    "JSON/HTTP API to the govchain government-service blockchain for application "
    "developers: catalog and service items, identity sessions, consent, the one-click "
    "pull with live progress, case status, audit trails, txs and blocks with their proofs. "
    "Every call needs `Authorization: Bearer TOKEN` (scope `read` for GET, `write` for "
    'sessions, grants and pulls). Errors are `{"error", "detail"}`. Personal values '
    "(ID numbers) go only in POST bodies, never in a URL."
)
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (401, "no API token, or an unknown one"),
        (403, "the token lacks the scope"),
        (404, "no such thing (or not this token's pull)"),
        (409, "the chain refused the operation, or it does not apply now"),
        (422, "invalid input: the detail names the field (never the value)"),
        (429, "over the token's rate (see Retry-After)"),
        (502, "no validator node answered"),
    )
}


def make_gateway_app(gateway: Gateway | None, access: Access) -> FastAPI:
    """The app; `gateway` None gives the same routes unconnected (for the OpenAPI file)."""
    app = make_app(TITLE, [HERE / "templates"], docs=True)
    app.router.routes[:] = [r for r in app.router.routes if not _is_swagger(r)]
    app.state.gateway, app.state.access = gateway, access
    app.include_router(routes_read.router, responses=REFUSALS)
    app.include_router(routes_flow.router, responses=REFUSALS)
    _install_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        return render(request, "gateway_docs.html", api=app.openapi(), operations=_ops(app))

    return app


def unconnected_app() -> FastAPI:
    return make_gateway_app(None, Access((), Rate()))


def _is_swagger(route: object) -> bool:
    return getattr(route, "path", "").startswith("/docs")


def _install_handlers(app: FastAPI) -> None:
    shared = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = await shared(request, exc)
        if exc.status_code not in errors.TITLES and not errors.wants_html(request):
            phrase = HTTPStatus(exc.status_code).phrase
            response = JSONResponse({"error": phrase, "detail": exc.detail}, exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(TxRejected)
    async def rejected(request: Request, exc: TxRejected) -> Response:
        return await http_error(request, StarletteHTTPException(409, str(exc)))

    @app.exception_handler(grpc.RpcError)
    async def unavailable(request: Request, exc: grpc.RpcError) -> Response:
        code = exc.code() if hasattr(exc, "code") else None
        detail = f"the validator node did not answer ({getattr(code, 'name', 'error')})"
        errors.log.warning("node call failed on %s: %s", request.url.path, detail)
        return errors.error_response(request, 502, detail)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document, with the bearer scheme stated on every /v1 operation."""
    if app.openapi_schema is None:
        doc = get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes)
        doc.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"}
        }
        for path, ops in doc["paths"].items():
            for op in ops.values() if path.startswith("/v1/") else ():
                op["security"] = [{"bearer": []}]
        app.openapi_schema = doc
    return app.openapi_schema


def _ops(app: FastAPI) -> list[dict[str, Any]]:
    """Every operation for the reference page: method, path, summary, parameters, body."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "params": [p["name"] for p in op.get("parameters", [])],
                    "body": ref.rsplit("/", 1)[-1],
                    "scope": "write" if "flow" in op.get("tags", []) else "read",
                }
            )
    return out
