"""An in-memory network with seeded faults: drops, duplicates, delays (reordering), cuts."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field


@dataclass(order=True)
class InFlight:
    at: int
    seq: int
    src: int = field(compare=False)
    dst: int = field(compare=False)
    data: object = field(compare=False)


class Network:
    """Directed links between node indices. A cut link loses everything on it, including
    what was already in flight when it was cut (checked again at delivery)."""

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng = rng
        self.n = n
        self.queue: list[InFlight] = []
        self.seq = 0
        self.drop_rate = 0.0
        self.dup_rate = 0.0
        self.delay_max_ticks = 0
        self.cut: set[tuple[int, int]] = set()
        self.sent = 0
        self.dropped = 0

    def linked(self, src: int, dst: int) -> bool:
        return (src, dst) not in self.cut

    def send(self, now: int, src: int, dst: int, data: object) -> None:
        self.sent += 1
        if not self.linked(src, dst) or self.rng.random() < self.drop_rate:
            self.dropped += 1
            return
        copies = 2 if self.rng.random() < self.dup_rate else 1
        for _ in range(copies):
            self.seq += 1
            at = now + 1 + self.rng.randint(0, self.delay_max_ticks)
            heapq.heappush(self.queue, InFlight(at, self.seq, src, dst, data))

    def schedule(self, at: int, src: int, dst: int, data: object) -> None:
        """Deliver at tick `at` whatever the fault rates: a node's own event (a fetch it
        gave up on), which only a crash of `dst` loses."""
        self.seq += 1
        heapq.heappush(self.queue, InFlight(at, self.seq, src, dst, data))

    def due(self, now: int) -> list[InFlight]:
        out = []
        while self.queue and self.queue[0].at <= now:
            item = heapq.heappop(self.queue)
            if self.linked(item.src, item.dst):
                out.append(item)
            else:
                self.dropped += 1
        return out

    def isolate(self, i: int) -> None:
        for j in range(self.n):
            if j != i:
                self.cut.add((i, j))
                self.cut.add((j, i))

    def partition(self, groups: list[list[int]]) -> None:
        side = {i: g for g, members in enumerate(groups) for i in members}
        for i in range(self.n):
            for j in range(self.n):
                if i != j and side.get(i) != side.get(j):
                    self.cut.add((i, j))

    def heal(self) -> None:
        self.cut.clear()
        self.drop_rate = 0.0
        self.dup_rate = 0.0

    def drop_to(self, dst: int) -> None:
        """Lose everything in flight to a node (it crashed: its sockets are gone)."""
        self.queue = [m for m in self.queue if m.dst != dst]
        heapq.heapify(self.queue)
