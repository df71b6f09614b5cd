"""The data-sharing service: a department's node hands out its own records under a grant.

For each material of a pull, on the committed state of this node's channels:
1. the request is signed by a key of the requesting department;
2. the license exists, was issued by this department and is valid now;
3. the grant exists, is active, in its validity window, below its max uses, names the
   requester as grantee and covers the items; no terminal that brokered it (recorded its
   identity check, is named in it, or signed it) is revoked on the authentication chain;
4. the items are within what the grant's service item needs (minimal disclosure, checked
   against the service chain);
5. a `RecordAccess` tx is committed on the authorization chain, whose application checks
   the grant rules again deterministically;
and only then are the values read from the department's source, checked against the
on-chain commitments, and sealed to the requester's key. A denial is recorded as a
`RecordAccess` with outcome "denied" too, so the audit trail shows refusals as well.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog

from chains.privacy import SALT_BYTES, commit_item, seal_to
from client.pull_request import access_id as access_id_of
from client.pull_request import request_bytes, request_hash
from node.call_limits import guard_call
from protos import api_pb2 as api
from protos import datashare_pb2 as ds
from protos import datashare_pb2_grpc as ds_grpc
from protos import government_pb2

if TYPE_CHECKING:
    from node.node import Node

log = structlog.get_logger("datashare")

LABELS = {
    ds.PENDING: ("等待中", "pending"),
    ds.PULLING: ("拉取中", "pulling"),
    ds.OBTAINED: ("区块链获取", "obtained from blockchain"),
    ds.SCAN_REQUIRED: ("需扫描", "not on chain — scan required"),
    ds.DENIED: ("已拒绝", "denied"),
    ds.FAILED: ("失败", "failed"),
    ds.SOURCE_CHANGED: ("源数据已变更", "source changed since anchoring"),
}
REQUEST_SKEW_MS = 5 * 60 * 1000


def event(material: str, status: int, reason: str = "", **fields: object) -> ds.PullEvent:
    zh, en = LABELS[status]
    return ds.PullEvent(
        material=material, status=status, label_zh=zh, label_en=en, reason=reason, **fields
    )


class _LedgerState:
    """A StateReader over a channel's committed world state."""

    def __init__(self, ledger) -> None:
        self.get = ledger.get_state


def _pointers(
    m: ds.MaterialRequest, access_id: str, done: tuple[bytes, api.TxResult] | None
) -> dict[str, object]:
    """The PullEvent fields that point at a material's RecordAccess tx (its id is empty
    when the tx did not commit)."""
    return {
        "access_id": access_id,
        "access_tx_id": done[0] if done else b"",
        "license_id": m.license_id,
    }


def revoked_identity(auth_state: _LedgerState, dept) -> str | None:
    """Why a genesis "terminal" entry (a department whose keys a kiosk signs grants and
    pulls with) is revoked: a terminal of the same id, registered with one of its keys,
    was revoked on the authentication chain. None for anything else."""
    from chains import authentication

    if dept is None:
        return None
    terminal = authentication.get_terminal(auth_state, dept.id)
    if terminal is None or terminal.public_key not in dept.keys:
        return None
    return authentication.revocation(terminal)


def revoked_broker(auth_state: _LedgerState, grant, session, issuer) -> str | None:
    """Why the grant is void because a terminal that brokered it is revoked, or None.

    The authorization channel cannot read the authentication channel, so it cannot know;
    this node can, on its own committed copy. The terminals checked: the one that recorded
    the grant's identity check (its key signed the session), the one the grant names, and
    the one that signed the grant (`issuer`, its issuing department, see
    `revoked_identity`).
    """
    from chains import authentication

    named = [
        (session.terminal_id, "recorded the grant's identity check"),
        (grant.terminal_id, "is named in the grant"),
    ]
    for terminal_id, part in named:
        terminal = authentication.get_terminal(auth_state, terminal_id) if terminal_id else None
        why = authentication.revocation(terminal)
        if why:
            return f"{why} (it {part}): nothing it brokered is honoured"
    why = revoked_identity(auth_state, issuer)
    return f"{why} (it signed the grant): nothing it brokered is honoured" if why else None


class DataShareService(ds_grpc.DataShareServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def _state(self, channel: str) -> _LedgerState:
        return _LedgerState(self.node.channels[channel].ledger)

    def _departments(self):
        return self.node.channels["authorization"].runtime_departments

    async def PullMaterials(self, request: ds.PullRequest, context) -> AsyncIterator[ds.PullEvent]:
        await guard_call(self.node, context)
        for m in request.materials:
            yield event(m.name, ds.PENDING, license_id=m.license_id)
        why = self._check_request(request)
        for m in request.materials:
            yield event(m.name, ds.PULLING, license_id=m.license_id)
            reason = why or self._check_material(request, m)
            if reason is not None:
                access_id, done = await self._record(request, m, "denied", reason)
                log.info("pull denied", material=m.name, reason=reason, requester=request.requester)
                yield event(m.name, ds.DENIED, reason, **_pointers(m, access_id, done))
                continue
            access_id, done = await self._record(request, m, "granted", "")
            if done is None or done[1].code != 0:
                detail = "access could not be recorded" if done is None else done[1].reason
                yield event(m.name, ds.DENIED, detail, **_pointers(m, access_id, done))
                continue
            sealed = self._read_and_seal(request, m)
            if isinstance(sealed, tuple):
                status, why = sealed
                log.warning("pull not released", material=m.name, reason=why)
                yield event(m.name, status, why, **_pointers(m, access_id, done))
                continue
            yield event(m.name, ds.OBTAINED, items=sealed, **_pointers(m, access_id, done))

    # ------------------------------------------------------------------ checks

    def _check_request(self, request: ds.PullRequest) -> str | None:
        node = self.node
        dept = node.departments.by_id.get(request.requester)
        if dept is None:
            return f"unknown requester {request.requester!r}"
        if request.signer not in dept.keys:
            return "the request is not signed by a key of the requesting department"
        revoked = revoked_identity(self._state("authentication"), dept)
        if revoked:
            return f"{revoked}: the request is signed with its key"
        if not node.verifier.verify(request.signer, request_bytes(request), request.signature):
            return "bad request signature"
        if abs(int(time.time() * 1000) - request.timestamp_ms) > REQUEST_SKEW_MS:
            return "request timestamp too far from the provider's clock"
        return None

    def _check_material(self, request: ds.PullRequest, m: ds.MaterialRequest) -> str | None:
        from chains import authentication, authorization, license, service

        now = int(time.time() * 1000)
        lic = license.get_license(self._state("license"), m.license_id)
        if lic is None:
            return f"no license {m.license_id!r} on chain"
        if lic.issuer != self.node.department_id:
            return f"license {m.license_id} was issued by {lic.issuer}, not by this department"
        status = license.effective_status(lic, now)
        if status != government_pb2.VALID:
            return f"license {m.license_id} is {government_pb2.LicenseStatus.Name(status).lower()}"
        grant = authorization.get_grant(self._state("authorization"), request.grant_id)
        if grant is None:
            return f"no grant {request.grant_id!r}"
        if grant.subject_ref != lic.subject_ref:
            return "the grant's subject does not hold this license"
        session = authentication.get_session(self._state("authentication"), grant.auth_session)
        if session is None or not session.success:
            return f"the grant's authentication session {grant.auth_session!r} is not on chain"
        issuer_id = authorization.get_grant_issuer(self._state("authorization"), grant.grant_id)
        issuer = self.node.departments.by_id.get(issuer_id or "")
        why = revoked_broker(self._state("authentication"), grant, session, issuer)
        if why is not None:
            return why
        why = authorization.check_grant(grant, request.requester, list(m.items), now)
        if why is not None:
            return why
        scope = service.required_items(self._state("service"), grant.service_item)
        outside = sorted(set(m.items) - scope)
        if outside:
            return (
                f"items outside what service item {grant.service_item} needs: {', '.join(outside)}"
            )
        held = {f"{lic.type_code}/{c.code}" for c in lic.items}
        foreign = sorted(set(m.items) - held)
        if foreign:
            return f"license {m.license_id} has no items {', '.join(foreign)}"
        return None

    # ------------------------------------------------------------------ effects

    async def _record(
        self, request: ds.PullRequest, m: ds.MaterialRequest, outcome: str, reason: str
    ) -> tuple[str, tuple[bytes, api.TxResult] | None]:
        """Commit the material's RecordAccess: its access id, and (tx id, result) once
        committed (None if it was refused or did not commit in time)."""
        digest = request_hash(request, m, getattr(self.node, "suite", None))  # SM3 on sm2-sm3
        record_id = access_id_of(digest, outcome)
        record = government_pb2.AccessRecord(
            access_id=record_id,
            grant_id=request.grant_id,
            requester=request.requester,
            provider=self.node.department_id,
            items=list(m.items),
            request_hash=digest,
            response_hash=b"",
            outcome=outcome,
            reason=reason[:500],
        )
        done = await self.node.submit_own_tx("authorization", "authorization.record_access", record)
        return record_id, done

    def _read_and_seal(
        self, request: ds.PullRequest, m: ds.MaterialRequest
    ) -> list[ds.SealedItem] | tuple[int, str]:
        """The items sealed to the requester, or (status, reason) when the department's
        records cannot back them: FAILED if an item is missing, SOURCE_CHANGED if its value
        no longer matches the commitment anchored on chain (the record changed since):
        nothing the chain never vouched for is released."""
        from chains import license

        lic = license.get_license(self._state("license"), m.license_id)
        commitments = {c.code: c.commitment for c in lic.items} if lic else {}
        out = []
        for item in m.items:
            code = item.split("/", 1)[1] if "/" in item else item
            found = self.node.source.lookup(m.license_id, code)
            if found is None:
                why = f"the department's records hold no {code} for {m.license_id}"
                return ds.FAILED, why
            salt, value = found
            suite = getattr(self.node, "suite", None)  # SM3 commitments, SM2 sealing on sm2-sm3
            anchored = commitments.get(code)
            if len(salt) != SALT_BYTES or commit_item(salt, code, value, suite) != anchored:
                why = (
                    f"the department's record of {code} changed since it was anchored: "
                    "it no longer matches its commitment on chain"
                )
                return ds.SOURCE_CHANGED, why
            sealed = seal_to(request.signer, salt + value, suite)
            out.append(ds.SealedItem(code=item, sealed=sealed))
        return out

    async def AccessHistory(
        self, request: ds.AccessHistoryRequest, context
    ) -> ds.AccessHistoryResponse:
        from chains import authorization

        await guard_call(self.node, context)
        ledger = self.node.channels["authorization"].ledger
        records = authorization.access_history(_LedgerState(ledger), request.subject_ref)
        return ds.AccessHistoryResponse(records=records, height=ledger.tip().height)
