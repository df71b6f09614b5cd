"""The interface between the executor and a channel's application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from node.txs import DecodedTx

OK = 0


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@dataclass(frozen=True)
class Outcome:
    """What one tx did: code 0 with writes, or a non-zero code and a reason and no writes."""

    code: int = OK
    reason: str = ""
    writes: Mapping[bytes, bytes | None] = field(default_factory=dict)


class Application(Protocol):
    def check(self, tx: DecodedTx) -> str | None:
        """Stateless admission check; a reason refuses the tx before it reaches a block."""
        ...

    def apply(self, state: StateReader, tx: DecodedTx, height: int) -> Outcome: ...
