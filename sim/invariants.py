"""Safety invariants, checked as the simulation runs (after every step of every replica).

- agreement: no two honest replicas execute different blocks at one height;
- no gaps: an honest replica executes heights 1, 2, 3, … each naming the previous as parent;
- no tx executed twice across the agreed chain, and only client-signed txs executed;
- every executed block carries a commit certificate anyone can verify alone, by the
  validator set of its height (the membership the agreed chain's governance txs chose);
- honest replicas agree on the governance verdicts of each block and on the membership
  after it;
- an honest replica never signs two different digests for one (kind, view, height),
  across crashes and restarts, and never goes back to a lower view;
- logs and buffers stay within their configured limits.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.blocks import BlockInfo, parse_block
from consensus.certificates import check_vote_cert
from consensus.config import BLOCK_HEADER_BYTES_MAX, ConsensusConfig
from consensus.crypto import Verifier
from consensus.membership import Membership
from consensus.messages import Signed
from consensus.reasons import Reason
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from sim.crypto import tx_is_signed


def view_change_bytes_bound(cfg: ConsensusConfig) -> int:
    """One peer's VIEW-CHANGE as kept: its body and a block per prepared certificate."""
    block = cfg.block_bytes_max + BLOCK_HEADER_BYTES_MAX
    return cfg.view_change_bytes_max + 64 + cfg.log_window_blocks * block


class SafetyViolation(AssertionError):
    """An invariant broke: the message names it; the runner adds the seed to replay it."""


class Invariants:
    def __init__(self, cfg: ConsensusConfig, verifier: Verifier) -> None:
        self.cfg = cfg
        self.verifier = verifier
        self.chain: dict[int, bytes] = {}  # agreed height -> digest
        self.chain_time: dict[int, int] = {0: 0}  # agreed height -> block time (ms)
        self.chain_txs: dict[bytes, int] = {}  # tx id -> height in the agreed chain
        self.signed_votes: dict[tuple[int, str, int, int], bytes] = {}
        self.views_sent: dict[int, int] = {}
        self.executions = 0
        # The membership the agreed chain chose (latest change first seen), and per height
        # the governance outcome every honest executor must report.
        self.membership = Membership.genesis(cfg.validators)
        self.governance: dict[int, tuple[tuple[tuple[int, str], ...], Membership | None]] = {}

    def cfg_at(self, height: int) -> ConsensusConfig:
        """The config of the set that orders `height` (epochs start past the block that
        scheduled them, so the latest agreed membership answers for every height)."""
        validators = self.membership.at(height).validators
        if validators == self.cfg.validators:
            return self.cfg
        return replace(self.cfg, validators=validators)

    def fail(self, what: str) -> None:
        raise SafetyViolation(what)

    def on_execute(
        self, node: int, height: int, ledger_len: int, prev: bytes, cb: pb.CertifiedBlock
    ) -> BlockInfo:
        cfg = self.cfg_at(height)
        info = parse_block(cb.block, cfg)
        if isinstance(info, Reason):
            self.fail(f"node {node} executed a malformed block at {height}: {info}")
        if height != ledger_len + 1 or info.height != height:
            self.fail(f"node {node} executed height {height} after {ledger_len} (gap)")
        if info.parent != prev:
            self.fail(f"node {node} block {height} does not extend its chain")
        cert = check_vote_cert(cb.commits, "commit", cfg, self.verifier)
        if isinstance(cert, Reason) or (cert.height, cert.digest) != (height, info.digest):
            self.fail(f"node {node} block {height} lacks a valid commit certificate")
        agreed = self.chain.get(height)
        if agreed is None:
            self.chain[height] = info.digest
            self.chain_time[height] = info.header.timestamp_ms
            parent_ms = self.chain_time.get(height - 1)
            if parent_ms is not None and info.header.timestamp_ms <= parent_ms:
                self.fail(f"block time does not increase at height {height}")
            for tx in info.txs:
                if not tx_is_signed(tx):
                    self.fail(f"unsigned tx executed at height {height}")
                tid = self.cfg.hashing.hash(tx)
                if tid in self.chain_txs:
                    self.fail(f"tx executed twice: heights {self.chain_txs[tid]} and {height}")
                self.chain_txs[tid] = height
        elif agreed != info.digest:
            self.fail(f"agreement violated at height {height}: node {node} executed another block")
        self.executions += 1
        return info

    def on_governance(
        self,
        node: int,
        height: int,
        verdicts: tuple[tuple[int, str], ...],
        membership: Membership | None,
    ) -> None:
        agreed = self.governance.setdefault(height, (verdicts, membership))
        if agreed != (verdicts, membership):
            self.fail(
                f"node {node} judged the governance of block {height} otherwise: "
                f"{verdicts} -> {membership}, others {agreed[0]} -> {agreed[1]}"
            )
        if membership is not None and membership.sequence > self.membership.sequence:
            self.membership = membership

    def on_sent(self, node: int, msg: Signed) -> None:
        kind = msg.kind
        if kind in ("pre_prepare", "prepare", "commit"):
            v = msg.payload
            key = (node, kind, v.view, v.height)
            old = self.signed_votes.setdefault(key, v.digest)
            if old != v.digest:
                self.fail(
                    f"node {node} signed two {kind} digests for view {v.view} height {v.height}"
                )
            self._view(node, v.view)
        elif kind == "view_change":
            self._view(node, msg.payload.new_view)

    def _view(self, node: int, view: int) -> None:
        self.views_sent[node] = max(self.views_sent.get(node, 0), view)

    def on_restart(self, node: int, r: Replica) -> None:
        """Persist-before-send means a restarted replica is in a view at least as high as
        any view it sent a message in before the crash."""
        sent = self.views_sent.get(node, 0)
        if r.view < sent:
            self.fail(f"node {node} restarted in view {r.view} but had sent in view {sent}")

    def check_replica(self, node: int, r: Replica, last_view: int) -> None:
        cfg = self.cfg
        n = max(len(e.validators) for e in r.membership.epochs)
        if r.view < last_view:
            self.fail(f"node {node} view decreased from {last_view} to {r.view}")
        if len(r.slots) > cfg.log_window_blocks + cfg.in_flight_blocks_max + 1:
            self.fail(f"node {node} log holds {len(r.slots)} slots")
        for h in r.slots:
            if h <= r.stable.height or h > r.stable.height + cfg.log_window_blocks:
                self.fail(f"node {node} keeps slot {h} outside the window")
        for q in r.future.values():
            if len(q) > cfg.future_messages_per_peer_max:
                self.fail(f"node {node} future buffer over its limit")
            if q.size_bytes > cfg.future_bytes_per_peer_max:
                self.fail(f"node {node} future buffer holds {q.size_bytes} bytes")
        held = r.buffered_bytes_by_kind()
        if held["orphans"] > cfg.orphan_bytes_max:
            self.fail(f"node {node} orphans hold {held['orphans']} bytes")
        if held["view_changes"] > n * view_change_bytes_bound(cfg):
            self.fail(f"node {node} VIEW-CHANGEs hold {held['view_changes']} bytes")
        if len(r.pending) > cfg.pending_txs_max or r.pending_bytes > cfg.pending_bytes_max:
            self.fail(f"node {node} pending queue over its limit")
        votes = sum(len(v) for v in r.checkpoint_votes.values())
        if votes > n * (cfg.log_window_blocks // cfg.checkpoint_interval_blocks + 2):
            self.fail(f"node {node} keeps {votes} checkpoint votes")
        if len(r.view_changes) > n or len(r.recent_committed) > cfg.recent_committed_txs_max:
            self.fail(f"node {node} keeps too many view-changes or tx ids")
