"""Why the core refused an input: one enum the node logs and counts per value."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Rejection reasons. Byzantine input is normal operation: every path names its reason."""

    MALFORMED = "malformed"
    NON_CANONICAL = "non_canonical"  # parses, but is not the one encoding (canonical.py)
    WRONG_CHANNEL = "wrong_channel"
    UNKNOWN_SENDER = "unknown_sender"
    OWN_MESSAGE = "own_message"
    BAD_SIGNATURE = "bad_signature"
    STALE_VIEW = "stale_view"
    WRONG_PRIMARY = "wrong_primary"
    OUTSIDE_WINDOW = "outside_window"
    ALREADY_EXECUTED = "already_executed"
    DUPLICATE = "duplicate"
    CONFLICTING_VOTE = "conflicting_vote"
    DIGEST_MISMATCH = "digest_mismatch"
    BAD_BLOCK = "bad_block"
    BAD_PARENT = "bad_parent"
    BAD_TX = "bad_tx"
    EMPTY_BLOCK = "empty_block"
    BLOCK_TOO_LARGE = "block_too_large"
    BAD_CERTIFICATE = "bad_certificate"
    BAD_VIEW_CHANGE = "bad_view_change"
    BAD_NEW_VIEW = "bad_new_view"
    NOT_IN_VIEW = "not_in_view"
    FUTURE_BUFFER_FULL = "future_buffer_full"
    ORPHAN_BUFFER_FULL = "orphan_buffer_full"
    PENDING_FULL = "pending_full"
    TX_TOO_LARGE = "tx_too_large"
    BAD_FETCHED_BLOCK = "bad_fetched_block"
    STATE_DIVERGED = "state_diverged"
    QUEUE_FULL = "queue_full"  # node: peers' messages waiting for the core hold their bound
    BAD_TIMESTAMP = "bad_timestamp"  # block time not after its parent's, or off our clock
