"""Consensus messages per committed block grow as PBFT predicts, O(n²), and no faster
(bench/messages.py counts them in the simulator running the real core).

PBFT's normal case (OSDI'99 §4.2) sends (n-1) PRE-PREPAREs, n·(n-1) PREPAREs and n·(n-1)
COMMITs per block (this core's primary sends its PREPARE too). Heartbeats, the votes they
retransmit for heights still in flight, and checkpoints come on top; the bounds below
leave them room but would catch an accidental broadcast storm (every message re-sent at
every heartbeat, a vote broadcast per tx, a loop of retransmissions).
"""

from __future__ import annotations

import json

import pytest

from bench.messages import VOTE_KINDS, MessageCount, count_messages, main, markdown

WINDOW_TICKS = 100
# Votes above the three phases (retransmissions of in-flight heights at each heartbeat):
# measured 1.17x (n = 4) .. 1.16x (n = 16); a heartbeat every tick makes it 3.2x.
VOTES_OVER_PBFT_MAX = 1.3
# Everything (votes, heartbeats, checkpoints) against the three phases alone: measured
# 1.27x at every n from 4 to 16.
ALL_OVER_PBFT_MAX = 1.45


@pytest.fixture(scope="module")
def counts() -> dict[int, MessageCount]:
    return {n: count_messages(n, seed=3, window_ticks=WINDOW_TICKS) for n in (4, 7, 10)}


def test_every_block_interval_commits_a_block_in_the_steady_run(
    counts: dict[int, MessageCount],
) -> None:
    for n, c in counts.items():
        assert c.blocks >= WINDOW_TICKS // 2, (n, c.blocks)


@pytest.mark.parametrize("n", [4, 7, 10])
def test_votes_per_block_are_the_three_phases_and_no_more_than_their_retransmissions(
    counts: dict[int, MessageCount], n: int
) -> None:
    c = counts[n]
    predicted = c.predicted_votes()
    assert predicted <= c.per_block(VOTE_KINDS) <= VOTES_OVER_PBFT_MAX * predicted
    assert c.per_block() <= ALL_OVER_PBFT_MAX * predicted
    # Each phase on its own: one PRE-PREPARE to each backup, one PREPARE and one COMMIT
    # from each replica to each peer (each at most retransmitted, never multiplied by n).
    for kind, floor in (("pre_prepare", n - 1), ("prepare", n * (n - 1)), ("commit", n * (n - 1))):
        per_block = c.by_kind[kind] / c.blocks
        assert floor * 0.95 <= per_block <= VOTES_OVER_PBFT_MAX * floor, (kind, per_block)


def test_messages_per_block_grow_quadratically_with_n(counts: dict[int, MessageCount]) -> None:
    """From n = 4 to n = 10 the three phases grow 189/27 = 7x; linear growth would be
    2.5x and cubic 15.6x."""
    growth = counts[10].per_block() / counts[4].per_block()
    predicted = counts[10].predicted_votes() / counts[4].predicted_votes()
    assert 0.85 * predicted <= growth <= 1.15 * predicted


def test_slow_links_cost_retransmissions_but_stay_within_twice_the_three_phases() -> None:
    """Links of 1..6 ticks keep a block in flight across heartbeats, and each heartbeat
    re-sends every in-flight vote and PRE-PREPARE (with its block): measured 1.83x (n =
    4) .. 1.96x (n = 16) the three phases, against 1.27x on fast links."""
    c = count_messages(7, seed=3, window_ticks=WINDOW_TICKS, delay_max_ticks=5)
    assert c.blocks > 0
    assert ALL_OVER_PBFT_MAX * c.predicted_votes() < c.per_block() <= 2.3 * c.predicted_votes()


def test_the_bound_catches_a_retransmission_storm() -> None:
    """A heartbeat every tick re-sends every in-flight vote every tick: the bound fails."""
    c = count_messages(4, seed=3, window_ticks=WINDOW_TICKS, status_interval_ticks=1)
    assert c.per_block() > ALL_OVER_PBFT_MAX * c.predicted_votes()


def test_the_report_has_one_row_per_n(counts: dict[int, MessageCount]) -> None:
    table = markdown(list(counts.values())).splitlines()
    assert table[0].startswith("| n | blocks | messages/block |")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["4", "7", "10"]


def test_the_command_prints_one_summary_per_n(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--validators", "1,4", "--window-ticks", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["validators"] for s in out] == [1, 4]
    assert out[0]["messages_per_block"] == 0  # one validator talks to nobody
    assert out[1]["by_kind_per_block"]["commit"] >= 12
