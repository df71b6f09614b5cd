"""Whom to believe and whom to ask when catching up (issue 11 §5).

A peer's heartbeat claims a height; a Byzantine member can claim any height it likes,
and if one claim were enough, it would set every honest replica's fetch target to 10^9
and draw all their fetches to itself. So a height is believed only when f+1 members
report at least that height (one of them is honest, and an honest member has really
executed it), and the peers are asked in an order that no single peer controls.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping


def credible_height(claims: Mapping[bytes, int], members: Collection[bytes], f: int) -> int:
    """The (f+1)-th highest height among the members' claims: with at most f faulty
    members, at least one honest member is at or above it. 0 if fewer than f+1 claim."""
    heights = sorted((h for p, h in claims.items() if p in members), reverse=True)
    return heights[f] if len(heights) > f else 0


def holders(claims: Mapping[bytes, int], members: Collection[bytes], height: int) -> list[bytes]:
    """Members that claim `height` or more, in a fixed order (by key, not by how high
    they claim: the highest claim is the one a liar makes)."""
    return sorted(p for p, h in claims.items() if p in members and h >= height)


def fetch_order(
    preferred: Iterable[bytes],
    everyone: Iterable[bytes],
    me: bytes,
    rotation: int,
    penalised: Collection[bytes] = (),
    tainted: Collection[bytes] = (),
    suspect: Collection[bytes] = (),
) -> tuple[bytes, ...]:
    """The peers to ask, best first. `preferred` (peers known to hold the blocks) come
    before everyone else (by key), so the fetch can go on when they fail; and:

    - a peer with a recent invalid or missing answer (`penalised`) comes last of all;
    - one `tainted` by such an answer, and no valid one since, comes after the others
      that hold the blocks, so a peer that never answers well is asked first at most once;
    - one whose claimed height no f+1 members vouch for (`suspect`) comes after the rest;
    - otherwise `rotation` decides, so no one peer is always asked first.
    """
    first = [p for p in dict.fromkeys(preferred) if p != me]
    if first:
        k = rotation % len(first)
        first = first[k:] + first[:k]
    chosen = set(first)
    rest = sorted(p for p in everyone if p != me and p not in chosen)
    return tuple(
        sorted(
            first + rest,
            key=lambda p: (p in penalised, p not in chosen, p in tainted, p in suspect),
        )
    )
