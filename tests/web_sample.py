"""A tiny app built with the shared web pieces, for their tests: a page with a live
element, an event stream, a CSRF-protected form, and routes that fail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import Depends, Form, Request
from starlette.responses import StreamingResponse

from web.app import make_app, render, require_csrf

TEMPLATES = Path(__file__).resolve().parent / "web_sample_templates"
PERSONAL = "110108198001011234"  # an ID number: must never appear in a log or an error page


def sample_app():  # type: ignore[no-untyped-def]
    app = make_app("sample", [TEMPLATES])

    @app.get("/")
    async def page(request: Request):  # type: ignore[no-untyped-def]
        return render(request, "sample.html")

    @app.get("/events")
    async def events():  # type: ignore[no-untyped-def]
        async def stream():  # type: ignore[no-untyped-def]
            for state, zh in (("pulling", "拉取中"), ("obtained", "区块链获取")):
                await asyncio.sleep(0.2)
                msg = {"target": "m1", "state": state, "fields": {"label": zh}}
                yield f"data: {json.dumps(msg, ensure_ascii=False)}\n\n"
            yield 'data: {"done": true}\n\n'

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.post("/form", dependencies=[Depends(require_csrf)])
    async def form(id_number: str = Form(..., min_length=18, max_length=18)):  # type: ignore[no-untyped-def]
        return {"ok": True}

    @app.post("/size")
    async def size(request: Request):  # type: ignore[no-untyped-def]
        return {"bytes": len(await request.body())}

    @app.get("/boom")
    async def boom():  # type: ignore[no-untyped-def]
        raise ValueError(f"failed for {PERSONAL}")

    return app
