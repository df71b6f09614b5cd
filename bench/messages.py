"""Consensus messages per committed block as n grows, counted in the deterministic simulator.

`python -m bench.messages --validators 4,7,10,16`

The real nodes keep no per-kind count of what they send, and their count would move with
the load and the machine; the simulator runs the real `consensus.Replica` on n nodes, so
every message the core sends is one it would send on a real network, and a steady run
(no faults, a full block every block interval) gives one exact figure per n. PBFT
(Castro & Liskov, OSDI'99 §4.2) predicts per block: a PRE-PREPARE to n-1 backups, a
PREPARE from each backup to n-1 peers, a COMMIT from each replica to n-1 peers, so
(n-1) + 2·n·(n-1) at most; heartbeats (`status`, every status_interval_ticks), the
retransmissions they carry and checkpoints (every checkpoint_interval_blocks) come on top.
A heartbeat re-sends each replica's votes, and the PRE-PREPARE with its block, for every
height still in flight: `--delay-ticks` slows the links to show what that costs when the
three phases take longer than a heartbeat interval.
Figures are for reports; tests/unit/test_bench_messages.py holds the bound that catches a
broadcast storm.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field

from protos import consensus_pb2 as pb
from sim.cluster import Cluster

VOTE_KINDS = ("pre_prepare", "prepare", "commit")


@dataclass
class MessageCount:
    """What n replicas sent over the steady window, by message kind (point to point: a
    broadcast to n-1 peers counts n-1), and the blocks they committed in it."""

    n: int
    blocks: int
    ticks: int
    by_kind: Counter[str] = field(default_factory=Counter)
    bytes_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def per_block(self, kinds: tuple[str, ...] | None = None) -> float:
        """Messages per committed block, of `kinds` (all kinds if None)."""
        counted = self.total if kinds is None else sum(self.by_kind[k] for k in kinds)
        return counted / max(self.blocks, 1)

    def predicted_votes(self) -> int:
        """PBFT's three phases per block: (n-1) + 2·n·(n-1) (the primary's PREPARE
        included, which some implementations leave out)."""
        return (self.n - 1) + 2 * self.n * (self.n - 1)

    def summary(self) -> dict:
        return {
            "validators": self.n,
            "blocks": self.blocks,
            "ticks": self.ticks,
            "messages_per_block": round(self.per_block(), 1),
            "votes_per_block": round(self.per_block(VOTE_KINDS), 1),
            "kib_per_block": round(
                sum(self.bytes_by_kind.values()) / 1024 / max(self.blocks, 1), 1
            ),
            "predicted_votes_per_block": self.predicted_votes(),
            "by_kind_per_block": {
                k: round(v / max(self.blocks, 1), 2) for k, v in sorted(self.by_kind.items())
            },
            "kib_by_kind_per_block": {
                k: round(v / 1024 / max(self.blocks, 1), 1)
                for k, v in sorted(self.bytes_by_kind.items())
            },
        }


def kind_of(data: object) -> str:
    """The consensus kind of one envelope on the simulated wire (a fetch answer is an
    event the simulator hands over directly, not an envelope)."""
    if not isinstance(data, bytes):
        return "fetch_answer"
    body = pb.Envelope.FromString(data).message.body
    return pb.ConsensusMessage.FromString(body).WhichOneof("kind") or "unknown"


def count_messages(
    n: int,
    seed: int = 1,
    warmup_ticks: int = 40,
    window_ticks: int = 200,
    block_txs_max: int = 50,
    delay_max_ticks: int = 0,
    **overrides: int,
) -> MessageCount:
    """Run n replicas with a steady offered load (more txs each tick than a block holds,
    so every block interval cuts a full block) and count what they send in the window.
    `delay_max_ticks`: each message takes 1 to 1 + this many ticks (a loaded network,
    where a block stays in flight across heartbeats); nothing is lost.
    `overrides`: ConsensusConfig fields (e.g. status_interval_ticks)."""
    cluster = Cluster(n, seed, block_txs_max=block_txs_max, **overrides)
    cluster.faults.delay_max_ticks = delay_max_ticks
    counting = False
    by_kind: Counter[str] = Counter()
    bytes_by_kind: Counter[str] = Counter()
    send = cluster.net.send

    def counted_send(now: int, src: int, dst: int, data: object) -> None:
        if counting:
            kind = kind_of(data)
            by_kind[kind] += 1
            bytes_by_kind[kind] += len(data) if isinstance(data, bytes) else 0
        send(now, src, dst, data)

    cluster.net.send = counted_send  # type: ignore[method-assign]
    per_tick = block_txs_max  # block_interval_ticks is 2: twice what the blocks take
    for _ in range(warmup_ticks):
        cluster.submit(per_tick)
        cluster.tick()
    start_height = cluster.nodes[0].height
    counting = True
    for _ in range(window_ticks):
        cluster.submit(per_tick)
        cluster.tick()
    counting = False
    blocks = cluster.nodes[0].height - start_height
    assert cluster.max_view() == 0, "a steady run must not change views:\n" + cluster.describe()
    return MessageCount(n, blocks, window_ticks, by_kind, bytes_by_kind)


def markdown(counts: list[MessageCount]) -> str:
    """One row per n: messages per block, of which votes, against PBFT's prediction."""
    rows = [
        "| n | blocks | messages/block | votes/block | (n-1)+2n(n-1) | status/block "
        "| checkpoint/block | KiB/block |",
        "|" + "---|" * 8,
    ]
    for c in counts:
        s = c.summary()
        kinds = s["by_kind_per_block"]
        rows.append(
            f"| {c.n} | {c.blocks} | {s['messages_per_block']} | {s['votes_per_block']} "
            f"| {s['predicted_votes_per_block']} | {kinds.get('status', 0)} "
            f"| {kinds.get('checkpoint', 0)} | {s['kib_per_block']} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="consensus messages per committed block, by n")
    p.add_argument("--validators", default="4,7,10,16", help="comma-separated n")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--window-ticks", type=int, default=200, help="ticks counted (50 ms each)")
    p.add_argument("--block-txs-max", type=int, default=50)
    p.add_argument(
        "--delay-ticks", type=int, default=0, help="each message delayed 0..this many more ticks"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = p.parse_args(argv)
    counts = [
        count_messages(
            int(n),
            args.seed,
            window_ticks=args.window_ticks,
            block_txs_max=args.block_txs_max,
            delay_max_ticks=args.delay_ticks,
        )
        for n in args.validators.split(",")
        if n
    ]
    if args.json:
        print(json.dumps([c.summary() for c in counts], indent=2))
    else:
        print(markdown(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
