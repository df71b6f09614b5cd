"""Pruning a ledger: old blocks and results go in bounded atomic writes, the rest stays,
the retained chain still passes the startup check, and a pruned height says so."""

from __future__ import annotations

import pytest

from consensus.persisted import CheckpointRecord
from node.config import ConfigError, load_config
from node.integrity import check_ledger
from sim.crypto import make_verifier
from storage.ledger import ChannelLedger, CorruptLedger, Pruned
from storage.pruning import RETAIN_BLOCKS_MIN, prune, prune_limit
from tests.unit.ledger_blocks import CFG, SIGNERS, append, chain, checkpoint_cert, h8
from tests.unit.test_node_config import toml, write

COUNT = RETAIN_BLOCKS_MIN + 40


def grown(ledger: ChannelLedger, stable: int) -> list:
    blocks = chain(COUNT)
    s = blocks[stable - 1]
    cert = checkpoint_cert(stable, s.info.digest, s.results.state_root)
    append(ledger, blocks, (CheckpointRecord(cert),))
    return blocks


def test_the_limit_keeps_retain_blocks_and_the_stable_checkpoint(ledger: ChannelLedger) -> None:
    assert prune_limit(ledger, RETAIN_BLOCKS_MIN) == 0  # empty
    grown(ledger, stable=COUNT - 2)
    assert prune_limit(ledger, RETAIN_BLOCKS_MIN) == COUNT - RETAIN_BLOCKS_MIN
    with pytest.raises(ValueError, match="at least"):
        prune_limit(ledger, RETAIN_BLOCKS_MIN - 1)


def test_the_limit_stays_below_the_stable_checkpoint(ledger: ChannelLedger) -> None:
    grown(ledger, stable=10)
    assert prune_limit(ledger, RETAIN_BLOCKS_MIN) == 9


def test_pruning_in_batches_keeps_the_chain_checkable(ledger: ChannelLedger) -> None:
    blocks = grown(ledger, stable=COUNT - 2)
    target = prune_limit(ledger, RETAIN_BLOCKS_MIN)
    assert prune(ledger, target, 25) == 25
    assert ledger.pruned_height() == 25
    while prune(ledger, target, 25):
        pass
    assert ledger.pruned_height() == target
    base = ledger.base()
    assert base.hash == blocks[target - 1].info.digest
    assert base.state_root == blocks[target - 1].results.state_root
    assert ledger.block(target) is None and ledger.results(target) is None
    assert ledger.block(target + 1) is not None
    # the indexes stay: replay protection and "pruned" by hash
    assert ledger.tx_location(blocks[0].tx_ids[0]) == (1, 0)
    assert ledger.height_of(blocks[0].info.digest) == 1
    check_ledger(ledger, CFG, make_verifier(SIGNERS), full=True)
    ChannelLedger(ledger.store, ledger.channel, ledger.genesis_hash).verify_integrity(True)


def test_a_fetch_of_a_pruned_height_says_pruned(ledger: ChannelLedger) -> None:
    grown(ledger, stable=COUNT - 2)
    prune(ledger, 30, 100)
    with pytest.raises(Pruned, match=r"pruned.*lowest retained height is 31") as err:
        ledger.blocks(20, 40, 10)
    assert err.value.lowest == 31
    assert [b.block.header for b in ledger.blocks(31, 32, 10)]


def test_the_tip_is_never_pruned(ledger: ChannelLedger) -> None:
    grown(ledger, stable=COUNT)
    assert prune(ledger, COUNT, 10_000) == COUNT - 1
    assert ledger.block(COUNT) is not None


def test_a_block_left_below_the_base_is_corruption(ledger: ChannelLedger) -> None:
    grown(ledger, stable=COUNT - 2)
    raw = ledger.store.get(b"b:" + h8(5))
    prune(ledger, 10, 100)
    ledger.store.write([(b"b:" + h8(5), raw)])
    with pytest.raises(CorruptLedger, match="prune base"):
        ledger.verify_integrity()


def test_a_missing_retained_block_is_still_found(ledger: ChannelLedger) -> None:
    grown(ledger, stable=COUNT - 2)
    prune(ledger, 10, 100)
    ledger.store.write([], [b"b:" + h8(11)])
    with pytest.raises(CorruptLedger, match="block missing") as err:
        ledger.verify_integrity()
    assert err.value.height == 11


@pytest.mark.parametrize(
    ("value", "ok"), [("0", True), (str(RETAIN_BLOCKS_MIN), True), ("5", False), ('"x"', False)]
)
def test_the_config_field(tmp_path, value: str, ok: bool) -> None:
    path = write(tmp_path, toml({"retain_blocks": value}))
    if ok:
        assert load_config(path).retain_blocks == int(value)
    else:
        with pytest.raises(ConfigError, match="retain_blocks"):
            load_config(path)
