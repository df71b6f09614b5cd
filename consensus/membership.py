"""Validator sets by height, and the governance rules that change them.

Which keys may vote at a height is consensus itself, so the core owns it. Every replica
must switch sets at the same height and must know a height's set before voting there:

- The core reads the governance txs of each block it commits (the node decodes them,
  `TxChecker.governance`) and checks their approvals: a quorum of the validators of that
  block's set, each signing the exact proposal bytes.
- An accepted change takes effect after the first checkpoint height E at least one log
  window past the block (E >= H + log_window_blocks). A replica that has not executed the
  governance block H yet never votes that far: its window ends log_window_blocks past what
  it executed (`Replica.high_watermark`), so nobody votes above E under the old set by
  mistake.
- The log window stops at E while the switch is pending, so no window ever spans two
  sets; the new set takes over once the checkpoint at E is stable (a quorum of the old set
  vouches for the state the new set starts from).

A replacement (`replace_validator`) puts a new key in an old one's place, so the set keeps
its size and quorum: how a validator's consensus key is rotated, or a lost one retired.

The proposal's `sequence` must equal the channel's governance sequence, which every
accepted proposal increments: an approval cannot be replayed, and two proposals approved
against the same state cannot both apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from consensus.canonical import NonCanonical, decode_canonical
from consensus.config import ConsensusConfig, quorum_of
from consensus.crypto import Verifier
from protos import consensus_pb2 as pb

GOVERNANCE_CONTEXT = b"govchain-governance"
VALIDATORS_MAX = 64
KIND_VALIDATORS = "validators"
KIND_WRITE_POLICY = "write_policy"


def approval_bytes(proposal: bytes) -> bytes:
    """What a validator signs to approve a proposal (a context keeps it from being a vote)."""
    return GOVERNANCE_CONTEXT + proposal


@dataclass(frozen=True, slots=True)
class GovernanceTx:
    """What the core needs of a committed governance tx; the node decodes the envelope.

    `problem` is set when the node found the tx unusable in a way only it can see (another
    network's chain id, a write policy that does not parse); such a tx is refused."""

    kind: str  # KIND_VALIDATORS or KIND_WRITE_POLICY
    proposal: bytes
    approvals: tuple[tuple[bytes, bytes], ...]
    valid_until_height: int = 0
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Epoch:
    """The validator set of the heights from `first_height` up to the next epoch."""

    first_height: int
    validators: tuple[bytes, ...]
    addresses: tuple[str, ...]  # where each listens, as announced on chain ("" = config)


@dataclass(frozen=True, slots=True)
class Membership:
    epochs: tuple[Epoch, ...]
    sequence: int = 0  # governance proposals accepted so far

    @classmethod
    def genesis(cls, validators: Sequence[bytes]) -> Membership:
        return cls((Epoch(1, tuple(validators), ("",) * len(validators)),))

    def at(self, height: int) -> Epoch:
        """The set that orders block `height` (and signs its commits and checkpoint)."""
        for epoch in reversed(self.epochs):
            if epoch.first_height <= height:
                return epoch
        return self.epochs[0]

    def last_height_of(self, height: int) -> int | None:
        """The last height of the epoch holding `height`, or None if no later set is known."""
        for epoch in self.epochs:
            if epoch.first_height > height:
                return epoch.first_height - 1
        return None

    def address_of(self, key: bytes) -> str:
        """The latest address announced on chain for `key` ("" if none)."""
        for epoch in reversed(self.epochs):
            for k, address in zip(epoch.validators, epoch.addresses, strict=True):
                if k == key and address:
                    return address
        return ""

    def to_pb(self) -> pb.MembershipState:
        return pb.MembershipState(
            sequence=self.sequence,
            epochs=[
                pb.Epoch(
                    first_height=e.first_height,
                    validators=list(e.validators),
                    addresses=list(e.addresses),
                )
                for e in self.epochs
            ],
        )

    @classmethod
    def from_pb(cls, msg: pb.MembershipState) -> Membership:
        epochs = tuple(
            Epoch(e.first_height, tuple(e.validators), tuple(e.addresses)) for e in msg.epochs
        )
        return cls(epochs, msg.sequence)


def switch_height(committed_at: int, cfg: ConsensusConfig) -> int:
    """E: the first checkpoint height at least one log window above the governance block."""
    k = cfg.checkpoint_interval_blocks
    least = committed_at + cfg.log_window_blocks
    return -(-least // k) * k


def _approved(gtx: GovernanceTx, validators: tuple[bytes, ...], verifier: Verifier) -> str | None:
    """Why the approvals fall short of a quorum of `validators`, or None."""
    seen: set[bytes] = set()
    data = approval_bytes(gtx.proposal)
    for key, signature in gtx.approvals:
        if key not in validators:
            return f"approval by {key.hex()[:16]}, not a validator at this height"
        if key in seen:
            return f"two approvals by {key.hex()[:16]}"
        if not verifier.verify(key, data, signature):
            return f"bad approval signature by {key.hex()[:16]}"
        seen.add(key)
    need = quorum_of(len(validators))
    if len(seen) < need:
        return f"{len(seen)} approvals, {need} of {len(validators)} validators needed"
    return None


def _new_set(
    proposal: pb.GovernanceProposal, latest: Epoch
) -> tuple[tuple[bytes, ...], tuple[str, ...]] | str:
    keys, addresses = list(latest.validators), list(latest.addresses)
    change = proposal.WhichOneof("change")
    if change == "replace_validator":  # a key for another in the same place: same size
        old, add = proposal.replace_validator.old_key, proposal.replace_validator.replacement
        if old not in keys:
            return "the replaced key is not a validator"
        why = _addition_problem(add, keys, len(keys))
        if why is not None:
            return why
        i = keys.index(old)
        keys[i], addresses[i] = add.public_key, add.address
        return tuple(keys), tuple(addresses)
    if change == "add_validator":
        add = proposal.add_validator
        why = _addition_problem(add, keys, len(keys) + 1)
        if why is not None:
            return why
        keys.append(add.public_key)
        addresses.append(add.address)
        return tuple(keys), tuple(addresses)
    key = proposal.remove_validator
    if key not in keys:
        return "not a validator"
    if len(keys) == 1:
        return "cannot remove the last validator"
    i = keys.index(key)
    del keys[i], addresses[i]
    return tuple(keys), tuple(addresses)


def _addition_problem(add: pb.ValidatorAdd, keys: list[bytes], size: int) -> str | None:
    """Why `add` cannot join `keys` in a set of `size` validators, or None."""
    if keys and len(add.public_key) != len(keys[0]):  # the channel's suite's key length
        return f"the new validator key must be {len(keys[0])} bytes"
    if add.public_key in keys:
        return "already a validator"
    if size > VALIDATORS_MAX:
        return f"a channel has at most {VALIDATORS_MAX} validators"
    if not _is_address(add.address):
        return "the new validator needs an address: host:port, printable, at most 255"
    return None


def _is_address(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return (
        0 < len(address) <= 255
        and all("!" <= c <= "~" for c in address)
        and bool(host)
        and port.isdigit()
        and 0 < int(port) < 65536
    )


def decide(
    membership: Membership,
    gtx: GovernanceTx,
    height: int,
    cfg: ConsensusConfig,
    verifier: Verifier,
) -> tuple[Membership, str]:
    """The membership after the governance tx `gtx` committed in block `height`, and ""
    if it was accepted or why it was refused (a refused tx changes nothing)."""
    if gtx.problem:
        return membership, gtx.problem
    if gtx.valid_until_height and gtx.valid_until_height < height:
        return membership, f"expired: valid until height {gtx.valid_until_height}"
    try:
        proposal = decode_canonical(pb.GovernanceProposal, gtx.proposal)
    except DecodeError:
        return membership, "the proposal does not parse"
    except NonCanonical:
        return membership, "the proposal is not canonically encoded"
    change = proposal.WhichOneof("change")
    if proposal.channel != cfg.channel:
        return membership, f"a proposal for channel {proposal.channel!r}"
    wanted = KIND_WRITE_POLICY if change == "write_policy" else KIND_VALIDATORS
    if change is None or gtx.kind != wanted:
        return membership, "the proposal's change does not match the tx type"
    if proposal.sequence != membership.sequence:
        return membership, (
            f"a proposal for governance sequence {proposal.sequence}; "
            f"the channel is at {membership.sequence}"
        )
    why = _approved(gtx, membership.at(height).validators, verifier)
    if why is not None:
        return membership, why
    bumped = Membership(membership.epochs, membership.sequence + 1)
    if change == "write_policy":
        return bumped, ""
    latest = membership.epochs[-1]
    if latest.first_height > height:
        return membership, (
            f"a validator change is pending (new set from height {latest.first_height})"
        )
    new = _new_set(proposal, latest)
    if isinstance(new, str):
        return membership, new
    epoch = Epoch(switch_height(height, cfg) + 1, *new)
    return Membership((*membership.epochs, epoch), membership.sequence + 1), ""
