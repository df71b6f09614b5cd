from protos import government_pb2 as _government_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PullStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PENDING: _ClassVar[PullStatus]
    PULLING: _ClassVar[PullStatus]
    OBTAINED: _ClassVar[PullStatus]
    SCAN_REQUIRED: _ClassVar[PullStatus]
    DENIED: _ClassVar[PullStatus]
    FAILED: _ClassVar[PullStatus]
    SOURCE_CHANGED: _ClassVar[PullStatus]
PENDING: PullStatus
PULLING: PullStatus
OBTAINED: PullStatus
SCAN_REQUIRED: PullStatus
DENIED: PullStatus
FAILED: PullStatus
SOURCE_CHANGED: PullStatus

class MaterialRequest(_message.Message):
    __slots__ = ("name", "license_id", "items")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    license_id: str
    items: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., license_id: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("case_number", "grant_id", "requester", "materials", "timestamp_ms", "signer", "signature")
    CASE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    MATERIALS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    case_number: str
    grant_id: str
    requester: str
    materials: _containers.RepeatedCompositeFieldContainer[MaterialRequest]
    timestamp_ms: int
    signer: bytes
    signature: bytes
    def __init__(self, case_number: _Optional[str] = ..., grant_id: _Optional[str] = ..., requester: _Optional[str] = ..., materials: _Optional[_Iterable[_Union[MaterialRequest, _Mapping]]] = ..., timestamp_ms: _Optional[int] = ..., signer: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SealedItem(_message.Message):
    __slots__ = ("code", "sealed")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    code: str
    sealed: bytes
    def __init__(self, code: _Optional[str] = ..., sealed: _Optional[bytes] = ...) -> None: ...

class PullEvent(_message.Message):
    __slots__ = ("material", "status", "label_zh", "label_en", "reason", "items", "access_id", "license_id", "access_tx_id")
    MATERIAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LABEL_ZH_FIELD_NUMBER: _ClassVar[int]
    LABEL_EN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_ID_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TX_ID_FIELD_NUMBER: _ClassVar[int]
    material: str
    status: PullStatus
    label_zh: str
    label_en: str
    reason: str
    items: _containers.RepeatedCompositeFieldContainer[SealedItem]
    access_id: str
    license_id: str
    access_tx_id: bytes
    def __init__(self, material: _Optional[str] = ..., status: _Optional[_Union[PullStatus, str]] = ..., label_zh: _Optional[str] = ..., label_en: _Optional[str] = ..., reason: _Optional[str] = ..., items: _Optional[_Iterable[_Union[SealedItem, _Mapping]]] = ..., access_id: _Optional[str] = ..., license_id: _Optional[str] = ..., access_tx_id: _Optional[bytes] = ...) -> None: ...

class AccessHistoryRequest(_message.Message):
    __slots__ = ("subject_ref",)
    SUBJECT_REF_FIELD_NUMBER: _ClassVar[int]
    subject_ref: bytes
    def __init__(self, subject_ref: _Optional[bytes] = ...) -> None: ...

class AccessHistoryResponse(_message.Message):
    __slots__ = ("records", "height")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_government_pb2.AccessRecord]
    height: int
    def __init__(self, records: _Optional[_Iterable[_Union[_government_pb2.AccessRecord, _Mapping]]] = ..., height: _Optional[int] = ...) -> None: ...
