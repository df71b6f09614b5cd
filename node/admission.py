"""Admitting client txs (submit and gossip): decode, check, verify in batches, queue.

Cheap checks run first (shape, chain, channel, application, mempool rules), so the
expensive signature checks only run for txs that could be admitted, all at once on the
verifier's pool. Each tx gets its own status; one bad tx never fails its batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chains.base import Application, Departments
from chains.governance import KINDS as GOVERNANCE_KINDS
from chains.policy import WritePolicy
from chains.registry import REGISTRY_TYPES, registry_denied, registry_problem
from chains.tx import DecodedTx, Hash, TxError, decode_tx
from consensus.hashing import sha256
from node.governance import admission_problem
from node.mempool import Mempool
from node.tx_signatures import NodeTxChecker
from protos import api_pb2 as api


@dataclass
class ChannelAdmission:
    """What admission needs of one channel."""

    checker: NodeTxChecker
    mempool: Mempool
    app: Application
    next_height: Callable[[], int]
    committed: Callable[[bytes], bool]
    enqueue: Callable[[list[bytes]], None]
    counts: Counter[str] = field(default_factory=Counter)  # admission status -> txs (metrics)
    policy: WritePolicy = field(default_factory=lambda: WritePolicy(None, Departments()))
    # Whether this node is in the channel's current or next validator set: an observer
    # cannot forward txs (the validators do not take its streams), so it refuses them.
    member: Callable[[], bool] = lambda: True
    # Why the channel takes no txs (its runtime failed), or None while it runs.
    unavailable: Callable[[], str | None] = lambda: None


class Unavailable(Exception):
    """A client's call names a channel that has failed (or the node is stopping): the
    caller answers UNAVAILABLE with this message rather than admit txs nobody orders."""


NOT_MEMBER = "this node only observes the channel (not a validator); submit to a validator"
IN_MEMPOOL = "already in the mempool"


async def admit(
    raws: list[bytes],
    chain_id: str,
    tx_bytes_max: int,
    channels: Mapping[str, ChannelAdmission],
    unrouted: Counter[str] | None = None,
    all_or_nothing: bool = False,
    tx_hash: Hash = sha256,
) -> tuple[list[api.SubmitResult], dict[str, list[bytes]]]:
    """Statuses per tx, and the admitted raw txs per channel (for ordering and gossip).
    Each status is counted on its channel, or in `unrouted` for txs with no known channel.
    With `all_or_nothing` (a client's call), one tx the write policy denies stops the
    whole call before anything is verified or admitted: every other tx is returned
    unadmitted (TX_STATUS_UNSPECIFIED) and the caller answers PERMISSION_DENIED.
    `tx_hash` is the node's suite hash (its channels share one suite): the tx ids."""
    if all_or_nothing and channels and all(c.mempool.saturated() for c in channels.values()):
        return _all_busy(raws, channels, unrouted, tx_hash), {}
    routed: list[ChannelAdmission | None] = []
    results: list[api.SubmitResult] = []
    candidates: list[Candidate] = []
    members: dict[str, bool] = {}
    for raw in raws:
        ch, result, tx = _screen(
            raw, chain_id, tx_bytes_max, channels, members, all_or_nothing, tx_hash
        )
        routed.append(ch)
        if tx is not None and ch is not None:
            candidates.append((len(results), tx, ch))
        results.append(result)
    # Only the write policy answers PERMISSION_DENIED here.
    if all_or_nothing and any(r.status == api.PERMISSION_DENIED for r in results):
        for i, result in enumerate(results):
            if result.status == api.ACCEPTED:
                results[i] = api.SubmitResult(tx_id=result.tx_id, detail="call refused")
        _count(results, routed, unrouted)
        return results, {}
    admitted = await _verify_and_add(candidates, results, all_or_nothing)
    for channel, txs in admitted.items():
        channels[channel].enqueue(txs)
    _count(results, routed, unrouted)
    return results, admitted


def _all_busy(
    raws: list[bytes],
    channels: Mapping[str, ChannelAdmission],
    unrouted: Counter[str] | None,
    tx_hash: Hash,
) -> list[api.SubmitResult]:
    """Every channel here is past its backpressure limit: a client's whole call is
    answered MEMPOOL_FULL ("busy", with the longest retry-after) without decoding a tx,
    so turning work away costs a hash per tx, not a parse and checks."""
    detail = max(channels.values(), key=lambda c: c.mempool.retry_after_ms()).mempool.busy_detail()
    results = [
        api.SubmitResult(tx_id=tx_hash(r), status=api.MEMPOOL_FULL, detail=detail) for r in raws
    ]
    if unrouted is not None:
        unrouted["MEMPOOL_FULL"] += len(raws)
    return results


# A tx that passed the cheap checks: its index in the call's results, the tx, its channel.
Candidate = tuple[int, DecodedTx, ChannelAdmission]


def _screen(
    raw: bytes,
    chain_id: str,
    tx_bytes_max: int,
    channels: Mapping[str, ChannelAdmission],
    members: dict[str, bool],
    all_or_nothing: bool,
    tx_hash: Hash = sha256,
) -> tuple[ChannelAdmission | None, api.SubmitResult, DecodedTx | None]:
    """The cheap checks of one tx, in order: it decodes, names a channel this node serves
    that has not failed, the write policy allows it, this node votes in the channel, and
    the application (or governance) and the mempool would take it. Returns the tx's
    channel (None if unknown), its result (ACCEPTED so far, or why not), and the decoded
    tx when it is a candidate for verification. `members` caches, per call, whether this
    node is a member of each channel."""
    tid = tx_hash(raw)
    holder = _holding(channels, tid)
    if holder is not None:  # a repeat (gossip, a retrying client): no parse, no checks
        return holder, api.SubmitResult(tx_id=tid, status=api.DUPLICATE, detail=IN_MEMPOOL), None
    try:
        tx = decode_tx(raw, chain_id, tx_bytes_max, tx_id=tid)
    except TxError as e:
        return None, api.SubmitResult(tx_id=tid, status=e.status, detail=e.detail), None  # type: ignore[arg-type]
    name = tx.body.channel
    ch = channels.get(name)
    if ch is None:
        detail = f"channel {name!r}"
        return None, api.SubmitResult(tx_id=tid, status=api.UNKNOWN_CHANNEL, detail=detail), None
    failed = ch.unavailable()
    if failed is not None:
        if all_or_nothing:
            raise Unavailable(f"channel {name!r} has failed: {failed}")
        return ch, api.SubmitResult(tx_id=tid, status=api.REJECTED, detail=failed), None
    why = _denied(ch, tx)
    if why is not None:
        return ch, api.SubmitResult(tx_id=tid, status=api.PERMISSION_DENIED, detail=why), None
    if name not in members:  # asked once per channel and call, not per tx
        members[name] = ch.member()
    if not members[name]:
        return ch, api.SubmitResult(tx_id=tid, status=api.REJECTED, detail=NOT_MEMBER), None
    reason = _problem(ch, tx)
    refused = (
        (api.REJECTED, reason)
        if reason
        else ch.mempool.check(tx, ch.next_height(), ch.committed, client=all_or_nothing)
    )
    if refused is not None:
        return ch, api.SubmitResult(tx_id=tid, status=refused[0], detail=refused[1]), None  # type: ignore[arg-type]
    return ch, api.SubmitResult(tx_id=tid, status=api.ACCEPTED), tx


def _holding(channels: Mapping[str, ChannelAdmission], tid: bytes) -> ChannelAdmission | None:
    """The running channel whose mempool already holds this tx id, if any. A tx waiting
    there was admitted once: a repeat is answered DUPLICATE before it is parsed, so
    re-gossip and resubmitting clients cost a hash and a lookup per tx, not a decode."""
    for ch in channels.values():
        if tid in ch.mempool and ch.unavailable() is None:
            return ch
    return None


def _denied(ch: ChannelAdmission, tx: DecodedTx) -> str | None:
    """Why the signer may not send this tx here. A registry tx (key rotation, terminal
    added or removed) is any channel's, whatever its policy, but only a current department
    key sends one (which key is the executor's rule, chains/registry.py)."""
    if tx.body.type not in REGISTRY_TYPES:
        return ch.policy.denies(tx)
    return registry_denied(ch.policy.departments, tx)


def _problem(ch: ChannelAdmission, tx: DecodedTx) -> str | None:
    """The stateless check of the tx's type: governance's, the registry's or the app's."""
    if tx.body.type in GOVERNANCE_KINDS:
        return admission_problem(tx)
    if tx.body.type in REGISTRY_TYPES:
        return registry_problem(tx)
    return ch.app.check(tx)


async def _verify_and_add(
    candidates: list[Candidate], results: list[api.SubmitResult], client: bool
) -> dict[str, list[bytes]]:
    """Verify the candidates' signatures, one batch per channel, and add each good tx to
    its mempool; a tx that fails is given its status in `results`. Returns the admitted
    raw txs per channel."""
    admitted: dict[str, list[bytes]] = {}
    by_channel: dict[str, list[Candidate]] = {}
    for item in candidates:
        by_channel.setdefault(item[1].body.channel, []).append(item)
    # The heights the screen's verdicts were taken at (no await since the screen).
    screened_at = {channel: items[0][2].next_height() for channel, items in by_channel.items()}
    for channel, items in by_channel.items():
        ch = items[0][2]  # every item here is this channel's
        oks = await ch.checker.verify_decoded([tx for _, tx, _ in items])
        # No block committed since the screen: a tx not committed then is not now, so the
        # re-check below skips the ledger lookup (one read per tx).
        committed = ch.committed if ch.next_height() != screened_at[channel] else _never
        for (i, tx, _), ok in zip(items, oks, strict=True):
            if not ok:
                results[i] = api.SubmitResult(
                    tx_id=tx.tx_id, status=api.BAD_SIGNATURE, detail="signature"
                )
                continue
            # Check again now: earlier txs of this batch (or a concurrent call, while we
            # awaited the verifier) may have filled the mempool or added the same tx.
            refused = ch.mempool.check(tx, ch.next_height(), committed, client)
            if refused is not None:
                status, detail = refused
                if status != api.DUPLICATE:  # committed or expired while we verified:
                    ch.checker.forget([tx.tx_id])  # its id would never be forgotten
                results[i] = api.SubmitResult(tx_id=tx.tx_id, status=status, detail=detail)  # type: ignore[arg-type]
                continue
            ch.mempool.add(tx)
            admitted.setdefault(channel, []).append(tx.raw)
    return admitted


def _never(_tid: bytes) -> bool:
    return False


def _count(
    results: list[api.SubmitResult],
    routed: list[ChannelAdmission | None],
    unrouted: Counter[str] | None,
) -> None:
    for result, ch in zip(results, routed, strict=True):
        counts = ch.counts if ch is not None else unrouted
        if counts is not None:
            counts[STATUS_NAMES[result.status]] += 1


STATUS_NAMES = {v.number: v.name for v in api.TxStatus.DESCRIPTOR.values}
