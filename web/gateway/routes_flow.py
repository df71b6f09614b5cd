"""The gateway's writes (scope `write`): the kiosk flow for an online hall or any app.

1. `POST /v1/sessions`: an identity check, recorded on the authentication chain and
   signed by the gateway's terminal key; the ID number arrives in the body (over TLS in
   production), is hashed with the subject key at once and goes no further.
2. `POST /v1/grants`: the consent, exactly the data items the service item's on-chain
   materials need, per providing department, for the item's department; the grant's
   case is opened with it.
3. `POST /v1/pulls`: every material at once; `GET /v1/pulls/{id}/events` streams each
   status as it happens, `GET /v1/pulls/{id}` the state (with the opened values).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path
from fastapi.responses import StreamingResponse

from client.hall import Session
from web.gateway.access import Token, require
from web.gateway.backend import Gateway, gateway_of
from web.gateway.models import GrantIn, GrantOut, PullIn, PullOut, SessionIn, SessionOut
from web.gateway.pulls import PullRun, PullsFull, sse

router = APIRouter(prefix="/v1", tags=["flow"])
Writer = Annotated[Token, Depends(require("write"))]
Gw = Annotated[Gateway, Depends(gateway_of)]
PullId = Annotated[str, Path(pattern=r"^P[0-9a-f]{16}$")]


@router.post(
    "/sessions", status_code=201, response_model=SessionOut, summary="record an identity check"
)
def create_session(body: SessionIn, _: Writer, gateway: Gw) -> dict:
    session = gateway.any_hall().start_session(
        body.id_number,
        body.face_ok,
        method=body.method,
        level=body.level,
        valid_ms=body.valid_minutes * 60_000,
    )
    return {
        "session_id": session.session_id,
        "subject_ref": session.subject_ref.hex(),
        "terminal_id": session.terminal_id,
        "expires_ms": session.expires_ms,
        "success": session.success,
    }


@router.post(
    "/grants",
    status_code=201,
    response_model=GrantOut,
    summary="record the consent for a service item's materials, and open its case",
)
def create_grant(body: GrantIn, _: Writer, gateway: Gw) -> dict:
    record = gateway.state.session(body.session_id)
    if record is None:
        raise HTTPException(404, f"no session {body.session_id!r}")
    if not record.success:
        raise HTTPException(409, f"session {body.session_id!r} failed its identity check")
    if record.expires_ms <= time.time() * 1000:
        raise HTTPException(409, f"session {body.session_id!r} has expired; start a new one")
    item = gateway.state.service_item(body.item_code)
    if item is None:
        raise HTTPException(404, f"no service item {body.item_code!r}")
    hall = gateway.hall_for(item.department)
    subject = gateway.subject_ref(body.subject_id) if body.subject_id else record.subject_ref
    try:
        plans = hall.plan(body.item_code, subject)
    except LookupError as e:
        raise HTTPException(404, str(e)) from None
    by_provider: dict[str, list[str]] = {}
    for p in plans:
        if p.pullable:
            by_provider.setdefault(p.provider, []).extend(p.items)
    if not by_provider:
        raise HTTPException(
            409, "the subject holds none of the licenses this item's on-chain materials need"
        )
    session = Session(
        record.session_id, record.subject_ref, record.terminal_id, record.expires_ms, True
    )
    grant = hall.consent(
        session,
        body.item_code,
        by_provider,
        body.valid_minutes * 60_000,
        subject=subject,
        purpose=body.purpose,
        consent_text=body.consent_text,
    )
    hall.open_case(grant, intake=body.intake)
    return {
        "grant_id": grant.grant_id,
        "case_number": grant.case_number,
        "subject_ref": grant.subject_ref.hex(),
        "grantee": grant.grantee,
        "items": by_provider,
        "valid_until_ms": grant.valid_until_ms,
        "max_uses": grant.max_uses,
    }


@router.post(
    "/pulls",
    status_code=202,
    response_model=PullOut,
    summary="start the one-click pull of every material a grant covers",
)
def start_pull(body: PullIn, token: Writer, gateway: Gw) -> dict:
    grant = gateway.state.grant(body.grant_id)
    if grant is None:
        raise HTTPException(404, f"no grant {body.grant_id!r}")
    hall = gateway.hall_for(grant.grantee)
    try:
        plans = hall.plan(grant.service_item, grant.subject_ref)
        run = gateway.pulls.start(token.name, hall, grant.grant_id, grant.case_number, plans)
    except LookupError as e:
        raise HTTPException(404, str(e)) from None
    except PullsFull as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "10"}) from None
    return run.snapshot()


def _run(gateway: Gateway, pull_id: str, token: Token) -> PullRun:
    run = gateway.pulls.get(pull_id, token.name)
    if run is None:
        raise HTTPException(404, f"no pull {pull_id!r} of this token (finished pulls expire)")
    return run


@router.get("/pulls/{pull_id}", response_model=PullOut, summary="a pull's state")
def get_pull(pull_id: PullId, token: Writer, gateway: Gw) -> dict:
    return _run(gateway, pull_id, token).snapshot()


@router.get(
    "/pulls/{pull_id}/events",
    response_class=StreamingResponse,
    summary="a pull's status events as they happen (server-sent events)",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: status` per change (JSON: a material's state without "
            "values, with `seq`, also the SSE id), then `event: end` with the final state",
        }
    },
)
def pull_events(
    pull_id: PullId,
    token: Writer,
    gateway: Gw,
    last_event_id: Annotated[int | None, Header(ge=0, le=1_000_000)] = None,
) -> StreamingResponse:
    run = _run(gateway, pull_id, token)
    return StreamingResponse(
        sse(run, last_event_id or 0),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )
