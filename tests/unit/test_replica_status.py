"""Replica.status(): the one snapshot the node reads of the core (consensus/status.py)."""

from __future__ import annotations

from consensus.events import TxsReady
from tests.unit.replica_events import KEYS, new_replica, txs


def test_a_fresh_backup_reports_view_zero_and_its_set() -> None:
    st = new_replica(index=1).status()
    assert (st.view, st.view_active, st.primary, st.member) == (0, True, KEYS[0], True)
    assert st.validators == KEYS and st.next_validators == () and st.next_set_from_height == 0
    assert (st.executed_height, st.stable_height, st.fetch_target) == (0, 0, 0)


def test_it_is_a_copy_that_shows_the_buffers() -> None:
    primary = new_replica(index=0, block_txs_max=100)
    before = primary.status()
    primary.step(TxsReady(txs(1, 2, 3), now_ms=1_000))  # pending: the block waits for its cut
    after = primary.status()
    assert after.held["pending_txs"] == 3 and before.held["pending_txs"] == 0
    after.held["pending_txs"] = 99  # the snapshot is the caller's, not the core's
    assert primary.status().held["pending_txs"] == 3
