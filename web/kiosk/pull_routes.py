"""The kiosk's last steps: the one-click pull with its live event stream, the scan of
paper materials, submitting the case, the receipt (with the chain's decision: 秒批 in the
submitting block, or the rule's failures in plain words) and its evidence bundles.

The event stream is server-sent events in live.js's shape; it opens when the pull page
loads and ends when the pull is done or the visit is wiped. A receipt's evidence link
answers with `evidence_bundle_of` — the bundle `govchain verify-evidence` checks offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from client.evidence import EvidenceError, collect_evidence
from client.hall import PullUpdate
from web import errors
from web.app import require_csrf
from web.kiosk.app import Kiosk, kiosk_of, page, visit_at

router = APIRouter()
CSRF = [Depends(require_csrf)]
KEEPALIVE_S = 10.0


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/pull")
def pull_page(request: Request) -> Response:
    visit = visit_at(request, "pull")
    return page(
        request,
        "pull.html",
        "pull",
        visit=visit,
        run=visit.run,
        case_number=visit.case_number,
    )


@router.post("/pull/start", dependencies=CSRF)
def start_pull(request: Request) -> Response:
    """The one button: every on-chain material is asked for at once."""
    visit = visit_at(request, "pull")
    assert visit.run is not None
    started = visit.run.start()
    if errors.wants_html(request):  # the form without script: back to the (live) page
        return see_other("/pull")
    if not started:
        return JSONResponse({"error": "Conflict", "detail": "already started"}, status_code=409)
    return JSONResponse({"started": True}, status_code=202)


def sse(message: dict[str, Any]) -> str:
    return f"data: {json.dumps(message, ensure_ascii=False)}\n\n"


@router.get("/pull/events")
async def pull_events(request: Request) -> Response:
    visit = visit_at(request, "pull", "receipt")
    run = visit.run
    assert run is not None
    kiosk = kiosk_of(request)

    async def stream() -> AsyncIterator[str]:
        snapshot, queue = run.subscribe(asyncio.get_running_loop())
        try:
            for message in snapshot:
                yield sse(message)
            if snapshot and snapshot[-1].get("done"):
                return
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    kiosk.visits.sweep()  # an idle visit's run closes its streams
                    yield ": keepalive\n\n"
                    continue
                yield sse(message)
                if message.get("done"):
                    return
        finally:
            run.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post("/scan", dependencies=CSRF)
def scanned(request: Request, index: int = Form(..., ge=0, le=99)) -> Response:
    """A scan-required material was scanned (simulated: the scan is a fixed image whose
    hash goes into the case, as a real scan's would)."""
    visit = visit_at(request, "pull")
    assert visit.run is not None
    rows = visit.run.rows
    if index >= len(rows) or rows[index].state != "scan":
        raise HTTPException(422, "该材料无需扫描 that material is not waiting for a scan")
    row = visit.run.mark_scanned(index)
    visit.scanned[row.plan.name] = f"scan:{visit.case_number}:{row.plan.name}".encode()
    return see_other("/pull")


@router.post("/submit", dependencies=CSRF)
def submit(request: Request) -> Response:
    """Attach every material (pulled: the evidence of its access; scanned: the scan's
    hash) and submit the case on the service chain; then read what the chain decided in
    that block (an item with an approval rule: approved there, 秒批, or why not)."""
    visit = visit_at(request, "pull")
    run = visit.run
    assert run is not None
    if not run.ready:
        raise HTTPException(409, "材料不全，不能提交 materials incomplete: cannot submit yet")
    if not visit.busy.acquire(blocking=False):
        raise HTTPException(409, "正在处理，请稍候 already in progress; please wait")
    try:
        pulled = [update for _, update in run.obtained()]
        hall = kiosk_of(request).hall
        hall.attach_and_submit(visit.case_number, pulled, dict(visit.scanned))
        visit.decision = hall.decision(visit.case_number)
        visit.step = "receipt"
    finally:
        visit.busy.release()
    return see_other("/receipt")


@router.get("/receipt")
def receipt(request: Request) -> Response:
    visit = visit_at(request, "receipt")
    return page(
        request,
        "receipt.html",
        "receipt",
        visit=visit,
        item=visit.item,
        run=visit.run,
        case_number=visit.case_number,
        decision=visit.decision,
    )


def evidence_bundle_of(kiosk: Kiosk, update: PullUpdate) -> dict[str, Any]:
    """The evidence bundle of one pulled material (client/evidence.py): the signed pull
    request, its access tx, the tx's Merkle proof, the block's commit certificate and
    the validator set, for `govchain verify-evidence` to check without any node."""
    network = kiosk.settings.network
    return collect_evidence(
        kiosk.hall.stub,
        network.chain_id,
        update.request,
        update.event,
        update.material.provider,
        network.genesis_dir,
        network.crypto_suite,  # the bundle names the chain's suite (SM3, SM2 on sm2-sm3)
    )


@router.get("/evidence/{index}")
def evidence(request: Request, index: int) -> Response:
    visit = visit_at(request, "receipt")
    assert visit.run is not None
    finals = dict((row.index, u) for row, u in visit.run.obtained())
    if index not in finals:
        raise HTTPException(404, "没有该材料的存证 no evidence for that material")
    try:
        bundle = evidence_bundle_of(kiosk_of(request), finals[index])
    except EvidenceError as e:
        raise HTTPException(502, f"存证暂不可用 evidence not available: {e}") from None
    stamp = time.strftime("%Y%m%d")
    name = f"evidence-{visit.case_number}-{index + 1}-{stamp}.json"
    body = json.dumps(bundle, indent=2, ensure_ascii=False).encode() + b"\n"
    headers = {
        "content-disposition": f'attachment; filename="{name}"',
        "x-evidence-sha256": hashlib.sha256(body).hexdigest(),
    }
    return Response(body, media_type="application/json", headers=headers)
