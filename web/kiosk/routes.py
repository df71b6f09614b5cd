"""The kiosk's first steps: choose a service item, identity check, consent; and the
endpoints every page uses (start over, still here).

Each state-changing post carries the session's CSRF token; each answers bad input with
a page saying what is wrong (4xx), never with the value typed. The ID number lives only
in the identity request: it is hashed into the chain's subject reference by the SDK and
the request's copy is dropped; it is never logged, stored in the visit or put in a URL.
"""

from __future__ import annotations

import hashlib
import time

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from web.app import require_csrf
from web.kiosk.app import VISIT, current_visit, kiosk_of, page, visit_at
from web.kiosk.catalog import read_item, read_items
from web.kiosk.forms import FormError, check_company, check_id_number, check_item_code
from web.kiosk.pulling import PullRun

router = APIRouter()
CSRF = [Depends(require_csrf)]
ENDED = {
    "idle": "因长时间无操作，会话已清除 The session was cleared after inactivity",
    "declined": "您未同意授权，办理已取消 You declined; nothing was shared",
    "done": "办理完成，会话已清除 Done; the session was cleared",
    "reset": "已重新开始 Started over",
    "1": "会话已结束，请重新开始 The session ended; please start again",
}
FIELD_MAX = 40


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def busy(visit) -> None:  # type: ignore[no-untyped-def]
    if not visit.busy.acquire(blocking=False):
        raise HTTPException(409, "正在处理，请稍候 already in progress; please wait")


@router.get("/")
def start(request: Request, ended: str = "") -> Response:
    """The start page: coming here ends whatever visit this browser had."""
    kiosk = kiosk_of(request)
    kiosk.visits.drop(request.session.pop(VISIT, None))
    items = read_items(kiosk.hall.state, kiosk.settings.items)
    notice = ENDED.get(ended, "")
    return page(request, "start.html", "item", items=items, notice=notice, ended=ended)


@router.post("/item", dependencies=CSRF)
def choose_item(request: Request, item_code: str = Form(..., max_length=FIELD_MAX)) -> Response:
    kiosk = kiosk_of(request)
    try:
        code = check_item_code(item_code, kiosk.settings.items)
    except FormError as e:
        raise HTTPException(404, str(e)) from None
    item = read_item(kiosk.hall.state, code)
    if not item.published:
        raise HTTPException(404, "该服务事项尚未发布 that service item is not published yet")
    kiosk.visits.drop(request.session.get(VISIT))
    visit = kiosk.visits.new()
    visit.item = item
    request.session[VISIT] = visit.id
    return see_other("/identity")


@router.get("/identity")
def identity_page(request: Request) -> Response:
    visit = visit_at(request, "identity")
    return page(request, "identity.html", "identity", visit=visit, item=visit.item)


@router.post("/identity", dependencies=CSRF)
def identity(
    request: Request,
    id_number: str = Form(..., max_length=FIELD_MAX),
    company: str = Form("", max_length=FIELD_MAX),
    face_match: str = Form(""),
) -> Response:
    """ID card + face check -> authentication.record_auth; then the item's materials for
    this applicant (the company, when one is named)."""
    visit = visit_at(request, "identity")
    kiosk = kiosk_of(request)

    def again(status: int, error: str) -> Response:
        return page(
            request, "identity.html", "identity", status, visit=visit, item=visit.item, error=error
        )

    try:
        number, company_code = check_id_number(id_number), check_company(company)
    except FormError as e:
        return again(422, str(e))
    finally:
        del id_number  # the request's copy; the SDK keeps only its keyed hash
    busy(visit)
    try:
        face_ok = face_match == "yes"
        session = kiosk.hall.start_session(
            number, face_ok, face_evidence=hashlib.sha256(b"face-fixture").digest()
        )
        del number
        if not face_ok:  # recorded on chain as a failed check, like a real one
            return again(403, "人脸比对未通过，请重试 the face check did not pass; try again")
        assert visit.item is not None
        subject = kiosk.hall.subject_ref(company_code) if company_code else session.subject_ref
        visit.session, visit.subject = session, subject
        visit.plans = kiosk.hall.plan(visit.item.code, subject)
        visit.step = "consent"
        request.session[VISIT] = kiosk.visits.rekey(visit)
    finally:
        visit.busy.release()
    return see_other("/consent")


def consent_groups(visit) -> tuple[dict[str, list[tuple[str, list[str]]]], list[str]]:  # type: ignore[no-untyped-def]
    """Each department's materials and their data items; materials that cannot be pulled."""
    groups: dict[str, list[tuple[str, list[str]]]] = {}
    missing = []
    for plan in visit.plans:
        if plan.pullable:
            groups.setdefault(plan.provider, []).append((plan.name, list(plan.items)))
        elif not plan.scan:
            missing.append(plan.name)
    return groups, missing


@router.get("/consent")
def consent_page(request: Request) -> Response:
    visit = visit_at(request, "consent")
    kiosk = kiosk_of(request)
    groups, missing = consent_groups(visit)
    now = time.time()
    valid_s = kiosk.settings.consent_valid_s
    return page(
        request,
        "consent.html",
        "consent",
        visit=visit,
        item=visit.item,
        requester=kiosk.settings.requester,
        groups=sorted(groups.items()),
        missing=missing,
        window_from=time.strftime("%Y-%m-%d %H:%M", time.localtime(now)),
        window_until=time.strftime("%Y-%m-%d %H:%M", time.localtime(now + valid_s)),
        minutes=valid_s // 60,
    )


@router.post("/consent", dependencies=CSRF)
def consent(request: Request, decision: str = Form(..., max_length=16)) -> Response:
    """Confirm -> authorization.create_grant and service.open_case; decline -> start."""
    visit = visit_at(request, "consent")
    kiosk = kiosk_of(request)
    if decision not in ("confirm", "decline"):
        raise HTTPException(422, "请选择同意或不同意 choose consent or decline")
    if decision == "decline":
        kiosk.visits.drop(request.session.pop(VISIT, None))
        return see_other("/?ended=declined")
    groups, _ = consent_groups(visit)
    busy(visit)
    try:
        assert visit.item is not None and visit.session is not None
        by_department = {d: [i for _, items in ms for i in items] for d, ms in groups.items()}
        grant = kiosk.hall.consent(
            visit.session,
            visit.item.code,
            by_department,
            kiosk.settings.consent_valid_s * 1000,
            subject=visit.subject,
            purpose=visit.item.name,
            consent_text=f"同意{kiosk.settings.requester}为{visit.item.code}调取{by_department}",
        )
        visit.grant = grant
        visit.case_number = kiosk.hall.open_case(grant)
        visit.run = PullRun(kiosk.hall, grant, visit.case_number, visit.plans)
        visit.step = "pull"
    finally:
        visit.busy.release()
    return see_other("/pull")


@router.post("/alive", dependencies=CSRF, status_code=204)
def alive(request: Request) -> Response:
    """The person is still here (the page saw a touch): the idle clock restarts."""
    if current_visit(request) is None:
        raise HTTPException(409, "session ended")
    return Response(status_code=204)


@router.post("/reset", dependencies=CSRF)
def reset(request: Request, reason: str = Form("reset", max_length=16)) -> Response:
    """Start over (a button, the idle timer, or finishing): the visit is wiped."""
    kiosk_of(request).visits.drop(request.session.pop(VISIT, None))
    return see_other(f"/?ended={reason if reason in ENDED else 'reset'}")
