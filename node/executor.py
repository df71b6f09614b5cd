"""Applies committed blocks through the channel's application, deterministically.

Per tx, in block order: a tx that does not decode, belongs elsewhere, expired
(valid_until_height below the block height) or repeats a committed tx keeps its place
with a result code and changes nothing; otherwise the application decides. Each tx sees
the writes of the txs before it. The state root binds two things: the history (the
previous root, the height and a digest of this block's writes, so equal roots mean equal
state histories) and the contents (storage/state_sum.py: a sum over every state entry
and committed tx id, so a snapshot of the state can be checked against a certified root).

Governance txs are judged by the consensus core, which owns the validator sets; the
executor records its verdicts, stores the membership it hands over, and applies an
accepted write policy from the next tx on. A department's key rotation
(`registry.rotate_key`, chains/registry.py), and the terminals a department adds and
removes (`registry.add_terminal`, `registry.remove_terminal`), are run here too, whatever
the application, and rule from the next block on: the departments the applications see and the write
policy admission checks. The membership, write policy and department keys live in the
world state, so the checkpoints every validator signs cover them too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chains.base import Application, BlockContext, Departments, Outcome, is_node_key
from chains.codes import OK
from chains.governance import (
    GOV_WRITE_POLICY,
    MEMBERSHIP_KEY,
    WRITE_POLICY_KEY,
    parse_governance,
)
from chains.governance import KINDS as GOVERNANCE_KINDS
from chains.policy import WritePolicy
from chains.registry import DEPARTMENT_KEYS_KEY, REGISTRY_TYPES, apply_registry, departments_in
from chains.tx import DecodedTx, Hash, TxError, decode_tx
from consensus.hashing import SHA256, Hashing, sha256
from consensus.membership import Membership
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from storage.state_sum import EMPTY_SUM, block_sum

MALFORMED = 1
WRONG_CHANNEL = 2
EXPIRED = 3
DUPLICATE = 4
NOT_PERMITTED = 5  # the channel's write policy forbids the signer this tx type
GOVERNANCE_REFUSED = 6  # the consensus core refused a governance proposal (reason says why)


@dataclass(frozen=True)
class BlockOutcome:
    results: api.BlockResults
    writes: dict[bytes, bytes | None]
    tx_ids: list[bytes]  # one per tx; b"" for a repeat of a committed tx (not indexed again)
    timestamp_ms: int = 0  # the block header's (the primary's clock when it proposed)
    state_sum: bytes = EMPTY_SUM  # the content commitment after the block
    history_root: bytes = b""  # the history half of the state root (a snapshot names it)


class _Overlay:
    """World state as seen by one tx: committed state plus this block's earlier writes."""

    def __init__(self, base: Callable[[bytes], bytes | None], writes: Mapping[bytes, bytes | None]):
        self._base = base
        self._writes = writes

    def get(self, key: bytes) -> bytes | None:
        if key in self._writes:
            return self._writes[key]
        return self._base(key)


def history_root(
    previous: bytes, height: int, writes: Mapping[bytes, bytes | None], hash_: Hash = sha256
) -> bytes:
    """The history half of a state root: `hash_` (the channel's suite hash, SHA-256 or
    SM3) of the previous root, the height and the block's sorted writes."""
    h = hash_(
        b"".join(
            len(k).to_bytes(4, "big")
            + k
            + (b"\x00" if v is None else b"\x01" + len(v).to_bytes(4, "big") + v)
            for k, v in sorted(writes.items())
        )
    )
    return hash_(previous + height.to_bytes(8, "big") + h)


def state_root(
    previous: bytes,
    height: int,
    writes: Mapping[bytes, bytes | None],
    hash_: Hash = sha256,
    state_sum: bytes = EMPTY_SUM,
) -> bytes:
    """The state root after a block: H(history root || H(state sum))."""
    return root_of(history_root(previous, height, writes, hash_), state_sum, hash_)


def root_of(history: bytes, state_sum: bytes, hash_: Hash = sha256) -> bytes:
    """A state root from its halves: what a joiner recomputes from a snapshot."""
    return hash_(history + hash_(state_sum))


class Executor:
    def __init__(
        self,
        app: Application,
        chain_id: str,
        channel: str,
        tx_bytes_max: int,
        departments: Departments | None = None,
        policy: WritePolicy | None = None,
        hashing: Hashing = SHA256,
    ) -> None:
        self.app = app
        self.hashing = hashing  # the channel's suite hash: tx ids, state roots, the apps'
        self.hash = hashing.hash
        self.policy = policy or WritePolicy(None, departments or Departments())
        self.departments = departments or Departments()
        self.chain_id = chain_id
        self.channel = channel
        self.tx_bytes_max = tx_bytes_max
        self.on_policy: Callable[[WritePolicy], None] = lambda _policy: None
        self.on_departments: Callable[[Departments], None] = lambda _departments: None
        # The tx as this node's admission decoded it, by id (the mempool's), or None: a tx
        # is then parsed once per node, not again when its block executes.
        self.decoded: Callable[[bytes], DecodedTx | None] = lambda _tid: None

    def execute(
        self,
        block: pb.CertifiedBlock,
        height: int,
        previous_root: bytes,
        read: Callable[[bytes], bytes | None],
        committed: Callable[[bytes], bool],
        governance: Mapping[int, str] | None = None,
        membership: Membership | None = None,
        previous_sum: bytes = EMPTY_SUM,
    ) -> BlockOutcome:
        writes: dict[bytes, bytes | None] = {}
        results: list[api.TxResult] = []
        ids: list[bytes] = []
        seen: set[bytes] = set()
        verdicts = governance or {}
        header = pb.BlockHeader.FromString(block.block.header)
        ctx = BlockContext(height, header.timestamp_ms, self.departments, self.hashing)
        for i, raw in enumerate(block.block.txs):
            tid = self.hash(raw)
            verdict = verdicts.get(i)
            if tid in seen or committed(tid):
                ids.append(b"")
                if verdict is None:
                    results.append(api.TxResult(code=DUPLICATE, reason="tx already committed"))
                    continue
            else:
                seen.add(tid)
                ids.append(tid)
            if verdict is not None:  # the core's word: a repeat may apply at a later sequence
                outcome = self._governance(raw, verdict, height)
            else:
                outcome = self._apply_one(raw, tid, ctx, _Overlay(read, writes))
            if outcome.code == OK:
                writes.update(outcome.writes)
            results.append(api.TxResult(code=outcome.code, reason=outcome.reason))
        if DEPARTMENT_KEYS_KEY in writes:  # the registry changed: from the next block on
            self.set_departments(departments_in(writes[DEPARTMENT_KEYS_KEY], self.departments))
        if membership is not None:
            writes[MEMBERSHIP_KEY] = membership.to_pb().SerializeToString(deterministic=True)
        new_sum = block_sum(self.hashing, previous_sum, height, writes, read, ids)
        history = history_root(previous_root, height, writes, self.hash)
        root = root_of(history, new_sum, self.hash)
        results_pb = api.BlockResults(results=results, state_root=root)
        return BlockOutcome(results_pb, writes, ids, header.timestamp_ms, new_sum, history)

    def _governance(self, raw: bytes, verdict: str, height: int) -> Outcome:
        """Record the core's verdict; an accepted write policy rules from the next tx on."""
        tx = decode_tx(raw, self.chain_id, self.tx_bytes_max, tx_hash=self.hash)  # core did too
        if tx.body.valid_until_height and tx.body.valid_until_height < height:
            return Outcome(EXPIRED, f"valid until {tx.body.valid_until_height}")
        if verdict:
            return Outcome(GOVERNANCE_REFUSED, verdict)
        if tx.body.type != GOV_WRITE_POLICY:
            return Outcome(OK)
        parsed = parse_governance(tx)
        assert not isinstance(parsed, str), "the core accepted a proposal the node refuses"
        rules = parsed[1].write_policy
        self.set_policy(WritePolicy.from_params(json.loads(rules), self.departments))
        return Outcome(OK, writes={WRITE_POLICY_KEY: rules})

    def set_policy(self, policy: WritePolicy) -> None:
        self.policy = policy
        self.on_policy(policy)

    def set_departments(self, departments: Departments) -> None:
        """The departments' keys changed: the write policy follows (and admission with it)."""
        self.departments = departments
        self.set_policy(WritePolicy(self.policy.rules, departments))
        self.on_departments(departments)

    def _decode(self, raw: bytes, tid: bytes) -> DecodedTx:
        """The tx parsed and checked exactly as decode_tx does here. Admission's decoding
        is reused only where it is the same verdict: admission ran the same checks with the
        node's tx_bytes_max, so only the size is held again to this channel's limit (every
        node must judge a block's txs alike)."""
        held = self.decoded(tid)
        if held is not None and held.raw == raw and len(raw) <= self.tx_bytes_max:
            return held
        return decode_tx(raw, self.chain_id, self.tx_bytes_max, tx_id=tid)

    def _apply_one(self, raw: bytes, tid: bytes, ctx: BlockContext, state: _Overlay) -> Outcome:
        height = ctx.height
        try:
            tx = self._decode(raw, tid)
        except TxError as e:
            return Outcome(MALFORMED, e.detail)
        if tx.body.channel != self.channel:
            return Outcome(WRONG_CHANNEL, f"tx for channel {tx.body.channel!r}")
        if tx.body.valid_until_height and tx.body.valid_until_height < height:
            return Outcome(EXPIRED, f"valid until {tx.body.valid_until_height}")
        if tx.body.type in GOVERNANCE_KINDS:  # not judged by the core: another channel's
            return Outcome(GOVERNANCE_REFUSED, "not a governance tx of this channel")
        if tx.body.type in REGISTRY_TYPES:  # its own rules, stricter than any role: the
            return apply_registry(state, tx, ctx.departments)  # signer's department's key
        denied = self.policy.denies(tx)
        if denied is not None:
            return Outcome(NOT_PERMITTED, denied)
        outcome = self.app.apply(state, tx, ctx)
        if outcome.code == OK and any(is_node_key(k) for k in outcome.writes):
            return Outcome(NOT_PERMITTED, "writes a key reserved for the node (0x00 prefix)")
        return outcome
