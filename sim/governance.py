"""Validator-set changes by governance on the simulated cluster: the helpers the tests
(tests/sim/test_membership*.py) and the campaign (scripts/membership_campaign.py) share,
and the grow-and-shrink chaos scenario the campaign runs over many seeds.

A governance tx committed in block H changes the set from E + 1 on, E = switch_height(H);
see consensus/membership.py.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any, TypeVar

from consensus.membership import KIND_VALIDATORS, Epoch, switch_height
from protos import consensus_pb2 as pb
from sim.cluster import Cluster, Faults, SimNode
from sim.crypto import make_gov_tx

SMALL = {"checkpoint_interval_blocks": 4, "log_window_blocks": 8, "block_txs_max": 10}
WINDOW = SMALL["log_window_blocks"]

F = TypeVar("F", bound=Callable[..., Any])


def replayable(fn: F) -> F:
    """Name the seed in any failure (safety violations included) so it can be replayed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssertionError as e:
            raise type(e)(f"seed={kwargs.get('seed')}: {e}") from e

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------ helpers


def cluster(seed: int, n: int = 4, observers: int = 1, **overrides: int) -> Cluster:
    """A cluster whose links reorder (delays of 0-2 ticks), so each seed is another run."""
    c = Cluster(n, seed, observers=observers, **{**SMALL, **overrides})
    c.faults.delay_max_ticks = 2
    return c


def gov_tx(
    c: Cluster,
    approvers: list[int],
    sequence: int,
    add: int | None = None,
    remove: int | None = None,
    nonce: int = 0,
) -> bytes:
    """A validator-set proposal (add or remove node `add`/`remove`) approved by nodes."""
    proposal = pb.GovernanceProposal(chain_id="sim", channel=c.cfg.channel, sequence=sequence)
    if add is not None:
        key = c.signers[add].public_key
        proposal.add_validator.CopyFrom(pb.ValidatorAdd(public_key=key, address=f"node{add}:1"))
    else:
        assert remove is not None
        proposal.remove_validator = c.signers[remove].public_key
    c.nonce += 1
    return make_gov_tx(
        KIND_VALIDATORS, proposal, [c.signers[i] for i in approvers], nonce or c.nonce
    )


def keys(c: Cluster, nodes: list[int]) -> tuple[bytes, ...]:
    return tuple(c.signers[i].public_key for i in nodes)


def where(c: Cluster, tx: bytes) -> int | None:
    """The agreed height holding `tx`, if committed."""
    return c.invariants.chain_txs.get(c.hash(tx))


def everywhere(c: Cluster, tx: bytes) -> Callable[[], bool]:
    """`tx` is committed and every live honest node executed its block."""

    def done() -> bool:
        height = where(c, tx)
        return height is not None and all(n.height >= height for n in c.honest_nodes() if n.alive)

    return done


def verdict(c: Cluster, tx: bytes) -> str:
    """Every honest node's verdict on a committed governance tx (they must be equal)."""
    height = where(c, tx)
    assert height is not None
    holder = next(n for n in c.honest_nodes() if n.height >= height)
    index = [bytes(t) for t in holder.ledger[height - 1].block.txs].index(tx)
    found = {dict(n.verdicts.get(height, ())).get(index) for n in c.honest_nodes() if n.alive}
    assert len(found) == 1 and None not in found, f"verdicts at {height}: {found}"
    return found.pop()


def commit_signers(c: Cluster, cb: pb.CertifiedBlock) -> set[int]:
    return {c.index_of[pb.ConsensusMessage.FromString(m.body).sender] for m in cb.commits}


def voted_heights(c: Cluster, node: int) -> set[int]:
    return {h for (i, kind, _, h) in c.invariants.signed_votes if i == node and kind == "commit"}


def switched(c: Cluster, members: list[int]) -> Callable[[], bool]:
    want = keys(c, members)
    return lambda: all(n.replica.cfg.validators == want for n in c.honest_nodes() if n.alive)


def busy_until(c: Cluster, done: Callable[[], bool], max_ticks: int, batch: int = 4) -> bool:
    """Clients keep submitting (a batch every 2 ticks) until `done` or the deadline."""
    for _ in range(max_ticks // 2):
        if done():
            return True
        c.submit(batch)
        c.run(2)
    return done()


def settle(c: Cluster, max_ticks: int = 1500) -> None:
    c.resubmit_uncommitted()
    assert c.run_until(c.all_committed, max_ticks), c.describe()
    assert len(c.invariants.chain_txs) == len(c.submitted)  # each exactly once (invariants)
    chains = {tuple(n.digests) for n in c.honest_nodes()}
    assert len(chains) == 1, "ledgers differ"


def change_set(
    c: Cluster, tx: bytes, old: list[int], new: list[int], busy: bool = True
) -> tuple[int, int]:
    """Commit a set change and wait for every honest node to switch; check the switch
    happened at E = switch_height(H) everywhere. Returns (H, E)."""
    c.submit_txs([tx])
    if busy:
        assert busy_until(c, everywhere(c, tx), 600), c.describe()
    else:
        assert c.run_until(everywhere(c, tx), 600), c.describe()
    height = where(c, tx)
    assert height is not None and verdict(c, tx) == ""
    end = switch_height(height, c.cfg)
    if busy:
        assert busy_until(c, switched(c, new), 1000), c.describe()
    else:
        assert c.run_until(switched(c, new), 1000), c.describe()
    for node in c.honest_nodes():
        m = node.replica.membership
        assert m.epochs[-1] == Epoch(end + 1, keys(c, new), m.epochs[-1].addresses)
        assert m.at(end).validators == keys(c, old)
        assert node.membership == m, f"node {node.index}: the executor's copy differs"
        assert node.switches[-1] == (end, keys(c, new)), f"node {node.index}: {node.switches}"
    return height, end


def check_certificates(c: Cluster, node: SimNode, sets: list[tuple[int, list[int]]]) -> None:
    """Each block's commit certificate is signed by the set of its height only;
    `sets` lists (first height, members)."""
    for h, cb in enumerate(node.ledger, start=1):
        members = [m for first, m in sets if first <= h][-1]
        assert commit_signers(c, cb) <= set(members), f"block {h} signed outside {members}"


# ------------------------------------------------------------------ chaos


def grow_and_shrink_under_chaos(seed: int) -> None:
    """4 -> 5 -> 4 validators under seeded drops, duplicates, delays, crashes and
    partitions; after healing both changes are accepted everywhere, every node switches at
    the same heights, and the removed validator votes for nothing above its set's end.
    Raises AssertionError (or SafetyViolation) naming what broke."""
    rng = random.Random(seed)
    c = Cluster(4, seed, observers=1, **SMALL)
    c.faults = Faults(
        drop_rate=rng.choice((0.02, 0.1)),
        dup_rate=rng.choice((0.0, 0.1)),
        delay_max_ticks=rng.choice((1, 3)),
        crash_rate=rng.choice((0.0, 0.003)),
        crash_mid_step_rate=rng.choice((0.0, 0.002)),
        partition_rate=rng.choice((0.0, 0.01)),
    )
    leaving = rng.choice((1, 4))  # shrink by a genesis validator or by the new one
    grow_tx = gov_tx(c, [0, 1, 2], 0, add=4)
    shrink_tx = gov_tx(c, [i for i in range(5) if i != leaving][:4], 1, remove=leaving)
    c.submit_txs([grow_tx])
    shrink_sent = False

    def past_switch() -> bool:
        height = where(c, grow_tx)
        return height is not None and max(c.invariants.chain) > switch_height(height, c.cfg)

    for t in range(700):
        if rng.random() < 0.3:
            c.submit(rng.randint(1, 6))
        if t % 50 == 49:
            c.resubmit_uncommitted()
        # The shrink is approved by the grown set, so it must land above the first switch.
        if not shrink_sent and past_switch():
            c.submit_txs([shrink_tx])
            shrink_sent = True
        c.tick()
    c.heal()
    if not shrink_sent:
        assert busy_until(c, lambda: c.invariants.membership.sequence == 1, 1000), c.describe()
        assert busy_until(c, switched(c, [0, 1, 2, 3, 4]), 1500), c.describe()
        c.submit_txs([shrink_tx])
    final = [i for i in range(5) if i != leaving]
    assert busy_until(c, everywhere(c, shrink_tx), 1500), c.describe()
    assert verdict(c, grow_tx) == "" and verdict(c, shrink_tx) == "", c.describe()
    assert busy_until(c, switched(c, final), 1500), c.describe()
    c.submit(10)
    settle(c, 3000)
    assert {n.replica.membership for n in c.nodes} == {c.invariants.membership}
    end2 = c.invariants.membership.epochs[-1].first_height - 1
    assert max(voted_heights(c, leaving), default=0) <= end2
    assert c.nodes[0].height > end2
