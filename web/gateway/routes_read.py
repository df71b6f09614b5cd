"""The gateway's reads (scope `read`): catalog entries, service items and their materials,
a case's status, a subject's audit trail, a tx with its proof, a block.

Everything comes from the validators' committed state through the SDK's `ChainState`
and the node's GetTransaction / GetBlock; nothing is cached, so a read is as fresh as
the node it asks.
"""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, HTTPException, Path

from protos import api_pb2 as api
from protos import government_pb2 as government
from web.gateway.access import Token, require
from web.gateway.backend import Gateway, gateway_of
from web.gateway.chain_view import block_view, tx_view
from web.gateway.models import (
    AuditOut,
    BlockOut,
    CaseOut,
    CatalogEntryOut,
    Channel,
    Hex32,
    Id,
    ServiceItemOut,
    TxOut,
)

router = APIRouter(prefix="/v1", tags=["read"])
Reader = Annotated[Token, Depends(require("read"))]
Gw = Annotated[Gateway, Depends(gateway_of)]
READ_TIMEOUT_S = 5.0


def entry_json(e: government.CatalogEntry) -> dict:
    return {
        "resource_code": e.resource_code,
        "name": e.name,
        "provider": e.provider,
        "duties": list(e.duties),
        "items": [
            {"code": i.code, "name": i.name, "type": i.type, "sensitivity": i.sensitivity}
            for i in e.items
        ],
        "sharing": government.SharingType.Name(e.sharing),
        "sharing_conditions": e.sharing_conditions,
        "update_cycle": e.update_cycle,
        "suspended": e.suspended,
        "version": e.version,
    }


def item_json(gateway: Gateway, item: government.ServiceItem) -> dict:
    materials = gateway.state.materials(item.code)
    return {
        "code": item.code,
        "name": item.name,
        "department": item.department,
        "legal_basis": item.legal_basis,
        "acceptance_conditions": item.acceptance_conditions,
        "time_limit_days": item.time_limit_days,
        "materials": [
            {
                "name": m.name,
                "required": m.required,
                "source": "scan" if m.scan else "chain",
                "license_type": m.license_type,
                "items": list(m.items),
            }
            for m in (materials.materials if materials else ())
        ],
    }


@router.get("/catalog", response_model=list[CatalogEntryOut], summary="every catalog entry")
def list_catalog(_: Reader, gateway: Gw) -> list[dict]:
    return [entry_json(e) for e in gateway.state.catalog_entries()]


@router.get("/catalog/{resource_code}", response_model=CatalogEntryOut, summary="one entry")
def get_catalog_entry(resource_code: Annotated[Id, Path()], _: Reader, gateway: Gw) -> dict:
    entry = gateway.state.catalog_entry(resource_code)
    if entry is None:
        raise HTTPException(404, f"no catalog entry {resource_code!r}")
    return entry_json(entry)


@router.get("/items", response_model=list[ServiceItemOut], summary="every service item")
def list_items(_: Reader, gateway: Gw) -> list[dict]:
    return [item_json(gateway, item) for item in gateway.state.service_items()]


@router.get(
    "/items/{code}",
    response_model=ServiceItemOut,
    summary="a service item and its materials, each on-chain or scan-required",
)
def get_item(code: Annotated[Id, Path()], _: Reader, gateway: Gw) -> dict:
    item = gateway.state.service_item(code)
    if item is None:
        raise HTTPException(404, f"no service item {code!r}")
    return item_json(gateway, item)


@router.get("/cases/{case_number}", response_model=CaseOut, summary="a case's status")
def get_case(case_number: Annotated[Id, Path()], _: Reader, gateway: Gw) -> dict:
    case = gateway.state.case(case_number)
    if case is None:
        raise HTTPException(404, f"no case {case_number!r}")
    result = gateway.state.case_result(case_number)
    return {
        "case_number": case.case_number,
        "item_code": case.item_code,
        "applicant_ref": case.applicant_ref.hex(),
        "intake": case.intake,
        "status": case.status,
        "stages": list(case.stages),
        "attachments": [
            {"material": a.material, "source": a.source, "evidence_hash": a.evidence_hash.hex()}
            for a in case.attachments
        ],
        "result": result.result if result else "",
        "result_license_id": result.license_id if result else "",
    }


@router.get(
    "/audit/{subject_ref}",
    response_model=AuditOut,
    summary="every access (granted or denied) to a subject's data",
)
def get_audit(subject_ref: Annotated[Hex32, Path()], _: Reader, gateway: Gw) -> dict:
    records = gateway.state.access_history(bytes.fromhex(subject_ref))
    return {
        "subject_ref": subject_ref,
        "records": [
            {
                "access_id": r.access_id,
                "grant_id": r.grant_id,
                "requester": r.requester,
                "provider": r.provider,
                "items": list(r.items),
                "outcome": r.outcome,
                "reason": r.reason,
                "time_ms": r.time_ms,
            }
            for r in records
        ],
    }


@router.get(
    "/tx/{channel}/{tx_id}",
    response_model=TxOut,
    summary="a committed tx, its Merkle proof and commit certificate, verified by the server",
)
def get_tx(
    channel: Annotated[Channel, Path()], tx_id: Annotated[Hex32, Path()], _: Reader, gateway: Gw
) -> dict:
    request = api.GetTransactionRequest(channel=channel, tx_id=bytes.fromhex(tx_id))
    tx = _found(gateway.stub.GetTransaction, request, f"no tx {tx_id} on channel {channel}")
    block = gateway.stub.GetBlock(
        api.GetBlockRequest(channel=channel, height=tx.height), timeout=READ_TIMEOUT_S
    )
    network = gateway.config.network
    return tx_view(gateway.state, network.chain_id, channel, tx, block, network.genesis_dir)


@router.get("/blocks/{channel}/{height}", response_model=BlockOut, summary="a committed block")
def get_block(
    channel: Annotated[Channel, Path()],
    height: Annotated[int, Path(ge=1, le=2**63 - 1)],
    _: Reader,
    gateway: Gw,
) -> dict:
    request = api.GetBlockRequest(channel=channel, height=height)
    block = _found(gateway.stub.GetBlock, request, f"no block {height} on channel {channel}")
    return block_view(channel, block)


def _found(call, request, missing: str):
    """The node's answer, or 404 when it has no such thing."""
    try:
        return call(request, timeout=READ_TIMEOUT_S)
    except grpc.RpcError as e:
        if e.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.OUT_OF_RANGE):
            raise HTTPException(404, missing) from None
        raise
