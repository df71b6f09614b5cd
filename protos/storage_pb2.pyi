from protos import consensus_pb2 as _consensus_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ViewState(_message.Message):
    __slots__ = ("view", "active")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    view: int
    active: bool
    def __init__(self, view: _Optional[int] = ..., active: _Optional[bool] = ...) -> None: ...

class SlotState(_message.Message):
    __slots__ = ("height", "accepted_view", "accepted", "prepared_view", "prepared", "prepared_votes")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_VIEW_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PREPARED_VIEW_FIELD_NUMBER: _ClassVar[int]
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    PREPARED_VOTES_FIELD_NUMBER: _ClassVar[int]
    height: int
    accepted_view: int
    accepted: _consensus_pb2.Block
    prepared_view: int
    prepared: _consensus_pb2.Block
    prepared_votes: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.SignedMessage]
    def __init__(self, height: _Optional[int] = ..., accepted_view: _Optional[int] = ..., accepted: _Optional[_Union[_consensus_pb2.Block, _Mapping]] = ..., prepared_view: _Optional[int] = ..., prepared: _Optional[_Union[_consensus_pb2.Block, _Mapping]] = ..., prepared_votes: _Optional[_Iterable[_Union[_consensus_pb2.SignedMessage, _Mapping]]] = ...) -> None: ...

class CheckpointState(_message.Message):
    __slots__ = ("height", "block_hash", "state_root", "proof")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    height: int
    block_hash: bytes
    state_root: bytes
    proof: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.SignedMessage]
    def __init__(self, height: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., state_root: _Optional[bytes] = ..., proof: _Optional[_Iterable[_Union[_consensus_pb2.SignedMessage, _Mapping]]] = ...) -> None: ...

class Tip(_message.Message):
    __slots__ = ("height", "hash", "state_root", "state_sum", "history_root")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    STATE_SUM_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ROOT_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    state_root: bytes
    state_sum: bytes
    history_root: bytes
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., state_root: _Optional[bytes] = ..., state_sum: _Optional[bytes] = ..., history_root: _Optional[bytes] = ...) -> None: ...

class TxLocation(_message.Message):
    __slots__ = ("height", "index")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    height: int
    index: int
    def __init__(self, height: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
