"""The cases page (this department's service cases, their materials and pull outcomes,
and the decisions staff record) and the audit page (a subject's or company's full trail).

Deciding a case is a tx on the service chain signed with the department's key, which
the console holds only when started with --department-key; without it the pages are
read-only and say so. The audit form posts an ID number or a unified social credit code:
it is hashed into its subject reference at once with the consortium subject key (which
never reaches a browser), and neither it nor the form body is logged or stored; the page
shows only the reference.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from starlette.responses import RedirectResponse, Response

from chains.privacy import subject_ref
from client.txs import TxRejected
from protos import government_pb2 as government
from web.app import require_csrf
from web.console.app import Staff, page
from web.console.records import case_view, department_cases, trail, when

router = APIRouter()
CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# 18 characters: a resident ID number (17 digits and a digit or X) or a unified social
# credit code (digits and capital letters).
ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")
USCC = re.compile(r"^[0-9A-Z]{18}$")
DECISIONS = {"accept", "approve", "reject"}


def checked_case(number: str) -> str:
    if not CASE_NUMBER.match(number):
        raise HTTPException(400, "a case number is letters, digits and . _ : - (at most 64)")
    return number


@router.get("/cases")
def cases(request: Request, console: Staff) -> Response:
    found = department_cases(console.ledger.state, console.department)
    return page(request, "cases.html", cases=found)


@router.get("/cases/{number}")
def case(
    request: Request,
    console: Staff,
    number: str = Path(..., max_length=100),
    done: str = "",
) -> Response:
    checked_case(number)
    found = console.ledger.state.case(number)
    if found is None:
        raise HTTPException(404, f"no case {number} on the service chain")
    view = case_view(console.ledger.state, found)
    if view.item is None or view.item.department != console.department:
        raise HTTPException(403, f"case {number} is not one of {console.department}'s cases")
    return page(request, "case.html", view=view, when=when, done=done[:40])


@router.post("/cases/{number}/decide", dependencies=[Depends(require_csrf)])
def decide(
    console: Staff,
    number: str = Path(..., max_length=100),
    decision: str = Form(..., max_length=20),
    note: str = Form("", max_length=200),
) -> Response:
    """accept: record the stage "accepted"; approve / reject: record the result (a
    rejection records its reason first, as a stage note)."""
    checked_case(number)
    if decision not in DECISIONS:
        raise HTTPException(400, f"decision must be one of {', '.join(sorted(DECISIONS))}")
    if decision == "reject" and not note.strip():
        raise HTTPException(400, "a rejection needs its reason (note)")
    key = console.department_key
    if key is None:
        raise HTTPException(
            403, "this console has no department key (start it with --department-key)"
        )
    found = console.ledger.state.case(number)
    if found is None:
        raise HTTPException(404, f"no case {number} on the service chain")
    send = console.ledger.send
    try:
        if decision == "accept":
            step = government.CaseStep(case_number=number, stage="accepted", note=note.strip())
            send(key, "service", "service.record_stage", step)
        else:
            if decision == "reject":
                step = government.CaseStep(case_number=number, stage="review", note=note.strip())
                send(key, "service", "service.record_stage", step)
            result = "approved" if decision == "approve" else "rejected"
            outcome = government.CaseResult(case_number=number, result=result)
            send(key, "service", "service.record_result", outcome)
    except TxRejected as e:
        raise HTTPException(409, str(e)) from None
    return RedirectResponse(f"/cases/{number}?done={decision}", status_code=303)


@router.get("/audit")
def audit_form(request: Request, console: Staff) -> Response:
    return page(request, "audit.html", trail=None, kind="person")


@router.post("/audit", dependencies=[Depends(require_csrf)])
def audit(
    request: Request,
    console: Staff,
    kind: str = Form(..., max_length=10),
    id_number: str = Form(..., max_length=40),
) -> Response:
    if console.subject_key is None:
        raise HTTPException(503, "this console has no subject key (--subject-key) to audit with")
    normalised = "".join(id_number.split()).upper()
    if kind == "person" and not ID_NUMBER.match(normalised):
        raise HTTPException(400, "an ID number is 17 digits and a final digit or X")
    if kind == "company" and not USCC.match(normalised):
        raise HTTPException(400, "a unified social credit code is 18 digits and capitals")
    if kind not in ("person", "company"):
        raise HTTPException(400, "kind must be person or company")
    ref = subject_ref(console.subject_key, normalised)
    del id_number, normalised  # only the reference goes further
    found = trail(console.ledger.state, ref)
    return page(request, "audit.html", trail=found, kind=kind, when=when)
