"""What the cases and audit pages show, gathered from the chain through the SDK.

Cases: the service cases of the items this department implements (found by walking the
service channel's committed open_case txs: the world state has no index of them), each
with its materials, attachments, stages, result (by a person, or by the item's approval
rule in the block that submitted it: 秒批, with the rule's failures when it did not),
and the pulls made for it (the access
records of the grants naming the case). Audit: for one subject reference, every grant it
gave and every access recorded about it, granted or denied, by whom, when, for which
case. Subject references are keyed hashes; this module never sees an ID number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from client.approval import Decision, decision_from
from client.state import ChainState, committed_payloads
from protos import government_pb2 as government

CREATE_GRANT = "authorization.create_grant"


def when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "—"


@dataclass
class CaseView:
    case: government.Case
    item: government.ServiceItem | None
    materials: list[government.Material]
    result: government.CaseResult | None
    grants: list[government.Grant] = field(default_factory=list)
    accesses: list[government.AccessRecord] = field(default_factory=list)

    @property
    def attached(self) -> dict[str, government.Attachment]:
        return {a.material: a for a in self.case.attachments}

    @property
    def decision(self) -> Decision:
        """秒批: approved by the item's rule in the submitting block, or the rule's
        failures in plain words (rule_version 0: no rule judged it)."""
        return decision_from(self.case, self.result)


@dataclass
class Trail:
    subject_ref: bytes
    grants: list[government.Grant]
    accesses: list[government.AccessRecord]
    cases_of_grants: dict[str, str]  # grant id -> case number


def grants_where(state: ChainState, **match: object) -> list[government.Grant]:
    """Grants created on the authorization chain whose fields equal `match`, as they
    stand now (uses, status), oldest first."""
    out = []
    for created in committed_payloads(
        state.on("authorization").stub, "authorization", CREATE_GRANT, government.Grant
    ):
        if all(getattr(created, k) == v for k, v in match.items()):
            out.append(state.grant(created.grant_id) or created)
    return out


def case_view(state: ChainState, case: government.Case) -> CaseView:
    item = state.service_item(case.item_code)
    materials = state.materials(case.item_code)
    grants = grants_where(state, case_number=case.case_number)
    ids = {g.grant_id for g in grants}
    accesses = [a for a in state.access_history(case.applicant_ref) if a.grant_id in ids]
    return CaseView(
        case=case,
        item=item,
        materials=list(materials.materials) if materials else [],
        result=state.case_result(case.case_number),
        grants=grants,
        accesses=accesses,
    )


def department_cases(state: ChainState, department: str) -> list[government.Case]:
    """Newest first."""
    return list(reversed(state.cases(department)))


def trail(state: ChainState, subject_ref: bytes) -> Trail:
    grants = grants_where(state, subject_ref=subject_ref)
    accesses = state.access_history(subject_ref)
    cases = {g.grant_id: g.case_number for g in grants}
    for a in accesses:
        if a.grant_id not in cases:
            g = state.grant(a.grant_id)
            cases[a.grant_id] = g.case_number if g else ""
    return Trail(subject_ref, grants, accesses, cases)
