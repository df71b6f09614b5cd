from protos import consensus_pb2 as _consensus_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TxStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TX_STATUS_UNSPECIFIED: _ClassVar[TxStatus]
    ACCEPTED: _ClassVar[TxStatus]
    DUPLICATE: _ClassVar[TxStatus]
    ALREADY_COMMITTED: _ClassVar[TxStatus]
    BAD_SIGNATURE: _ClassVar[TxStatus]
    UNKNOWN_CHANNEL: _ClassVar[TxStatus]
    EXPIRED: _ClassVar[TxStatus]
    MEMPOOL_FULL: _ClassVar[TxStatus]
    TOO_LARGE: _ClassVar[TxStatus]
    MALFORMED: _ClassVar[TxStatus]
    WRONG_CHAIN: _ClassVar[TxStatus]
    REJECTED: _ClassVar[TxStatus]
    PERMISSION_DENIED: _ClassVar[TxStatus]
TX_STATUS_UNSPECIFIED: TxStatus
ACCEPTED: TxStatus
DUPLICATE: TxStatus
ALREADY_COMMITTED: TxStatus
BAD_SIGNATURE: TxStatus
UNKNOWN_CHANNEL: TxStatus
EXPIRED: TxStatus
MEMPOOL_FULL: TxStatus
TOO_LARGE: TxStatus
MALFORMED: TxStatus
WRONG_CHAIN: TxStatus
REJECTED: TxStatus
PERMISSION_DENIED: TxStatus

class TxBody(_message.Message):
    __slots__ = ("chain_id", "channel", "type", "payload", "nonce", "valid_until_height")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    channel: str
    type: str
    payload: bytes
    nonce: int
    valid_until_height: int
    def __init__(self, chain_id: _Optional[str] = ..., channel: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[bytes] = ..., nonce: _Optional[int] = ..., valid_until_height: _Optional[int] = ...) -> None: ...

class TxEnvelope(_message.Message):
    __slots__ = ("body", "signature", "signer")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    signer: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signer: _Optional[bytes] = ...) -> None: ...

class RotateKey(_message.Message):
    __slots__ = ("new_key", "proof")
    NEW_KEY_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    new_key: bytes
    proof: bytes
    def __init__(self, new_key: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class DepartmentKeys(_message.Message):
    __slots__ = ("departments",)
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    departments: _containers.RepeatedCompositeFieldContainer[DepartmentKeySet]
    def __init__(self, departments: _Optional[_Iterable[_Union[DepartmentKeySet, _Mapping]]] = ...) -> None: ...

class DepartmentKeySet(_message.Message):
    __slots__ = ("id", "keys", "roles", "operator", "removed_keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    REMOVED_KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    roles: _containers.RepeatedScalarFieldContainer[str]
    operator: str
    removed_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, id: _Optional[str] = ..., keys: _Optional[_Iterable[bytes]] = ..., roles: _Optional[_Iterable[str]] = ..., operator: _Optional[str] = ..., removed_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AddTerminal(_message.Message):
    __slots__ = ("terminal_id", "public_key", "proof")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    public_key: bytes
    proof: bytes
    def __init__(self, terminal_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class RemoveTerminal(_message.Message):
    __slots__ = ("terminal_id",)
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    def __init__(self, terminal_id: _Optional[str] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ("tx_id", "status", "detail")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    status: TxStatus
    detail: str
    def __init__(self, tx_id: _Optional[bytes] = ..., status: _Optional[_Union[TxStatus, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitResult, _Mapping]]] = ...) -> None: ...

class TxResult(_message.Message):
    __slots__ = ("code", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class BlockResults(_message.Message):
    __slots__ = ("results", "state_root")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TxResult]
    state_root: bytes
    def __init__(self, results: _Optional[_Iterable[_Union[TxResult, _Mapping]]] = ..., state_root: _Optional[bytes] = ...) -> None: ...

class GetBlockRequest(_message.Message):
    __slots__ = ("channel", "height", "hash")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    channel: str
    height: int
    hash: bytes
    def __init__(self, channel: _Optional[str] = ..., height: _Optional[int] = ..., hash: _Optional[bytes] = ...) -> None: ...

class GetBlockResponse(_message.Message):
    __slots__ = ("height", "hash", "block", "results")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    block: _consensus_pb2.CertifiedBlock
    results: BlockResults
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., block: _Optional[_Union[_consensus_pb2.CertifiedBlock, _Mapping]] = ..., results: _Optional[_Union[BlockResults, _Mapping]] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("channel", "tx_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    tx_id: bytes
    def __init__(self, channel: _Optional[str] = ..., tx_id: _Optional[bytes] = ...) -> None: ...

class MerkleProof(_message.Message):
    __slots__ = ("index", "leaf_count", "siblings")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    index: int
    leaf_count: int
    siblings: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., leaf_count: _Optional[int] = ..., siblings: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetTransactionResponse(_message.Message):
    __slots__ = ("tx", "height", "index", "result", "block_header", "proof")
    TX_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEADER_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    tx: bytes
    height: int
    index: int
    result: TxResult
    block_header: bytes
    proof: MerkleProof
    def __init__(self, tx: _Optional[bytes] = ..., height: _Optional[int] = ..., index: _Optional[int] = ..., result: _Optional[_Union[TxResult, _Mapping]] = ..., block_header: _Optional[bytes] = ..., proof: _Optional[_Union[MerkleProof, _Mapping]] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ("channel", "key")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    channel: str
    key: bytes
    def __init__(self, channel: _Optional[str] = ..., key: _Optional[bytes] = ...) -> None: ...

class GetStateResponse(_message.Message):
    __slots__ = ("found", "value", "height")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    height: int
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ..., height: _Optional[int] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChannelStatus(_message.Message):
    __slots__ = ("channel", "height", "view", "view_active", "primary", "validators", "peers_connected", "mempool_txs", "mempool_bytes", "stable_height", "state_root", "member", "next_validators", "next_set_from_height", "governance_sequence", "failure")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    VIEW_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    PEERS_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    MEMPOOL_TXS_FIELD_NUMBER: _ClassVar[int]
    MEMPOOL_BYTES_FIELD_NUMBER: _ClassVar[int]
    STABLE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    NEXT_VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_SET_FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    GOVERNANCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    height: int
    view: int
    view_active: bool
    primary: bytes
    validators: _containers.RepeatedScalarFieldContainer[bytes]
    peers_connected: int
    mempool_txs: int
    mempool_bytes: int
    stable_height: int
    state_root: bytes
    member: bool
    next_validators: _containers.RepeatedScalarFieldContainer[bytes]
    next_set_from_height: int
    governance_sequence: int
    failure: str
    def __init__(self, channel: _Optional[str] = ..., height: _Optional[int] = ..., view: _Optional[int] = ..., view_active: _Optional[bool] = ..., primary: _Optional[bytes] = ..., validators: _Optional[_Iterable[bytes]] = ..., peers_connected: _Optional[int] = ..., mempool_txs: _Optional[int] = ..., mempool_bytes: _Optional[int] = ..., stable_height: _Optional[int] = ..., state_root: _Optional[bytes] = ..., member: _Optional[bool] = ..., next_validators: _Optional[_Iterable[bytes]] = ..., next_set_from_height: _Optional[int] = ..., governance_sequence: _Optional[int] = ..., failure: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("node_id", "public_key", "channels", "chain_id", "failures")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    public_key: bytes
    channels: _containers.RepeatedCompositeFieldContainer[ChannelStatus]
    chain_id: str
    failures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., channels: _Optional[_Iterable[_Union[ChannelStatus, _Mapping]]] = ..., chain_id: _Optional[str] = ..., failures: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamBlocksRequest(_message.Message):
    __slots__ = ("channel", "from_height")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    from_height: int
    def __init__(self, channel: _Optional[str] = ..., from_height: _Optional[int] = ...) -> None: ...

class BlockEvent(_message.Message):
    __slots__ = ("height", "hash", "block", "results")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    block: _consensus_pb2.CertifiedBlock
    results: BlockResults
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., block: _Optional[_Union[_consensus_pb2.CertifiedBlock, _Mapping]] = ..., results: _Optional[_Union[BlockResults, _Mapping]] = ...) -> None: ...

class PeerHello(_message.Message):
    __slots__ = ("chain_id", "public_key", "receiver", "timestamp_ms", "signature")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    public_key: bytes
    receiver: bytes
    timestamp_ms: int
    signature: bytes
    def __init__(self, chain_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., receiver: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ConsensusBatch(_message.Message):
    __slots__ = ("channel", "envelopes")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    channel: str
    envelopes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, channel: _Optional[str] = ..., envelopes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TxGossip(_message.Message):
    __slots__ = ("channel", "txs")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TXS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, channel: _Optional[str] = ..., txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PeerFrame(_message.Message):
    __slots__ = ("hello", "consensus", "txs")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    TXS_FIELD_NUMBER: _ClassVar[int]
    hello: PeerHello
    consensus: ConsensusBatch
    txs: TxGossip
    def __init__(self, hello: _Optional[_Union[PeerHello, _Mapping]] = ..., consensus: _Optional[_Union[ConsensusBatch, _Mapping]] = ..., txs: _Optional[_Union[TxGossip, _Mapping]] = ...) -> None: ...

class PeerAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FetchBlocksRequest(_message.Message):
    __slots__ = ("channel", "from_height", "to_height")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TO_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    from_height: int
    to_height: int
    def __init__(self, channel: _Optional[str] = ..., from_height: _Optional[int] = ..., to_height: _Optional[int] = ...) -> None: ...

class FetchBlocksResponse(_message.Message):
    __slots__ = ("blocks", "checkpoint")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.CertifiedBlock]
    checkpoint: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.SignedMessage]
    def __init__(self, blocks: _Optional[_Iterable[_Union[_consensus_pb2.CertifiedBlock, _Mapping]]] = ..., checkpoint: _Optional[_Iterable[_Union[_consensus_pb2.SignedMessage, _Mapping]]] = ...) -> None: ...

class FetchTxsRequest(_message.Message):
    __slots__ = ("channel", "digest", "tx_ids")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    TX_IDS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    digest: bytes
    tx_ids: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, channel: _Optional[str] = ..., digest: _Optional[bytes] = ..., tx_ids: _Optional[_Iterable[bytes]] = ...) -> None: ...

class FetchTxsResponse(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SnapshotEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[SnapshotEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[SnapshotEntry, _Mapping]]] = ...) -> None: ...

class SnapshotChunkInfo(_message.Message):
    __slots__ = ("entries", "bytes", "sum")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    entries: int
    bytes: int
    sum: bytes
    def __init__(self, entries: _Optional[int] = ..., bytes: _Optional[int] = ..., sum: _Optional[bytes] = ...) -> None: ...

class SnapshotManifest(_message.Message):
    __slots__ = ("format", "chain_id", "channel", "crypto_suite", "height", "block", "results", "previous_root", "history_root", "checkpoint", "governance", "chunks")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_SUITE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ROOT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ROOT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    GOVERNANCE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    format: int
    chain_id: str
    channel: str
    crypto_suite: str
    height: int
    block: _consensus_pb2.CertifiedBlock
    results: BlockResults
    previous_root: bytes
    history_root: bytes
    checkpoint: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.SignedMessage]
    governance: _containers.RepeatedCompositeFieldContainer[_consensus_pb2.CertifiedBlock]
    chunks: _containers.RepeatedCompositeFieldContainer[SnapshotChunkInfo]
    def __init__(self, format: _Optional[int] = ..., chain_id: _Optional[str] = ..., channel: _Optional[str] = ..., crypto_suite: _Optional[str] = ..., height: _Optional[int] = ..., block: _Optional[_Union[_consensus_pb2.CertifiedBlock, _Mapping]] = ..., results: _Optional[_Union[BlockResults, _Mapping]] = ..., previous_root: _Optional[bytes] = ..., history_root: _Optional[bytes] = ..., checkpoint: _Optional[_Iterable[_Union[_consensus_pb2.SignedMessage, _Mapping]]] = ..., governance: _Optional[_Iterable[_Union[_consensus_pb2.CertifiedBlock, _Mapping]]] = ..., chunks: _Optional[_Iterable[_Union[SnapshotChunkInfo, _Mapping]]] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    def __init__(self, channel: _Optional[str] = ...) -> None: ...

class SnapshotOffer(_message.Message):
    __slots__ = ("height", "chunks", "manifest_hash")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_HASH_FIELD_NUMBER: _ClassVar[int]
    height: int
    chunks: int
    manifest_hash: bytes
    def __init__(self, height: _Optional[int] = ..., chunks: _Optional[int] = ..., manifest_hash: _Optional[bytes] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotOffer]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[SnapshotOffer, _Mapping]]] = ...) -> None: ...

class FetchSnapshotRequest(_message.Message):
    __slots__ = ("channel", "height", "manifest", "chunk")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    channel: str
    height: int
    manifest: bool
    chunk: int
    def __init__(self, channel: _Optional[str] = ..., height: _Optional[int] = ..., manifest: _Optional[bool] = ..., chunk: _Optional[int] = ...) -> None: ...

class FetchSnapshotResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("channel", "chunk_bytes")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    channel: str
    chunk_bytes: int
    def __init__(self, channel: _Optional[str] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class BackupChunk(_message.Message):
    __slots__ = ("height", "tip_hash", "keys", "values", "done", "key_count", "contents_sha256")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIP_HASH_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_SHA256_FIELD_NUMBER: _ClassVar[int]
    height: int
    tip_hash: bytes
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    done: bool
    key_count: int
    contents_sha256: bytes
    def __init__(self, height: _Optional[int] = ..., tip_hash: _Optional[bytes] = ..., keys: _Optional[_Iterable[bytes]] = ..., values: _Optional[_Iterable[bytes]] = ..., done: _Optional[bool] = ..., key_count: _Optional[int] = ..., contents_sha256: _Optional[bytes] = ...) -> None: ...
