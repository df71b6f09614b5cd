"""A cluster of replicas running the real `consensus.Replica` over the simulated network.

Each simulated node plays the node's part: it encodes and decodes envelopes, checks outer
signatures, keeps timers in ticks, persists records, executes blocks into a ledger, and
answers block fetches. Crashes may land between any two actions of a step, which is what
tests the persist-before-send contract.

A cluster may also run observers: nodes with keys outside the genesis validator set, which
governance can later add (tests/sim/test_membership.py). Nodes are indexed validators
first, then observers; a node broadcasts to its replica's `audience`, not to every node.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from consensus import actions as act
from consensus import events as ev
from consensus.config import ConsensusConfig
from consensus.membership import Membership
from consensus.messages import decode_envelope, encode_envelope
from consensus.persisted import PersistedState
from consensus.reasons import Reason
from consensus.replica import Replica
from protos import consensus_pb2 as pb
from sim.crypto import SimTxChecker, make_signers, make_tx, make_verifier, suite_hashing
from sim.invariants import Invariants
from sim.links import announce, flap
from sim.network import Network

ENVELOPE_BYTES_MAX = 64 << 20
TICK_MS = 50
FETCH_TIMEOUT_TICKS = 40  # the node's fetch_timeout_ms at TICK_MS


class Behaviour(Protocol):
    """How a Byzantine node deviates; see sim/byzantine.py."""

    def outgoing(
        self, node: SimNode, action: act.Send | act.Broadcast
    ) -> list[tuple[int, bytes]]: ...

    def on_tick(self, node: SimNode) -> list[tuple[int, bytes]]: ...

    def serve_fetch(
        self, node: SimNode, blocks: list[pb.CertifiedBlock]
    ) -> list[pb.CertifiedBlock]: ...

    claims_blocks: bool

    def fetch_delay_ticks(self, node: SimNode) -> int: ...


@dataclass
class SimNode:
    index: int
    signer: object
    replica: Replica
    behaviour: Behaviour | None = None
    store: PersistedState = field(default_factory=PersistedState)
    ledger: list[pb.CertifiedBlock] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    roots: list[bytes] = field(default_factory=list)
    executed_txs: set[bytes] = field(default_factory=set)
    state_root: bytes = b"\x00" * 32
    timers: dict[ev.Timer, tuple[int, int]] = field(default_factory=dict)
    alive: bool = True
    inbox: deque[ev.Event] = field(default_factory=deque)
    last_view: int = 0
    rejected: dict[Reason, int] = field(default_factory=dict)
    # The executor's governance record: verdicts per height (tx index, "" or why refused),
    # and the membership after the last block that changed it (the world state's copy,
    # which a restart hands back to the replica).
    verdicts: dict[int, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    membership: Membership | None = None
    # (stable height, validators) each time the replica's current set changed.
    switches: list[tuple[int, tuple[bytes, ...]]] = field(default_factory=list)
    clock_offset_ms: int = 0  # this node's wall clock minus the simulation's
    fetch_busy_until: int = 0  # tick the fetch in progress ends (the node runs one at a time)

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    @property
    def height(self) -> int:
        return len(self.ledger)


@dataclass
class Faults:
    """Fault rates for the chaos phase; one seed decides them all in the swarm."""

    drop_rate: float = 0.0
    dup_rate: float = 0.0
    delay_max_ticks: int = 0
    crash_rate: float = 0.0  # per node per tick
    restart_after_ticks: tuple[int, int] = (5, 60)
    crash_mid_step_rate: float = 0.0  # per step: crash after a random prefix of actions
    partition_rate: float = 0.0  # per tick: start a random partition or isolate the primary
    partition_ticks: tuple[int, int] = (10, 80)
    link_flap_rate: float = 0.0  # per tick: a node's link to a live peer is lost a while


class Cluster:
    def __init__(
        self,
        n: int,
        seed: int,
        byzantine: dict[int, Callable[[Cluster, int], Behaviour]] | None = None,
        ed25519: bool = False,
        config: Callable[..., ConsensusConfig] = ConsensusConfig,
        observers: int = 0,
        suite: str | None = None,
        **overrides: int,
    ) -> None:
        """`n` genesis validators (nodes 0..n-1) and `observers` more nodes (n..) whose
        keys the verifier knows but the genesis set does not hold. `suite` names a real
        crypto suite to sign and verify with (slow: a few seeds only)."""
        self.seed = seed
        self.rng = random.Random(seed)
        self.signers = make_signers(n + observers, ed25519, suite)
        self.verifier = make_verifier(self.signers, ed25519, suite)
        if suite is not None:  # the suite's hash too: block digests, tx ids, Merkle roots
            overrides.setdefault("hashing", suite_hashing(suite))  # type: ignore[arg-type]
        self.cfg = config(
            channel="license",
            validators=tuple(s.public_key for s in self.signers[:n]),
            **overrides,
        )
        self.hash = self.cfg.hashing.hash
        self.index_of = {s.public_key: i for i, s in enumerate(self.signers)}
        self.tx_checker = SimTxChecker(self.hash)
        self.net = Network(self.rng, n + observers)
        self.faults = Faults()
        self.now = 0
        self.invariants = Invariants(self.cfg, self.verifier)
        self.nodes = [SimNode(i, s, self._new_replica(s)) for i, s in enumerate(self.signers)]
        for i, factory in (byzantine or {}).items():
            self.nodes[i].behaviour = factory(self, i)
        self.submitted: dict[bytes, bytes] = {}
        self.nonce = 0
        self.restart_at: dict[int, int] = {}
        self.heal_at = -1
        self.steps = 0
        self.fetches_asked: dict[int, int] = {}  # node index -> block fetches sent to it
        for node in self.nodes:
            self.step(node, ev.Restored(PersistedState()))

    def _new_replica(self, signer: object) -> Replica:
        return Replica(self.cfg, signer, self.verifier, self.tx_checker)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ stepping

    def step(self, node: SimNode, event: ev.Event) -> None:
        node.inbox.append(event)
        while node.inbox and node.alive:
            ev = node.inbox.popleft()
            actions = node.replica.step(ev)
            self.steps += 1
            crash_after = None
            if (
                self.faults.crash_mid_step_rate
                and self.rng.random() < self.faults.crash_mid_step_rate
            ):
                crash_after = self.rng.randint(0, len(actions))
            for k, action in enumerate(actions):
                if crash_after is not None and k == crash_after:
                    self.crash(node)
                    return
                self.perform(node, action)
            if node.honest:
                self.invariants.check_replica(node.index, node.replica, node.last_view)
            node.last_view = node.replica.view
            current = node.replica.cfg.validators
            if (node.switches[-1][1] if node.switches else self.cfg.validators) != current:
                node.switches.append((node.replica.stable.height, current))

    def perform(self, node: SimNode, action: act.Action) -> None:
        if isinstance(action, act.Persist):
            node.store = node.store.apply(action.records)
        elif isinstance(action, (act.Send, act.Broadcast)):
            self.transmit(node, action)
        elif isinstance(action, act.ExecuteBlock):
            self.execute(node, action)
        elif isinstance(action, act.SetTimer):
            node.timers[action.timer] = (self.now + action.ticks, action.token)
        elif isinstance(action, act.CancelTimer):
            node.timers.pop(action.timer, None)
        elif isinstance(action, act.FetchBlocks):
            if node.fetch_busy_until <= self.now:  # as the node: one fetch at a time
                self.serve_fetch(node, action)
        elif isinstance(action, act.Reject):
            node.rejected[action.reason] = node.rejected.get(action.reason, 0) + 1

    def transmit(self, node: SimNode, action: act.Send | act.Broadcast) -> None:
        if node.behaviour is not None:
            for dst, data in node.behaviour.outgoing(node, action):
                self.net.send(self.now, node.index, dst, data)
            return
        self.invariants.on_sent(node.index, action.message)
        data = encode_envelope(action.message, action.blocks)
        if isinstance(action, act.Send):
            self.net.send(self.now, node.index, self.index_of[action.to], data)
        else:
            audience = node.replica.audience
            for other in self.nodes:
                if other.index != node.index and other.signer.public_key in audience:
                    self.net.send(self.now, node.index, other.index, data)

    def execute(self, node: SimNode, action: act.ExecuteBlock) -> None:
        prev = node.digests[-1] if node.digests else self.cfg.genesis_hash
        if node.honest:
            info = self.invariants.on_execute(
                node.index, action.height, node.height, prev, action.certified
            )
            self.invariants.on_governance(
                node.index, action.height, action.governance, action.membership
            )
            txs = info.txs
        else:
            txs = action.certified.block.txs
        if action.governance:
            node.verdicts[action.height] = action.governance
        if action.membership is not None:
            node.membership = action.membership
        node.ledger.append(action.certified)
        node.digests.append(action.digest)
        for tx in txs:
            node.executed_txs.add(self.hash(tx))
        node.state_root = self.hash(node.state_root + action.digest)
        node.roots.append(node.state_root)
        node.inbox.append(ev.Executed(action.height, action.digest, node.state_root))

    def serve_fetch(self, node: SimNode, action: act.FetchBlocks) -> None:
        """As the node's `_fetch_blocks`: ask the peers the core named, in order (anyone,
        if it named none); a peer that does not answer within FETCH_TIMEOUT_TICKS costs
        that long, is reported to the core, and the next is asked; the first answer with
        blocks (or a stable checkpoint ahead) is the one."""
        order = [self.index_of[p] for p in action.peers]
        if not order:
            order = [i for i in range(len(self.nodes)) if i != node.index]
            self.rng.shuffle(order)
        waited = 0
        for i in order:
            peer = self.nodes[i]
            if not peer.alive or not self.net.linked(i, node.index):
                continue
            self.fetches_asked[i] = self.fetches_asked.get(i, 0) + 1
            claims = peer.behaviour is not None and peer.behaviour.claims_blocks
            if (
                peer.height < action.from_height
                and not claims
                and not (peer.replica.stable.height > node.replica.stable.height)
            ):
                continue  # as the node: an answer without blocks still carries the proof
            delay = peer.behaviour.fetch_delay_ticks(peer) if peer.behaviour else 0
            if delay >= FETCH_TIMEOUT_TICKS:  # the node gives up on it, tells the core
                waited += FETCH_TIMEOUT_TICKS
                failed = ev.BlocksFetched((), (), peer.signer.public_key, "timeout")
                self.net.schedule(self.now + waited, node.index, node.index, failed)
                continue
            blocks = peer.ledger[action.from_height - 1 : action.to_height]
            if peer.behaviour is not None:
                blocks = peer.behaviour.serve_fetch(peer, blocks)
            proof = peer.replica.stable.proof
            answer = ev.BlocksFetched(tuple(blocks), proof, peer.signer.public_key)
            self.net.send(self.now + waited + delay, i, node.index, answer)
            node.fetch_busy_until = self.now + waited + delay + 1
            return
        node.fetch_busy_until = self.now + waited

    def deliver(self, dst: SimNode, data: object) -> None:
        if isinstance(data, (ev.BlocksFetched, ev.PeerLinkChanged)):
            self.step(dst, data)
            return
        assert isinstance(data, bytes)
        decoded = decode_envelope(data, self.cfg, ENVELOPE_BYTES_MAX, dst.replica.audience)
        if isinstance(decoded, Reason):
            dst.rejected[decoded] = dst.rejected.get(decoded, 0) + 1
            return
        signed, blocks = decoded
        if not self.verifier.verify(signed.sender, signed.body, signed.signature):
            dst.rejected[Reason.BAD_SIGNATURE] = dst.rejected.get(Reason.BAD_SIGNATURE, 0) + 1
            return
        self.step(dst, ev.MessageReceived(signed, blocks, self.clock_ms(dst)))

    # ------------------------------------------------------------------ time

    def clock_ms(self, node: SimNode) -> int:
        """The wall clock `node` reads (and hands its replica as event data)."""
        return max(0, self.now * TICK_MS + node.clock_offset_ms)

    def tick(self) -> None:
        self.now += 1
        self._chaos()
        for node in self.nodes:
            if not node.alive:
                continue
            for timer in sorted(node.timers, key=lambda t: t.value):
                at, token = node.timers.get(timer, (None, None))
                if at is not None and at <= self.now:
                    del node.timers[timer]
                    self.step(node, ev.Tick(timer, token, self.clock_ms(node)))
            if node.behaviour is not None:
                for dst, data in node.behaviour.on_tick(node):
                    self.net.send(self.now, node.index, dst, data)
        for item in self.net.due(self.now):
            dst = self.nodes[item.dst]
            if dst.alive:
                self.deliver(dst, item.data)

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()

    def run_until(self, done: Callable[[], bool], max_ticks: int) -> bool:
        for _ in range(max_ticks):
            if done():
                return True
            self.tick()
        return done()

    # ------------------------------------------------------------------ clients

    def submit(self, count: int, pad: int = 0, to: list[int] | None = None) -> list[bytes]:
        txs = []
        for _ in range(count):
            self.nonce += 1
            tx = make_tx(self.nonce % 7, self.nonce, pad)
            self.submitted[self.hash(tx)] = tx
            txs.append(tx)
        self.offer(txs, to)
        return txs

    def submit_txs(self, txs: list[bytes], to: list[int] | None = None) -> None:
        """Submit txs made elsewhere (governance txs); they must commit like any other."""
        for tx in txs:
            self.submitted[self.hash(tx)] = tx
        self.offer(txs, to)

    def offer(self, txs: list[bytes], to: list[int] | None = None) -> None:
        """Hand txs to nodes (the mempool's gossip, reduced to its effect)."""
        for i in to if to is not None else range(len(self.nodes)):
            node = self.nodes[i]
            if node.alive and txs:
                self.step(node, ev.TxsReady(tuple(txs), self.clock_ms(node)))

    def resubmit_uncommitted(self) -> None:
        """Clients retry what the agreed chain does not hold yet."""
        txs = [tx for tid, tx in self.submitted.items() if tid not in self.invariants.chain_txs]
        self.offer(txs)

    # ------------------------------------------------------------------ faults

    def crash(self, node: SimNode) -> None:
        node.alive = False
        node.fetch_busy_until = 0
        node.timers.clear()
        node.inbox.clear()
        self.net.drop_to(node.index)
        announce(self, node, up=False)
        lo, hi = self.faults.restart_after_ticks
        self.restart_at[node.index] = self.now + self.rng.randint(lo, hi)

    def restart(self, node: SimNode) -> None:
        """A new process: a fresh Replica restored from what was persisted and the ledger."""
        recent = tuple(self.hash(tx) for cb in node.ledger[-200:] for tx in cb.block.txs)
        stable = node.store.checkpoint.height if node.store.checkpoint else 0
        interval = self.cfg.checkpoint_interval_blocks
        checkpoints = tuple(
            (h, node.digests[h - 1], node.roots[h - 1])
            for h in range(stable + interval, node.height + 1, interval)
        )
        state = replace(
            node.store,
            executed_height=node.height,
            executed_hash=node.digests[-1] if node.digests else self.cfg.genesis_hash,
            executed_timestamp_ms=(
                pb.BlockHeader.FromString(node.ledger[-1].block.header).timestamp_ms
                if node.ledger
                else 0
            ),
            recent_tx_ids=recent,
            executed_checkpoints=checkpoints,
            membership=node.membership,
        )
        node.replica = self._new_replica(node.signer)
        node.alive = True
        self.restart_at.pop(node.index, None)
        self.step(node, ev.Restored(state))
        announce(self, node, up=True)
        if node.honest:
            self.invariants.on_restart(node.index, node.replica)
        node.last_view = node.replica.view
        pending = [tx for tid, tx in self.submitted.items() if tid not in node.executed_txs]
        self.offer(pending, [node.index])

    def _chaos(self) -> None:
        f = self.faults
        self.net.drop_rate, self.net.dup_rate = f.drop_rate, f.dup_rate
        self.net.delay_max_ticks = f.delay_max_ticks
        for i, at in list(self.restart_at.items()):
            if at <= self.now:
                self.restart(self.nodes[i])
        if f.crash_rate:
            for node in self.nodes:
                down = sum(1 for n in self.nodes if not n.alive)
                if node.alive and down < self.cfg.f and self.rng.random() < f.crash_rate:
                    self.crash(node)
        if f.link_flap_rate and self.rng.random() < f.link_flap_rate:
            flap(self)
        if self.heal_at == self.now:
            self.net.cut.clear()
            self.heal_at = -1
        if (
            f.partition_rate
            and len(self.nodes) > 1
            and self.heal_at < 0
            and self.rng.random() < f.partition_rate
        ):
            if self.rng.random() < 0.5:
                self.net.isolate(self.primary_index())
            else:
                members = list(range(len(self.nodes)))
                self.rng.shuffle(members)
                cut = self.rng.randint(1, len(members) - 1)
                self.net.partition([members[:cut], members[cut:]])
            self.heal_at = self.now + self.rng.randint(*f.partition_ticks)

    def heal(self) -> None:
        """Faults stop: links heal, crashed nodes restart, no more crashes."""
        self.faults = Faults(delay_max_ticks=1)
        self.net.heal()
        self.heal_at = -1
        for i in list(self.restart_at):
            self.restart(self.nodes[i])

    # ------------------------------------------------------------------ observations

    def honest_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes if n.honest]

    def max_view(self) -> int:
        return max(n.replica.view for n in self.nodes if n.honest)

    def current_cfg(self) -> ConsensusConfig:
        """The validator set of the most advanced honest replica (the genesis one at first)."""
        best = max(self.honest_nodes(), key=lambda n: (n.replica.stable.height, -n.index))
        return best.replica.cfg

    def primary_index(self) -> int:
        return self.index_of[self.current_cfg().primary(self.max_view())]

    def all_committed(self) -> bool:
        """Every honest node executed every submitted tx and all are at one height."""
        nodes = self.honest_nodes()
        if not all(n.alive for n in nodes):
            return False
        heights = {n.height for n in nodes}
        if len(heights) != 1:
            return False
        return all(tid in n.executed_txs for n in nodes for tid in self.submitted)

    def describe(self) -> str:
        parts = []
        for n in self.nodes:
            r = n.replica
            tag = ("" if n.honest else " byz") + ("" if r.is_member else " observer")
            parts.append(
                f"node{n.index}{tag}: alive={n.alive} h={n.height} view={r.view}"
                f" active={r.view_active} stable={r.stable.height} pending={len(r.pending)}"
                f" set={sorted(self.index_of[k] for k in r.cfg.validators)}"
            )
        return "\n".join(parts)
