from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BlockHeader(_message.Message):
    __slots__ = ("channel", "height", "view", "parent_hash", "tx_root", "proposer", "timestamp_ms")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    TX_ROOT_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    height: int
    view: int
    parent_hash: bytes
    tx_root: bytes
    proposer: bytes
    timestamp_ms: int
    def __init__(self, channel: _Optional[str] = ..., height: _Optional[int] = ..., view: _Optional[int] = ..., parent_hash: _Optional[bytes] = ..., tx_root: _Optional[bytes] = ..., proposer: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "txs", "tx_ids")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TXS_FIELD_NUMBER: _ClassVar[int]
    TX_IDS_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    tx_ids: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, header: _Optional[bytes] = ..., txs: _Optional[_Iterable[bytes]] = ..., tx_ids: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Vote(_message.Message):
    __slots__ = ("view", "height", "digest")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    view: int
    height: int
    digest: bytes
    def __init__(self, view: _Optional[int] = ..., height: _Optional[int] = ..., digest: _Optional[bytes] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("height", "block_hash", "state_root")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    height: int
    block_hash: bytes
    state_root: bytes
    def __init__(self, height: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., state_root: _Optional[bytes] = ...) -> None: ...

class PreparedCertificate(_message.Message):
    __slots__ = ("prepares",)
    PREPARES_FIELD_NUMBER: _ClassVar[int]
    prepares: _containers.RepeatedCompositeFieldContainer[SignedMessage]
    def __init__(self, prepares: _Optional[_Iterable[_Union[SignedMessage, _Mapping]]] = ...) -> None: ...

class ViewChange(_message.Message):
    __slots__ = ("new_view", "stable_height", "checkpoint_proof", "prepared")
    NEW_VIEW_FIELD_NUMBER: _ClassVar[int]
    STABLE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_PROOF_FIELD_NUMBER: _ClassVar[int]
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    new_view: int
    stable_height: int
    checkpoint_proof: _containers.RepeatedCompositeFieldContainer[SignedMessage]
    prepared: _containers.RepeatedCompositeFieldContainer[PreparedCertificate]
    def __init__(self, new_view: _Optional[int] = ..., stable_height: _Optional[int] = ..., checkpoint_proof: _Optional[_Iterable[_Union[SignedMessage, _Mapping]]] = ..., prepared: _Optional[_Iterable[_Union[PreparedCertificate, _Mapping]]] = ...) -> None: ...

class Reproposal(_message.Message):
    __slots__ = ("height", "digest")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    height: int
    digest: bytes
    def __init__(self, height: _Optional[int] = ..., digest: _Optional[bytes] = ...) -> None: ...

class NewView(_message.Message):
    __slots__ = ("view", "view_changes", "reproposals")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    VIEW_CHANGES_FIELD_NUMBER: _ClassVar[int]
    REPROPOSALS_FIELD_NUMBER: _ClassVar[int]
    view: int
    view_changes: _containers.RepeatedCompositeFieldContainer[SignedMessage]
    reproposals: _containers.RepeatedCompositeFieldContainer[Reproposal]
    def __init__(self, view: _Optional[int] = ..., view_changes: _Optional[_Iterable[_Union[SignedMessage, _Mapping]]] = ..., reproposals: _Optional[_Iterable[_Union[Reproposal, _Mapping]]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("view", "view_active", "executed_height", "stable_height")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    VIEW_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STABLE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    view: int
    view_active: bool
    executed_height: int
    stable_height: int
    def __init__(self, view: _Optional[int] = ..., view_active: _Optional[bool] = ..., executed_height: _Optional[int] = ..., stable_height: _Optional[int] = ...) -> None: ...

class ConsensusMessage(_message.Message):
    __slots__ = ("channel", "sender", "pre_prepare", "prepare", "commit", "checkpoint", "view_change", "new_view", "status")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    PRE_PREPARE_FIELD_NUMBER: _ClassVar[int]
    PREPARE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    VIEW_CHANGE_FIELD_NUMBER: _ClassVar[int]
    NEW_VIEW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    channel: str
    sender: bytes
    pre_prepare: Vote
    prepare: Vote
    commit: Vote
    checkpoint: Checkpoint
    view_change: ViewChange
    new_view: NewView
    status: Status
    def __init__(self, channel: _Optional[str] = ..., sender: _Optional[bytes] = ..., pre_prepare: _Optional[_Union[Vote, _Mapping]] = ..., prepare: _Optional[_Union[Vote, _Mapping]] = ..., commit: _Optional[_Union[Vote, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., view_change: _Optional[_Union[ViewChange, _Mapping]] = ..., new_view: _Optional[_Union[NewView, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class SignedMessage(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("message", "blocks")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    message: SignedMessage
    blocks: _containers.RepeatedCompositeFieldContainer[Block]
    def __init__(self, message: _Optional[_Union[SignedMessage, _Mapping]] = ..., blocks: _Optional[_Iterable[_Union[Block, _Mapping]]] = ...) -> None: ...

class CertifiedBlock(_message.Message):
    __slots__ = ("block", "commits")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    block: Block
    commits: _containers.RepeatedCompositeFieldContainer[SignedMessage]
    def __init__(self, block: _Optional[_Union[Block, _Mapping]] = ..., commits: _Optional[_Iterable[_Union[SignedMessage, _Mapping]]] = ...) -> None: ...

class GovernanceProposal(_message.Message):
    __slots__ = ("chain_id", "channel", "sequence", "add_validator", "remove_validator", "write_policy", "replace_validator")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADD_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    REMOVE_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    WRITE_POLICY_FIELD_NUMBER: _ClassVar[int]
    REPLACE_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    channel: str
    sequence: int
    add_validator: ValidatorAdd
    remove_validator: bytes
    write_policy: bytes
    replace_validator: ValidatorReplace
    def __init__(self, chain_id: _Optional[str] = ..., channel: _Optional[str] = ..., sequence: _Optional[int] = ..., add_validator: _Optional[_Union[ValidatorAdd, _Mapping]] = ..., remove_validator: _Optional[bytes] = ..., write_policy: _Optional[bytes] = ..., replace_validator: _Optional[_Union[ValidatorReplace, _Mapping]] = ...) -> None: ...

class ValidatorReplace(_message.Message):
    __slots__ = ("old_key", "replacement")
    OLD_KEY_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    old_key: bytes
    replacement: ValidatorAdd
    def __init__(self, old_key: _Optional[bytes] = ..., replacement: _Optional[_Union[ValidatorAdd, _Mapping]] = ...) -> None: ...

class ValidatorAdd(_message.Message):
    __slots__ = ("public_key", "address")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    address: str
    def __init__(self, public_key: _Optional[bytes] = ..., address: _Optional[str] = ...) -> None: ...

class GovernanceApproval(_message.Message):
    __slots__ = ("validator", "signature")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    validator: bytes
    signature: bytes
    def __init__(self, validator: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class GovernanceTx(_message.Message):
    __slots__ = ("proposal", "approvals")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    proposal: bytes
    approvals: _containers.RepeatedCompositeFieldContainer[GovernanceApproval]
    def __init__(self, proposal: _Optional[bytes] = ..., approvals: _Optional[_Iterable[_Union[GovernanceApproval, _Mapping]]] = ...) -> None: ...

class Epoch(_message.Message):
    __slots__ = ("first_height", "validators", "addresses")
    FIRST_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    first_height: int
    validators: _containers.RepeatedScalarFieldContainer[bytes]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, first_height: _Optional[int] = ..., validators: _Optional[_Iterable[bytes]] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class MembershipState(_message.Message):
    __slots__ = ("sequence", "epochs")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    epochs: _containers.RepeatedCompositeFieldContainer[Epoch]
    def __init__(self, sequence: _Optional[int] = ..., epochs: _Optional[_Iterable[_Union[Epoch, _Mapping]]] = ...) -> None: ...
