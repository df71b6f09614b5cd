"""The gateway's JSON shapes: what callers send (with every constraint stated, so bad
input is a 422 naming the field) and what they get back. These models are the OpenAPI
document's schemas; bytes travel as lowercase hex.

Personal values go only in POST bodies (`id_number`, `subject_id`), never in a path or
query: URLs end up in logs and browser histories.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", max_length=64)]
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]
Channel = Literal["license", "authentication", "authorization", "catalog", "service"]
IdNumber = Annotated[str, Field(pattern=r"^[0-9A-Z]{6,32}$", min_length=6, max_length=32)]


class In(BaseModel):
    """A request body: unknown fields are refused, not ignored (a typo is a 422)."""

    model_config = ConfigDict(extra="forbid")


class SessionIn(In):
    id_number: IdNumber = Field(
        description="the person's ID number, as read from the ID card (digits and capitals); "
        "hashed with the consortium's subject key at once, never stored or logged"
    )
    face_ok: StrictBool = Field(description="the face check's outcome (a failure is recorded)")
    method: Literal["id_card_face", "online_login"] = "id_card_face"
    level: int = Field(3, ge=1, le=4, description="assurance level")
    valid_minutes: int = Field(15, ge=1, le=60, description="the session's lifetime")


class SessionOut(BaseModel):
    session_id: str
    subject_ref: str = Field(description="the keyed hash the person is known by on chain")
    terminal_id: str
    expires_ms: int
    success: bool


class GrantIn(In):
    session_id: Id
    item_code: Id = Field(description="the service item the consent is for")
    subject_id: IdNumber | None = Field(
        None,
        description="whose data it is, when not the person of the session (a company's "
        "unified social credit code the person represents); hashed like id_number",
    )
    valid_minutes: int = Field(30, ge=1, le=24 * 60)
    purpose: str = Field("", max_length=200)
    consent_text: str = Field("", max_length=4000, description="the text the person agreed to")
    intake: Literal["kiosk", "online", "counter"] = "online"


class GrantOut(BaseModel):
    grant_id: str
    case_number: str = Field(description="the case the grant is for, opened with it")
    subject_ref: str
    grantee: str = Field(description="the department that may pull (the item's department)")
    items: dict[str, list[str]] = Field(description="the granted data items, per provider")
    valid_until_ms: int
    max_uses: int


class PullIn(In):
    grant_id: Id


class PulledValue(BaseModel):
    code: str
    value: str
    verified: bool = Field(description="the value matches its commitment on the license chain")


class MaterialState(BaseModel):
    name: str
    status: Literal[
        "PENDING", "PULLING", "OBTAINED", "SCAN_REQUIRED", "DENIED", "FAILED", "SOURCE_CHANGED"
    ]
    label_zh: str
    label_en: str
    reason: str = ""
    provider: str = ""
    license_id: str = ""
    elapsed_s: float = Field(0.0, description="seconds from the pull's start to this status")
    access_tx_id: str = Field("", description="the RecordAccess tx on channel authorization")
    verified: bool = False
    items: list[PulledValue] = Field(default=[], description="opened values (OBTAINED only)")


class PullOut(BaseModel):
    pull_id: str
    grant_id: str
    case_number: str
    done: bool
    materials: list[MaterialState]
    events_url: str


class DataItemOut(BaseModel):
    code: str
    name: str
    type: str
    sensitivity: int


class CatalogEntryOut(BaseModel):
    resource_code: str
    name: str
    provider: str
    duties: list[str]
    items: list[DataItemOut]
    sharing: str
    sharing_conditions: str
    update_cycle: str
    suspended: bool
    version: int


class MaterialOut(BaseModel):
    name: str
    required: bool
    source: Literal["chain", "scan"] = Field(
        description="chain: pulled from a license on chain; scan: scanned at the counter"
    )
    license_type: str
    items: list[str]


class ServiceItemOut(BaseModel):
    code: str
    name: str
    department: str
    legal_basis: str
    acceptance_conditions: str
    time_limit_days: int
    materials: list[MaterialOut]


class AttachmentOut(BaseModel):
    material: str
    source: str
    evidence_hash: str


class CaseOut(BaseModel):
    case_number: str
    item_code: str
    applicant_ref: str
    intake: str
    status: str
    stages: list[str]
    attachments: list[AttachmentOut]
    result: str = Field("", description="approved / rejected once decided")
    result_license_id: str = ""


class AccessOut(BaseModel):
    access_id: str
    grant_id: str
    requester: str
    provider: str
    items: list[str]
    outcome: str
    reason: str
    time_ms: int


class AuditOut(BaseModel):
    subject_ref: str
    records: list[AccessOut]


class CommitOut(BaseModel):
    body: str
    signature: str


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class VerificationOut(BaseModel):
    verified: bool = Field(description="every check passed: the tx is in a committed block")
    checks: list[CheckOut]


class TxOut(BaseModel):
    channel: str
    tx_id: str
    type: str
    signer: str
    payload: dict | None = Field(description="the decoded payload, when its type is known")
    envelope: str
    height: int
    index: int
    result_code: int
    result_reason: str
    proof: dict = Field(description="{index, leaf_count, siblings}: the Merkle proof")
    block_header: str
    block_hash: str
    commits: list[CommitOut] = Field(description="the block's commit certificate")
    verification: VerificationOut


class BlockTxOut(BaseModel):
    tx_id: str
    type: str
    result_code: int
    result_reason: str


class BlockOut(BaseModel):
    channel: str
    height: int
    hash: str
    view: int
    parent_hash: str
    tx_root: str
    proposer: str
    timestamp_ms: int
    state_root: str
    txs: list[BlockTxOut]
    commits: list[CommitOut]


class ErrorOut(BaseModel):
    error: str = Field(description="the HTTP status in words")
    detail: str = Field(description="what was wrong, without any submitted value")
