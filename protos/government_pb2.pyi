from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SharingType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_UNSPECIFIED: _ClassVar[SharingType]
    UNCONDITIONAL: _ClassVar[SharingType]
    CONDITIONAL: _ClassVar[SharingType]
    NOT_SHARED: _ClassVar[SharingType]

class LicenseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENSE_STATUS_UNSPECIFIED: _ClassVar[LicenseStatus]
    VALID: _ClassVar[LicenseStatus]
    SUSPENDED: _ClassVar[LicenseStatus]
    REVOKED: _ClassVar[LicenseStatus]
    CANCELLED: _ClassVar[LicenseStatus]
    EXPIRED: _ClassVar[LicenseStatus]

class LegalBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGAL_BASIS_UNSPECIFIED: _ClassVar[LegalBasis]
    CONSENT: _ClassVar[LegalBasis]
    STATUTORY_DUTY: _ClassVar[LegalBasis]
SHARING_UNSPECIFIED: SharingType
UNCONDITIONAL: SharingType
CONDITIONAL: SharingType
NOT_SHARED: SharingType
LICENSE_STATUS_UNSPECIFIED: LicenseStatus
VALID: LicenseStatus
SUSPENDED: LicenseStatus
REVOKED: LicenseStatus
CANCELLED: LicenseStatus
EXPIRED: LicenseStatus
LEGAL_BASIS_UNSPECIFIED: LegalBasis
CONSENT: LegalBasis
STATUTORY_DUTY: LegalBasis

class DataItem(_message.Message):
    __slots__ = ("code", "name", "type", "sensitivity")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    type: str
    sensitivity: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., sensitivity: _Optional[int] = ...) -> None: ...

class RegisterDuty(_message.Message):
    __slots__ = ("code", "name", "legal_basis")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    legal_basis: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., legal_basis: _Optional[str] = ...) -> None: ...

class CatalogEntry(_message.Message):
    __slots__ = ("resource_code", "name", "provider", "duties", "items", "sharing", "sharing_conditions", "update_cycle", "source_endpoint", "suspended", "version")
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    DUTIES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SHARING_FIELD_NUMBER: _ClassVar[int]
    SHARING_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CYCLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    resource_code: str
    name: str
    provider: str
    duties: _containers.RepeatedScalarFieldContainer[str]
    items: _containers.RepeatedCompositeFieldContainer[DataItem]
    sharing: SharingType
    sharing_conditions: str
    update_cycle: str
    source_endpoint: str
    suspended: bool
    version: int
    def __init__(self, resource_code: _Optional[str] = ..., name: _Optional[str] = ..., provider: _Optional[str] = ..., duties: _Optional[_Iterable[str]] = ..., items: _Optional[_Iterable[_Union[DataItem, _Mapping]]] = ..., sharing: _Optional[_Union[SharingType, str]] = ..., sharing_conditions: _Optional[str] = ..., update_cycle: _Optional[str] = ..., source_endpoint: _Optional[str] = ..., suspended: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...

class SuspendEntry(_message.Message):
    __slots__ = ("resource_code", "reason")
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    resource_code: str
    reason: str
    def __init__(self, resource_code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApplyShare(_message.Message):
    __slots__ = ("resource_code", "items", "purpose")
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    resource_code: str
    items: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    def __init__(self, resource_code: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ...) -> None: ...

class DecideShare(_message.Message):
    __slots__ = ("resource_code", "consumer", "reason")
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    resource_code: str
    consumer: str
    reason: str
    def __init__(self, resource_code: _Optional[str] = ..., consumer: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ShareAgreement(_message.Message):
    __slots__ = ("resource_code", "consumer", "items", "purpose", "status")
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    resource_code: str
    consumer: str
    items: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    status: str
    def __init__(self, resource_code: _Optional[str] = ..., consumer: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class LicenseType(_message.Message):
    __slots__ = ("code", "name", "department", "holder_type", "items", "catalog_resource")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    HOLDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    department: str
    holder_type: str
    items: _containers.RepeatedCompositeFieldContainer[DataItem]
    catalog_resource: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., department: _Optional[str] = ..., holder_type: _Optional[str] = ..., items: _Optional[_Iterable[_Union[DataItem, _Mapping]]] = ..., catalog_resource: _Optional[str] = ...) -> None: ...

class ItemCommitment(_message.Message):
    __slots__ = ("code", "commitment")
    CODE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    code: str
    commitment: bytes
    def __init__(self, code: _Optional[str] = ..., commitment: _Optional[bytes] = ...) -> None: ...

class License(_message.Message):
    __slots__ = ("license_id", "type_code", "issuer", "subject_ref", "valid_from_ms", "valid_until_ms", "status", "items", "items_root", "source_ref", "superseded_by")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_REF_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_ROOT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    issuer: str
    subject_ref: bytes
    valid_from_ms: int
    valid_until_ms: int
    status: LicenseStatus
    items: _containers.RepeatedCompositeFieldContainer[ItemCommitment]
    items_root: bytes
    source_ref: str
    superseded_by: str
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., issuer: _Optional[str] = ..., subject_ref: _Optional[bytes] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., status: _Optional[_Union[LicenseStatus, str]] = ..., items: _Optional[_Iterable[_Union[ItemCommitment, _Mapping]]] = ..., items_root: _Optional[bytes] = ..., source_ref: _Optional[str] = ..., superseded_by: _Optional[str] = ...) -> None: ...

class SetLicenseStatus(_message.Message):
    __slots__ = ("license_id", "status", "reason")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    status: LicenseStatus
    reason: str
    def __init__(self, license_id: _Optional[str] = ..., status: _Optional[_Union[LicenseStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Supersede(_message.Message):
    __slots__ = ("license_id", "successor")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    successor: License
    def __init__(self, license_id: _Optional[str] = ..., successor: _Optional[_Union[License, _Mapping]] = ...) -> None: ...

class Terminal(_message.Message):
    __slots__ = ("terminal_id", "kind", "department", "public_key", "location", "status", "revoked_height", "revoke_reason")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_REASON_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    kind: str
    department: str
    public_key: bytes
    location: str
    status: str
    revoked_height: int
    revoke_reason: str
    def __init__(self, terminal_id: _Optional[str] = ..., kind: _Optional[str] = ..., department: _Optional[str] = ..., public_key: _Optional[bytes] = ..., location: _Optional[str] = ..., status: _Optional[str] = ..., revoked_height: _Optional[int] = ..., revoke_reason: _Optional[str] = ...) -> None: ...

class RevokeTerminal(_message.Message):
    __slots__ = ("terminal_id", "reason")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    reason: str
    def __init__(self, terminal_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AuthRecord(_message.Message):
    __slots__ = ("session_id", "subject_ref", "method", "terminal_id", "level", "success", "evidence_hash", "time_ms", "expires_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_REF_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_HASH_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    subject_ref: bytes
    method: str
    terminal_id: str
    level: int
    success: bool
    evidence_hash: bytes
    time_ms: int
    expires_ms: int
    def __init__(self, session_id: _Optional[str] = ..., subject_ref: _Optional[bytes] = ..., method: _Optional[str] = ..., terminal_id: _Optional[str] = ..., level: _Optional[int] = ..., success: _Optional[bool] = ..., evidence_hash: _Optional[bytes] = ..., time_ms: _Optional[int] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("grant_id", "subject_ref", "auth_session", "grantee", "service_item", "case_number", "purpose", "legal_basis", "items", "valid_from_ms", "valid_until_ms", "max_uses", "consent_text_hash", "terminal_id", "uses", "status")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_REF_FIELD_NUMBER: _ClassVar[int]
    AUTH_SESSION_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ITEM_FIELD_NUMBER: _ClassVar[int]
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    CONSENT_TEXT_HASH_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    subject_ref: bytes
    auth_session: str
    grantee: str
    service_item: str
    case_number: str
    purpose: str
    legal_basis: LegalBasis
    items: _containers.RepeatedScalarFieldContainer[str]
    valid_from_ms: int
    valid_until_ms: int
    max_uses: int
    consent_text_hash: bytes
    terminal_id: str
    uses: int
    status: str
    def __init__(self, grant_id: _Optional[str] = ..., subject_ref: _Optional[bytes] = ..., auth_session: _Optional[str] = ..., grantee: _Optional[str] = ..., service_item: _Optional[str] = ..., case_number: _Optional[str] = ..., purpose: _Optional[str] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., items: _Optional[_Iterable[str]] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., max_uses: _Optional[int] = ..., consent_text_hash: _Optional[bytes] = ..., terminal_id: _Optional[str] = ..., uses: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class RevokeGrant(_message.Message):
    __slots__ = ("grant_id", "reason")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    reason: str
    def __init__(self, grant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CloseGrant(_message.Message):
    __slots__ = ("grant_id",)
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    def __init__(self, grant_id: _Optional[str] = ...) -> None: ...

class AccessRecord(_message.Message):
    __slots__ = ("access_id", "grant_id", "requester", "provider", "items", "request_hash", "response_hash", "outcome", "reason", "time_ms", "subject_ref")
    ACCESS_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_HASH_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_HASH_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_REF_FIELD_NUMBER: _ClassVar[int]
    access_id: str
    grant_id: str
    requester: str
    provider: str
    items: _containers.RepeatedScalarFieldContainer[str]
    request_hash: bytes
    response_hash: bytes
    outcome: str
    reason: str
    time_ms: int
    subject_ref: bytes
    def __init__(self, access_id: _Optional[str] = ..., grant_id: _Optional[str] = ..., requester: _Optional[str] = ..., provider: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ..., request_hash: _Optional[bytes] = ..., response_hash: _Optional[bytes] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., time_ms: _Optional[int] = ..., subject_ref: _Optional[bytes] = ...) -> None: ...

class ServiceItem(_message.Message):
    __slots__ = ("code", "name", "department", "legal_basis", "acceptance_conditions", "time_limit_days")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTANCE_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    department: str
    legal_basis: str
    acceptance_conditions: str
    time_limit_days: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., department: _Optional[str] = ..., legal_basis: _Optional[str] = ..., acceptance_conditions: _Optional[str] = ..., time_limit_days: _Optional[int] = ...) -> None: ...

class Material(_message.Message):
    __slots__ = ("name", "required", "license_type", "catalog_items", "scan", "items")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    LICENSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ITEMS_FIELD_NUMBER: _ClassVar[int]
    SCAN_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    required: bool
    license_type: str
    catalog_items: _containers.RepeatedScalarFieldContainer[str]
    scan: bool
    items: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., required: _Optional[bool] = ..., license_type: _Optional[str] = ..., catalog_items: _Optional[_Iterable[str]] = ..., scan: _Optional[bool] = ..., items: _Optional[_Iterable[str]] = ...) -> None: ...

class Materials(_message.Message):
    __slots__ = ("item_code", "materials")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    MATERIALS_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    materials: _containers.RepeatedCompositeFieldContainer[Material]
    def __init__(self, item_code: _Optional[str] = ..., materials: _Optional[_Iterable[_Union[Material, _Mapping]]] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_number", "item_code", "applicant_ref", "intake", "status", "attachments", "stages", "rule_version", "rule_failures")
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_REF_FIELD_NUMBER: _ClassVar[int]
    INTAKE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    case_number: str
    item_code: str
    applicant_ref: bytes
    intake: str
    status: str
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    stages: _containers.RepeatedScalarFieldContainer[str]
    rule_version: int
    rule_failures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_number: _Optional[str] = ..., item_code: _Optional[str] = ..., applicant_ref: _Optional[bytes] = ..., intake: _Optional[str] = ..., status: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., stages: _Optional[_Iterable[str]] = ..., rule_version: _Optional[int] = ..., rule_failures: _Optional[_Iterable[str]] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("case_number", "material", "source", "evidence_hash", "access_tx_id", "access_outcome", "valid_from_ms", "valid_until_ms")
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TX_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    case_number: str
    material: str
    source: str
    evidence_hash: bytes
    access_tx_id: bytes
    access_outcome: str
    valid_from_ms: int
    valid_until_ms: int
    def __init__(self, case_number: _Optional[str] = ..., material: _Optional[str] = ..., source: _Optional[str] = ..., evidence_hash: _Optional[bytes] = ..., access_tx_id: _Optional[bytes] = ..., access_outcome: _Optional[str] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ...) -> None: ...

class CaseStep(_message.Message):
    __slots__ = ("case_number", "stage", "note")
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_number: str
    stage: str
    note: str
    def __init__(self, case_number: _Optional[str] = ..., stage: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class CaseResult(_message.Message):
    __slots__ = ("case_number", "result", "license_id", "decision", "rule_version", "rule_hash", "height")
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_HASH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    case_number: str
    result: str
    license_id: str
    decision: str
    rule_version: int
    rule_hash: bytes
    height: int
    def __init__(self, case_number: _Optional[str] = ..., result: _Optional[str] = ..., license_id: _Optional[str] = ..., decision: _Optional[str] = ..., rule_version: _Optional[int] = ..., rule_hash: _Optional[bytes] = ..., height: _Optional[int] = ...) -> None: ...

class ApprovalRule(_message.Message):
    __slots__ = ("item_code", "require_all_materials", "require_chain_sources", "require_licenses_valid", "version", "withdrawn")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_ALL_MATERIALS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_CHAIN_SOURCES_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_LICENSES_VALID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    require_all_materials: bool
    require_chain_sources: bool
    require_licenses_valid: bool
    version: int
    withdrawn: bool
    def __init__(self, item_code: _Optional[str] = ..., require_all_materials: _Optional[bool] = ..., require_chain_sources: _Optional[bool] = ..., require_licenses_valid: _Optional[bool] = ..., version: _Optional[int] = ..., withdrawn: _Optional[bool] = ...) -> None: ...

class WithdrawRule(_message.Message):
    __slots__ = ("item_code", "reason")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    reason: str
    def __init__(self, item_code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
