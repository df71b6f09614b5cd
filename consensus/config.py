"""Consensus configuration of one channel: validator set and every limit, with units."""

from __future__ import annotations

from dataclasses import dataclass

from consensus.hashing import SHA256, ZERO_HASH, Hashing

# A block's header may add this much to block_bytes_max (parse_block's allowance), and a
# signed vote with its envelope fields stays under the second figure.
BLOCK_HEADER_BYTES_MAX = 1024
MESSAGE_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class ConsensusConfig:
    """Everything a replica of one channel must agree on with its peers, plus local limits.

    `validators` is one set of the channel's membership (genesis, or a later one chosen by
    governance: see membership.py); its order fixes the primary rotation (primary of view
    v is validators[v mod n]). Every limit is named with its unit
    last, so a reader never has to guess whether a number counts blocks, ticks or bytes.
    """

    channel: str
    validators: tuple[bytes, ...]
    genesis_hash: bytes = ZERO_HASH
    # Block cutting (primary): a block closes at whichever bound is hit first.
    block_txs_max: int = 1000
    block_bytes_max: int = 1 << 20
    block_interval_ticks: int = 2
    # Pipelining and the log window (PBFT watermarks, OSDI'99 §4.3).
    in_flight_blocks_max: int = 4
    checkpoint_interval_blocks: int = 8
    log_window_blocks: int = 16
    # View change (§4.4): timeout doubles per consecutive failed view, up to the cap.
    view_change_timeout_ticks: int = 40
    view_change_timeout_max_ticks: int = 640
    # The same timer while the node reports its link to the primary lost (a suspicion:
    # one replica's VIEW-CHANGE alone moves no one, f+1 are needed).
    primary_suspect_ticks: int = 8
    # Retransmission and catch-up heartbeat.
    status_interval_ticks: int = 10
    fetch_blocks_max: int = 32
    # Block time (see on_pre_prepare): a proposed block's timestamp must be after its
    # parent's and within this bound of the receiving replica's clock.
    block_time_skew_ms: int = 10_000
    # A peer whose fetch answer was invalid (or missing) is asked last for this long.
    fetch_penalty_ticks: int = 600
    # Bounded memory against floods and Byzantine peers: every buffer a peer can fill has
    # a count and a byte bound (bytes = signed body + signature + kept block bytes).
    future_messages_per_peer_max: int = 256
    future_bytes_per_peer_max: int = 6 << 20
    orphan_bytes_max: int = 8 << 20
    view_change_bytes_max: int = 1 << 20
    pending_txs_max: int = 100_000
    pending_bytes_max: int = 64 << 20
    tx_bytes_max: int = 64 << 10
    recent_committed_txs_max: int = 20_000
    # The channel's suite hash (SHA-256, or SM3 on `sm2-sm3`): block digests, tx ids and
    # the Merkle root all use it (genesis `crypto_suite`, node/config.py).
    hashing: Hashing = SHA256

    def __post_init__(self) -> None:
        if not self.validators:
            raise ValueError("a channel needs at least one validator")
        if len(set(self.validators)) != len(self.validators):
            raise ValueError("validator keys must be distinct")
        if {len(v) for v in self.validators} not in ({32}, {65}):  # one suite's keys
            raise ValueError("validator keys must be 32-byte Ed25519 or 65-byte SM2 public keys")
        if self.log_window_blocks < 2 * self.checkpoint_interval_blocks:
            raise ValueError("log_window_blocks must be at least 2 * checkpoint_interval_blocks")
        if not 1 <= self.in_flight_blocks_max <= self.log_window_blocks:
            raise ValueError("in_flight_blocks_max must be in [1, log_window_blocks]")
        for name in (
            "block_txs_max",
            "block_bytes_max",
            "block_interval_ticks",
            "checkpoint_interval_blocks",
            "view_change_timeout_ticks",
            "primary_suspect_ticks",
            "status_interval_ticks",
            "fetch_blocks_max",
            "fetch_penalty_ticks",
            "future_messages_per_peer_max",
            "view_change_bytes_max",
            "pending_txs_max",
            "pending_bytes_max",
            "tx_bytes_max",
            "block_time_skew_ms",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        one_block = self.block_bytes_max + BLOCK_HEADER_BYTES_MAX + MESSAGE_OVERHEAD_BYTES
        for name in ("future_bytes_per_peer_max", "orphan_bytes_max"):
            if getattr(self, name) < one_block:
                raise ValueError(f"{name} must hold one full block (block_bytes_max + 2 KiB)")
        if self.view_change_timeout_max_ticks < self.view_change_timeout_ticks:
            raise ValueError("view_change_timeout_max_ticks must be >= view_change_timeout_ticks")

    @property
    def n(self) -> int:
        return len(self.validators)

    @property
    def f(self) -> int:
        """Byzantine replicas tolerated: f = floor((n - 1) / 3)."""
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return quorum_of(self.n)

    def primary(self, view: int) -> bytes:
        return self.validators[view % self.n]


def quorum_of(n: int) -> int:
    """ceil((n + f + 1) / 2) with f = floor((n - 1) / 3): any two quorums of n validators
    share at least one honest one."""
    f = (n - 1) // 3
    return (n + f + 2) // 2
