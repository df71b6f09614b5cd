"""Faster recovery from a dead primary: the node's lost link as a suspicion (issue 16).

A killed process closes its connections at once; the node tells its core
(`PeerLinkChanged`), and a replica with work outstanding waits `primary_suspect_ticks`
instead of the full view-change timeout before its VIEW-CHANGE (§4.4). One replica's
suspicion moves no one (f+1 VIEW-CHANGEs make others join, §4.5.2), so a flaky link to a
live primary must not change the view over and over.
"""

from __future__ import annotations

import random

from consensus.events import PeerLinkChanged
from sim.cluster import Cluster

LOAD = {"block_txs_max": 20, "checkpoint_interval_blocks": 8, "log_window_blocks": 16}


def resume_ticks_after_primary_crash(seed: int, **config: int) -> int:
    """Under steady load, crash the primary of view 0 and count the ticks until every
    survivor executed a block above every height proposed before the crash (new work,
    not the pipeline draining)."""
    cluster = Cluster(4, seed=seed, **LOAD, **config)
    for _ in range(40):
        cluster.submit(5)
        cluster.tick()
    cluster.crash(cluster.nodes[0])
    cluster.restart_at[0] = 10**9  # stays down
    crashed_at = cluster.now
    survivors = cluster.nodes[1:]
    proposed = max(max(n.replica.slots, default=0) for n in cluster.nodes)
    for _ in range(400):
        cluster.submit(5, to=[1, 2, 3])
        cluster.tick()
        if all(s.height > proposed for s in survivors):
            assert all(s.replica.view == 1 for s in survivors)
            return cluster.now - crashed_at
    raise AssertionError("commits never resumed\n" + cluster.describe())


def test_commits_resume_within_the_suspicion_bound_after_the_primary_crashes() -> None:
    """Defaults (50 ms ticks): suspicion after 8 ticks, then one round of VIEW-CHANGE,
    NEW-VIEW and the three phases of a new block: well under 30 ticks (1.5 s), where the
    full 40-tick timeout alone (the suspicion off) takes over 40."""
    for seed in range(5):
        assert resume_ticks_after_primary_crash(seed) <= 20
        assert resume_ticks_after_primary_crash(seed, primary_suspect_ticks=40) > 40


def flaky_link_run(seed: int, ticks: int = 1500, **config: int) -> Cluster:
    """A saturated, live primary (node 0) whose links to backup 1 keep failing: while a
    link is down, backup 1's node reports it (`PeerLinkChanged`) and nothing passes
    either way between them."""
    cluster = Cluster(4, seed=seed, **LOAD, **config)
    rng = random.Random(seed)
    primary_key = cluster.nodes[0].signer.public_key
    down_until = -1
    for _ in range(ticks):
        cluster.submit(10)  # more than the blocks in flight carry: always work pending
        if down_until < 0 and rng.random() < 0.05:
            down_until = cluster.now + rng.randint(1, 60)
            cluster.step(cluster.nodes[1], PeerLinkChanged(primary_key, up=False))
            cluster.net.cut.update({(0, 1), (1, 0)})
        elif 0 <= down_until <= cluster.now:
            down_until = -1
            cluster.net.cut.clear()
            cluster.step(cluster.nodes[1], PeerLinkChanged(primary_key, up=True))
        cluster.tick()
    return cluster


def test_flaky_links_to_one_backup_of_a_saturated_live_primary_cause_no_view_change() -> None:
    """The backup's short timer fires while its link is down, but the others' votes in
    the view show the primary works: it waits the full timeout as before, catches up by
    block sync, and no replica (the backup included) ever leaves view 0."""
    for seed in range(3):
        cluster = flaky_link_run(seed)
        assert [n.replica.view for n in cluster.nodes] == [0, 0, 0, 0], cluster.describe()
        assert all(n.replica.view_active for n in cluster.nodes)
        heights = [n.height for n in cluster.nodes]
        assert min(heights) > 700 and max(heights) - min(heights) <= LOAD["log_window_blocks"]


def test_a_primary_whose_link_keeps_dropping_is_not_spared_by_reconnecting() -> None:
    """A link coming back clears the suspicion without re-arming the running timer, so a
    primary that stalls and reconnects every few ticks cannot postpone the view change."""
    cluster = Cluster(4, seed=11, **LOAD)
    key = cluster.nodes[0].signer.public_key
    cluster.crash(cluster.nodes[0])  # stalls: sends nothing
    cluster.restart_at[0] = 10**9
    cluster.submit(5, to=[1, 2, 3])
    for _ in range(60):
        for node in cluster.nodes[1:]:
            cluster.step(node, PeerLinkChanged(key, up=cluster.now % 2 == 0))
        cluster.tick()
    assert all(n.replica.view >= 1 for n in cluster.nodes[1:]), cluster.describe()


def test_the_suspicion_doubles_per_failed_view_and_never_exceeds_the_full_timeout() -> None:
    """Adaptive, like the full timeout: a suspicion that keeps being wrong backs off."""
    cluster = Cluster(4, seed=12, view_change_timeout_ticks=20, primary_suspect_ticks=8)
    replica = cluster.nodes[1].replica
    replica.step(PeerLinkChanged(cluster.nodes[0].signer.public_key, up=False))
    waits = []
    for failed in range(4):
        replica.failed_views = failed
        waits.append((replica.request_timeout_ticks(), replica.view_change_timeout_ticks()))
    assert waits == [(8, 20), (16, 40), (32, 80), (64, 160)]
    replica.step(PeerLinkChanged(cluster.nodes[0].signer.public_key, up=True))
    assert replica.request_timeout_ticks() == replica.view_change_timeout_ticks() == 160
    capped = Cluster(4, seed=12, view_change_timeout_ticks=4, primary_suspect_ticks=8)
    capped.nodes[1].replica.step(PeerLinkChanged(capped.nodes[0].signer.public_key, up=False))
    assert capped.nodes[1].replica.request_timeout_ticks() == 4


def test_votes_for_blocks_in_flight_at_the_crash_do_not_refute_the_suspicion() -> None:
    """Backup 3 missed the primary's last pre-prepares (its link to it failed first) but
    holds the other backups' votes for them. Those votes predate the suspicion: they are
    no sign that the primary lives, so backup 3 still leaves after the short timer, on its
    own (the others' VIEW-CHANGEs are kept from it here)."""
    cluster = Cluster(4, seed=13, **LOAD)
    for _ in range(30):
        cluster.submit(5)
        cluster.tick()
    cluster.net.cut.add((0, 3))
    for _ in range(3):
        cluster.submit(5)
        cluster.tick()
    lagging = cluster.nodes[3].replica
    assert any(h > lagging.executed_height and s.prepares for h, s in lagging.slots.items())
    cluster.crash(cluster.nodes[0])
    cluster.restart_at[0] = 10**9
    cluster.net.cut.update({(1, 3), (2, 3)})
    crashed_at = cluster.now
    assert cluster.run_until(lambda: lagging.view >= 1, 40)
    assert cluster.now - crashed_at <= 12
