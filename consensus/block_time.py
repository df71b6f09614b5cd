"""Block time that one faulty primary cannot bend far: the rule every replica checks.

A block's `timestamp_ms` is "now" for the applications (license expiry, grant windows,
authentication sessions), and it comes from the primary. So a replica sends PREPARE for a
proposed block only if:

- its time is strictly after its parent's (time never stands still or goes back along
  the chain; genesis has time 0; a replica that knows its parent only by digest waits
  until it has executed it), and
- its time is within `block_time_skew_ms` of the replica's own clock when the
  pre-prepare arrived (the node stamps each received message with its wall clock; the
  core reads no clock).

A block needs 2f+1 PREPAREs, so at least f+1 honest replicas checked both rules: a
committed block's time is within the skew of some honest clock at the moment it was
proposed, and chain time is strictly increasing. An honest primary stamps
max(its clock, parent time + 1 ms), so with clocks within the skew of each other (and
message delays within it too) honest primaries stay live. Blocks re-proposed by a
NEW-VIEW keep their time: a quorum already checked it in the view that prepared them;
blocks fetched by block sync carry commit certificates and are not re-judged.
"""

from __future__ import annotations


def proposal_time(now_ms: int, parent_ms: int | None) -> int:
    """The time an honest primary stamps: its clock, but always after the parent."""
    if parent_ms is None:
        return now_ms
    return max(now_ms, parent_ms + 1)


def clock_problem(timestamp_ms: int, received_ms: int, skew_ms: int) -> str | None:
    """Why a block time is too far from the receiver's clock at arrival, or None."""
    if timestamp_ms > received_ms + skew_ms:
        return f"{timestamp_ms - received_ms} ms ahead of our clock (bound {skew_ms} ms)"
    if timestamp_ms < received_ms - skew_ms:
        return f"{received_ms - timestamp_ms} ms behind our clock (bound {skew_ms} ms)"
    return None


def parent_problem(timestamp_ms: int, parent_ms: int) -> str | None:
    """Why a block time does not follow its parent's, or None."""
    if timestamp_ms <= parent_ms:
        return f"time {timestamp_ms} not after the parent's {parent_ms}"
    return None
