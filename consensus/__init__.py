"""PBFT consensus core of govchain: a pure, deterministic state machine per channel.

`Replica.step(event) -> list[Action]` is the whole interface. The core does no I/O, reads
no clock, draws no randomness and starts no threads: time arrives as `Tick` events for the
timers it asked for, messages arrive already signature-checked by the node, and every
effect (persist, send, execute, fetch, set a timer) is an action the caller performs in
order. The same code runs in the deterministic simulator (tests/sim) and in the node.
"""

from consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    ExecuteBlock,
    FetchBlocks,
    Persist,
    Reject,
    Send,
    SetTimer,
)
from consensus.config import ConsensusConfig
from consensus.events import (
    BlocksFetched,
    Event,
    Executed,
    MessageReceived,
    Restored,
    Tick,
    TxsReady,
)
from consensus.replica import Replica

__all__ = [
    "Action",
    "BlocksFetched",
    "Broadcast",
    "CancelTimer",
    "ConsensusConfig",
    "Event",
    "ExecuteBlock",
    "Executed",
    "FetchBlocks",
    "MessageReceived",
    "Persist",
    "Reject",
    "Replica",
    "Restored",
    "Send",
    "SetTimer",
    "Tick",
    "TxsReady",
]
