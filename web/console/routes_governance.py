"""The governance page: proposals waiting for approvals, each judged against its channel
(pending or stale, approvals of the current set against the quorum), and approving one
with the department's validator key when the department runs a validator of that channel
and the console was given its key (--validator-key); read-only otherwise.

An approval is a signature over the proposal bytes; it is added to the proposal file,
which whoever the channel's write policy allows then submits (`govchain governance
submit`), and the validators judge the approvals when that tx commits.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from chains.registry import public_key_of
from web.app import require_csrf
from web.console.app import Console, Staff, page
from web.console.proposals import Judged, Proposal, ProposalProblem, check_name, judge

router = APIRouter()


def judged(console: Console) -> tuple[list[Judged], list[tuple[str, str]]]:
    """The readable proposals judged against the chain, and the unreadable files."""
    if console.proposals is None:
        return [], []
    statuses = {}
    for s in console.ledger.statuses():
        if s.reply and not statuses:
            statuses = {ch.channel: ch for ch in s.reply.channels}
    ours = public_key_of(console.validator_key) if console.validator_key else None
    good, bad = [], []
    for p in console.proposals.proposals():
        if isinstance(p, Proposal):
            good.append(judge(p, statuses.get(p.channel), ours))
        else:
            bad.append(p)
    return good, bad


@router.get("/governance")
def governance(request: Request, console: Staff, done: str = "") -> Response:
    good, bad = judged(console)
    return page(
        request,
        "governance.html",
        proposals=good,
        unreadable=bad,
        has_key=console.validator_key is not None,
        directory=console.config.proposals_dir,
        done=done[:100],
    )


@router.post("/governance/approve", dependencies=[Depends(require_csrf)])
def approve(console: Staff, name: str = Form(..., max_length=120)) -> Response:
    try:
        check_name(name)
    except ProposalProblem as e:
        raise HTTPException(400, str(e)) from None
    key = console.validator_key
    if key is None or console.proposals is None:
        raise HTTPException(
            403, "this console has no validator key (start it with --validator-key) to approve"
        )
    good, _ = judged(console)
    target = next((j for j in good if j.proposal.name == name), None)
    if target is None:
        raise HTTPException(404, f"no readable proposal {name} in the proposals directory")
    if not target.can_approve:
        why = (
            "it is stale"
            if target.state == "stale"
            else "this department's validator is not in the channel's set"
        )
        raise HTTPException(409, f"cannot approve {name}: {why}")
    try:
        console.proposals.approve(name, key)
    except ProposalProblem as e:
        raise HTTPException(409, str(e)) from None
    return RedirectResponse(f"/governance?done={name}", status_code=303)
