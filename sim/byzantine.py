"""Byzantine replicas: up to f nodes that run the real Replica but lie on the wire.

Each behaviour rewrites what its honest replica would send, or adds traffic of its own.
A Byzantine node holds only its own signer, so whatever it sends is signed as itself (or
is a replay of, or a forgery of, someone else's bytes, which signatures expose).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from consensus.actions import Broadcast, Send
from consensus.blocks import BlockInfo, make_block, parse_block
from consensus.hashing import sha256
from consensus.messages import Signed, encode_envelope, sign, vote
from consensus.reasons import Reason
from protos import consensus_pb2 as pb
from sim.crypto import forge_tx

if TYPE_CHECKING:
    from sim.cluster import Cluster, SimNode


class Base:
    """Honest on the wire; subclasses override `rewrite`, `on_tick`, `serve_fetch`."""

    def __init__(self, cluster: Cluster, index: int) -> None:
        self.cluster = cluster
        self.cfg = cluster.cfg
        self.index = index
        self.rng = random.Random(cluster.seed * 1000 + index)
        self.seen: list[bytes] = []

    def peers(self) -> list[int]:
        return [i for i in range(self.cfg.n) if i != self.index]

    def outgoing(self, node: SimNode, action: Send | Broadcast) -> list[tuple[int, bytes]]:
        dsts = [self.cfg.validators.index(action.to)] if isinstance(action, Send) else self.peers()
        out = []
        for dst in dsts:
            for signed, blocks in self.rewrite(node, action.message, action.blocks, dst):
                data = encode_envelope(signed, blocks)
                self._remember(data)
                out.append((dst, data))
        return out

    def rewrite(
        self, node: SimNode, msg: Signed, blocks: tuple[pb.Block, ...], dst: int
    ) -> list[tuple[Signed, tuple[pb.Block, ...]]]:
        return [(msg, blocks)]

    def on_tick(self, node: SimNode) -> list[tuple[int, bytes]]:
        return []

    def serve_fetch(
        self, node: SimNode, blocks: list[pb.CertifiedBlock]
    ) -> list[pb.CertifiedBlock]:
        return blocks

    # A peer that answers a fetch even for blocks it does not hold (it claims them).
    claims_blocks = False

    def fetch_delay_ticks(self, node: SimNode) -> int:
        """Ticks before a fetch answer leaves; at or past the fetcher's timeout it is lost."""
        return 0

    def _remember(self, data: bytes) -> None:
        if len(self.seen) < 2000:
            self.seen.append(data)
        else:
            self.seen[self.rng.randrange(len(self.seen))] = data

    def sign(self, node: SimNode, kind: str, payload: object) -> Signed:
        return sign(node.signer, self.cfg.channel, kind, payload)  # type: ignore[arg-type]


def short_certificates(blocks: list[pb.CertifiedBlock]) -> list[pb.CertifiedBlock]:
    """The blocks with one commit signature less each: a certificate below quorum."""
    out = []
    for cb in blocks:
        bad = pb.CertifiedBlock()
        bad.CopyFrom(cb)
        if bad.commits:
            del bad.commits[-1]
        out.append(bad)
    return out


class Silent(Base):
    """Sends nothing at all: a crashed replica that keeps its vote in the count."""

    def outgoing(self, node: SimNode, action: Send | Broadcast) -> list[tuple[int, bytes]]:
        return []


class Equivocator(Base):
    """Tells different peers different things, on every message type."""

    def rewrite(self, node, msg, blocks, dst):
        if self.rng.random() < 0.4:
            return [(msg, blocks)]
        kind = msg.kind
        p = msg.payload
        if kind == "pre_prepare":
            alt = self._alternative_block(node, blocks, p)
            if alt is None:
                return [(msg, blocks)]
            return [(self.sign(node, kind, vote(p.view, p.height, alt.digest)), (alt.block,))]
        if kind in ("prepare", "commit"):
            digest = sha256(b"%d" % self.rng.randrange(3))
            return [(self.sign(node, kind, vote(p.view, p.height, digest)), ())]
        if kind == "checkpoint":
            c = pb.Checkpoint(height=p.height, block_hash=p.block_hash, state_root=sha256(b"lie"))
            return [(self.sign(node, kind, c), ())]
        if kind == "view_change":
            vc = pb.ViewChange()
            vc.CopyFrom(p)
            del vc.prepared[:]
            return [(self.sign(node, kind, vc), ())]
        if kind == "new_view":
            nv = pb.NewView()
            nv.CopyFrom(p)
            if nv.reproposals and self.rng.random() < 0.5:
                del nv.reproposals[-1]
            else:
                nv.reproposals.add(height=10**6, digest=sha256(b"x"))
            return [(self.sign(node, kind, nv), blocks)]
        if kind == "status":
            st = pb.Status(
                view=p.view + self.rng.randrange(3),
                view_active=True,
                executed_height=p.executed_height + self.rng.randrange(50),
            )
            return [(self.sign(node, kind, st), ())]
        return [(msg, blocks)]

    def _alternative_block(self, node, blocks, p) -> BlockInfo | None:
        if not blocks:
            return None
        info = parse_block(blocks[0], self.cfg)
        if isinstance(info, Reason):
            return None
        txs = list(info.txs)
        choice = self.rng.randrange(3)
        if choice == 0 and len(txs) > 1:
            txs = txs[: len(txs) // 2]
        elif choice == 1:
            txs = [*txs, forge_tx(self.rng.randrange(1 << 30))]
        h = info.header
        return make_block(
            self.cfg,
            h.height,
            h.view,
            h.parent_hash,
            txs,
            h.proposer,
            h.timestamp_ms + 1 + self.rng.randrange(5),
        )


class Replayer(Base):
    """Replays messages it saw earlier (its own and other replicas') to random peers."""

    def on_tick(self, node):
        out = []
        for _ in range(self.rng.randrange(4)):
            if self.seen:
                out.append((self.rng.choice(self.peers()), self.rng.choice(self.seen)))
        for item in list(self.cluster.net.queue)[:3]:
            if isinstance(item.data, bytes):
                self._remember(item.data)
        return out


class ViewShifter(Base):
    """Signs its votes for stale and far-future views and heights."""

    def rewrite(self, node, msg, blocks, dst):
        if msg.kind not in ("pre_prepare", "prepare", "commit") or self.rng.random() < 0.3:
            return [(msg, blocks)]
        p = msg.payload
        view = max(0, p.view + self.rng.choice((-2, -1, 1, 2, 50)))
        height = p.height + self.rng.choice((0, 0, 1, 100))
        return [(self.sign(node, msg.kind, vote(view, height, p.digest)), blocks)]

    def on_tick(self, node):
        if self.rng.random() < 0.2:
            vc = pb.ViewChange(new_view=node.replica.view + self.rng.randrange(1, 4))
            return [(d, encode_envelope(self.sign(node, "view_change", vc))) for d in self.peers()]
        return []


class Forger(Base):
    """Forged or short certificates, unsigned txs, tampered fetched blocks."""

    def rewrite(self, node, msg, blocks, dst):
        kind = msg.kind
        p = msg.payload
        if kind == "view_change" and self.rng.random() < 0.7:
            vc = pb.ViewChange()
            vc.CopyFrom(p)
            self._corrupt_view_change(vc)
            return [(self.sign(node, kind, vc), blocks)]
        if kind == "new_view" and self.rng.random() < 0.7:
            nv = pb.NewView()
            nv.CopyFrom(p)
            if len(nv.view_changes) > 1:
                del nv.view_changes[-1]  # short certificate
            else:
                nv.view_changes.add().CopyFrom(nv.view_changes[0]) if nv.view_changes else None
            return [(self.sign(node, kind, nv), blocks)]
        if kind == "pre_prepare" and blocks and self.rng.random() < 0.5:
            info = parse_block(blocks[0], self.cfg)
            if isinstance(info, BlockInfo):
                h = info.header
                txs = [*info.txs, forge_tx(self.rng.randrange(1 << 30))]
                alt = make_block(
                    self.cfg, h.height, h.view, h.parent_hash, txs, h.proposer, h.timestamp_ms
                )
                return [(self.sign(node, kind, vote(p.view, p.height, alt.digest)), (alt.block,))]
        return [(msg, blocks)]

    def _corrupt_view_change(self, vc: pb.ViewChange) -> None:
        choice = self.rng.randrange(4)
        if choice == 0 and vc.prepared:
            del vc.prepared[0].prepares[-1]  # short prepared certificate
        elif choice == 1 and vc.prepared and vc.prepared[0].prepares:
            vc.prepared[0].prepares.add().CopyFrom(vc.prepared[0].prepares[0])  # same signer twice
        elif choice == 2 and vc.checkpoint_proof:
            vc.checkpoint_proof[0].signature = bytes(32)  # forged signature
        else:
            vc.stable_height += 4  # claims a checkpoint its proof does not show

    def serve_fetch(self, node, blocks):
        return short_certificates(blocks)

    def on_tick(self, node):
        if self.rng.random() < 0.1:
            return [(self.rng.choice(self.peers()), b"\x0a\xff garbage")]
        return []


class Flooder(Base):
    """Floods valid-looking votes at random heights and views, and junk bytes."""

    def on_tick(self, node):
        out = []
        r = node.replica
        for _ in range(self.rng.randrange(20)):
            kind = self.rng.choice(("prepare", "commit", "pre_prepare", "checkpoint"))
            height = r.executed_height + self.rng.randrange(1, 3 * self.cfg.log_window_blocks)
            view = r.view + self.rng.randrange(0, 3)
            if kind == "checkpoint":
                payload = pb.Checkpoint(
                    height=height - height % self.cfg.checkpoint_interval_blocks
                    or self.cfg.checkpoint_interval_blocks,
                    block_hash=sha256(b"%d" % height),
                    state_root=b"r",
                )
            else:
                payload = vote(view, height, sha256(b"%d" % self.rng.randrange(1 << 20)))
            out.append(
                (self.rng.choice(self.peers()), encode_envelope(self.sign(node, kind, payload)))
            )
        return out


class BigFutureFlooder(Base):
    """Honest in its own votes, but every tick floods each peer with far-future views it
    is the primary of (a fresh, higher one each time, so no per-view bound helps): in
    each, pre-prepares at several heights carrying near-max-size blocks whose headers
    match, plus prepares and commits with a block attached. Before byte bounds, this
    pinned future_messages_per_peer_max whole blocks per peer (550 MB per node seen)."""

    HEIGHTS_PER_VIEW = 6

    def __init__(self, cluster: Cluster, index: int) -> None:
        super().__init__(cluster, index)
        self.view = 1000 * self.cfg.n + index
        tx = max(1, self.cfg.tx_bytes_max // 2)
        count = max(1, self.cfg.block_bytes_max // tx)
        self.txs = [self.rng.randbytes(tx) for _ in range(count)]

    def on_tick(self, node):
        self.view += self.cfg.n
        base = node.replica.executed_height
        out = []
        for h in range(base + 1, base + 1 + self.HEIGHTS_PER_VIEW):
            info = make_block(
                self.cfg, h, self.view, sha256(b"%d" % h), self.txs, node.signer.public_key, 0
            )
            for kind in ("pre_prepare", "prepare", "commit"):
                data = encode_envelope(
                    self.sign(node, kind, vote(self.view, h, info.digest)), (info.block,)
                )
                out.extend((dst, data) for dst in self.peers())
        return out


class SplitBrain(Base):
    """An equivocating primary that backs both sides: half its peers get block A and
    votes for A, the other half block B and votes for B. Only the quorum size stands
    between this and two honest replicas executing different blocks."""

    def __init__(self, cluster: Cluster, index: int) -> None:
        super().__init__(cluster, index)
        self.alternatives: dict[tuple[int, int], BlockInfo] = {}

    def rewrite(self, node, msg, blocks, dst):
        peers = self.peers()
        if peers.index(dst) < len(peers) // 2 or msg.kind not in (
            "pre_prepare",
            "prepare",
            "commit",
        ):
            return [(msg, blocks)]
        p = msg.payload
        key = (p.view, p.height)
        if msg.kind == "pre_prepare" and key not in self.alternatives and blocks:
            info = parse_block(blocks[0], self.cfg)
            if isinstance(info, BlockInfo):
                h = info.header
                self.alternatives[key] = make_block(
                    self.cfg,
                    h.height,
                    h.view,
                    h.parent_hash,
                    list(info.txs),
                    h.proposer,
                    h.timestamp_ms + 1,
                )
        alt = self.alternatives.get(key)
        if alt is None:
            return [(msg, blocks)]
        signed = self.sign(node, msg.kind, vote(p.view, p.height, alt.digest))
        return [(signed, (alt.block,) if msg.kind == "pre_prepare" else ())]


class TimeLiar(Base):
    """A primary that stamps its blocks with a false time: `future` (1000 skews ahead of
    the true clock, so no retransmission within a run ever makes it acceptable), `past`
    (just after the parent: behind the clock once the chain idled longer than the skew),
    `parent` (the parent's own time): one of the given modes (default all) chosen per
    block. `lies` holds the digests of the blocks it stamped falsely."""

    MODES = ("future", "past", "parent")

    def __init__(self, cluster: Cluster, index: int, *modes: str) -> None:
        super().__init__(cluster, index)
        self.modes = modes or self.MODES
        self.alternatives: dict[tuple[int, int], BlockInfo] = {}
        self.lies: set[bytes] = set()

    def rewrite(self, node, msg, blocks, dst):
        if msg.kind != "pre_prepare" or not blocks:
            return [(msg, blocks)]
        p = msg.payload
        key = (p.view, p.height)
        if key not in self.alternatives:
            info = parse_block(blocks[0], self.cfg)
            if not isinstance(info, BlockInfo):
                return [(msg, blocks)]
            h = info.header
            mode = self.rng.choice(self.modes)
            parent_ms = node.replica.parent_time(h.height) or 0
            stamp = {
                "future": self.cluster.clock_ms(node) + 1000 * self.cfg.block_time_skew_ms,
                "past": parent_ms + 1,
                "parent": parent_ms,
            }[mode]
            if stamp == h.timestamp_ms:
                return [(msg, blocks)]  # the "lie" is the truth: nothing to test
            alt = make_block(
                self.cfg, h.height, h.view, h.parent_hash, list(info.txs), h.proposer, stamp
            )
            self.alternatives[key] = alt
            self.lies.add(alt.digest)
        alt = self.alternatives[key]
        signed = self.sign(node, msg.kind, vote(p.view, p.height, alt.digest))
        return [(signed, (alt.block,))]


class HeightLiar(Base):
    """Claims a huge height and stable checkpoint in every STATUS, and answers every
    block fetch, whether it has the blocks or not: with forged blocks (a commit
    certificate one signature short, or a made-up block), or too slowly (past the node's
    fetch timeout). Otherwise it votes honestly, so the channel needs it no more than
    any other faulty replica. (issue 11 §5: a claim of 10^9 drew 212 fetches.)"""

    CLAIM = 10**9
    claims_blocks = True

    def rewrite(self, node, msg, blocks, dst):
        if msg.kind != "status":
            return [(msg, blocks)]
        p = msg.payload
        st = pb.Status(
            view=p.view,
            view_active=p.view_active,
            executed_height=self.CLAIM,
            stable_height=self.CLAIM,
        )
        return [(self.sign(node, "status", st), ())]

    def fetch_delay_ticks(self, node: SimNode) -> int:
        return 10**6 if self.rng.random() < 0.5 else 0  # half the time: never in time

    def serve_fetch(self, node, blocks):
        if not blocks:  # it has nothing there: make a block up
            info = make_block(
                self.cfg, node.height + 1, 0, sha256(b"made up"), [], node.signer.public_key, 1
            )
            return [pb.CertifiedBlock(block=info.block)]
        return short_certificates(blocks)


class Mixed(Base):
    """A different Byzantine trick per message, chosen by the seed."""

    KINDS = (Equivocator, Replayer, ViewShifter, Forger, Flooder)

    def __init__(self, cluster, index):
        super().__init__(cluster, index)
        self.parts = [k(cluster, index) for k in self.KINDS]

    def rewrite(self, node, msg, blocks, dst):
        return self.rng.choice(self.parts).rewrite(node, msg, blocks, dst)

    def on_tick(self, node):
        return self.rng.choice(self.parts).on_tick(node)

    def serve_fetch(self, node, blocks):
        return self.rng.choice(self.parts).serve_fetch(node, blocks)


BEHAVIOURS = {
    "silent": Silent,
    "equivocate": Equivocator,
    "replay": Replayer,
    "views": ViewShifter,
    "forge": Forger,
    "flood": Flooder,
    "mixed": Mixed,
    "split": SplitBrain,
}
