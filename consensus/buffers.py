"""Buffers a peer can fill, bounded in count and in bytes.

Early votes (for a view this replica has not entered) and pre-prepares waiting for their
parent (orphans) are the two places where a peer's messages stay in memory before they
can be processed. A Byzantine validator can fill both at will, so each keeps only what
can still become useful and has a byte bound as well as a count bound: a count alone let
one peer pin 256 whole blocks per channel. What enters them is decided in
`replica_normal_case.py`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from consensus.blocks import block_bytes
from consensus.events import MessageReceived


def message_bytes(ev: MessageReceived) -> int:
    """What a buffered message pins: its signed body, signature and attached block bytes."""
    msg = ev.message
    return len(msg.body) + len(msg.signature) + sum(block_bytes(b) for b in ev.blocks)


def total_bytes(events: Iterable[MessageReceived]) -> int:
    return sum(message_bytes(ev) for ev in events)


class FutureQueue(deque[MessageReceived]):
    """One sender's early votes, all for one view (the highest it sent), oldest first."""

    def __init__(self, view: int) -> None:
        super().__init__()
        self.view = view
        self.size_bytes = 0

    def push(self, ev: MessageReceived, count_max: int, bytes_max: int) -> int:
        """Append `ev`, then drop the oldest until both bounds hold (`ev` itself too, if it
        alone is over the byte bound); return how many were dropped."""
        self.append(ev)
        self.size_bytes += message_bytes(ev)
        dropped = 0
        while self and (len(self) > count_max or self.size_bytes > bytes_max):
            self.size_bytes -= message_bytes(self.popleft())
            dropped += 1
        return dropped
