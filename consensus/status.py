"""What the node may read of a replica: one frozen snapshot (etcd-raft's `Status`).

The node's metrics, `GetStatus` and logs read the core through `Replica.status()` instead
of its private fields, so the core's internals can change without the node knowing, and
a reader sees in one place everything the core shows the outside.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """A replica at one moment, copied out (holding it pins nothing of the core)."""

    view: int
    view_active: bool
    primary: bytes  # of `view`
    member: bool  # votes in the current set (else it observes)
    validators: tuple[bytes, ...]  # the current set
    next_validators: tuple[bytes, ...]  # the set governance scheduled, if any
    next_set_from_height: int  # first height the next set orders (0: none scheduled)
    governance_sequence: int  # a new governance proposal must name this
    executed_height: int
    stable_height: int
    fetch_target: int  # the height a running catch-up fetches up to (0: none)
    # Sizes of the core's bounded buffers (counts and bytes), to see where memory goes.
    held: dict[str, int] = field(default_factory=dict)
    # Bytes of what peers' messages hold: early votes, orphans, peers' VIEW-CHANGEs.
    buffered_bytes: dict[str, int] = field(default_factory=dict)
    # Invalid block-sync answers per serving peer (current and next members only).
    fetch_invalid: dict[bytes, int] = field(default_factory=dict)
