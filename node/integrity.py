"""Startup checks of a channel: its stored chain, and the limits its genesis needs.

A node must never serve or extend a damaged chain, nor start a channel it could not keep
up with. The checks split along the package lines: storage checks the layout it owns
(every block present, linked, indexed, with results; `ChannelLedger.verify_integrity`),
and the core judges what only the protocol knows, a block's commit certificate
(`consensus.certificates.check_block_cert`). This module runs both, with the validator
set of each height as governance left it in the ledger's world state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from chains.governance import MEMBERSHIP_KEY
from consensus.certificates import check_block_cert
from consensus.config import ConsensusConfig
from consensus.crypto import Verifier
from node.config import ConfigError, Limits
from node.governance import membership_of
from storage.ledger import ChannelLedger, CorruptLedger

log = structlog.get_logger("node")

# A fetch answer holds a block, its header, its commit certificate and the checkpoint proof.
FETCH_ANSWER_SLACK_BYTES = 256 << 10


def check_ledger(
    ledger: ChannelLedger,
    cfg: ConsensusConfig,
    verifier: Verifier,
    full: bool = False,
    cfg_at: Callable[[int], ConsensusConfig] | None = None,
) -> None:
    """The stored chain's layout, then commit certificates; raises CorruptLedger at the
    first problem. Certificates cost a signature check per vote, so only the tip's is
    verified unless `full`. `cfg_at` gives the validator set of a height when governance
    changed it (default: `cfg` throughout)."""
    if cfg.channel != ledger.channel:
        raise ValueError(f"config of channel {cfg.channel!r} for ledger {ledger.channel!r}")
    ledger.verify_integrity(full)
    top = ledger.tip().height
    for height in range(ledger.pruned_height() + 1 if full else top, top + 1):
        if height < 1:
            continue
        certified, digest = ledger.block(height), ledger.block_hash(height)
        if certified is None or digest is None:
            raise CorruptLedger(ledger.channel, height, "block missing")
        set_cfg = cfg if cfg_at is None else cfg_at(height)
        cert = check_block_cert(certified.commits, height, digest, set_cfg, verifier)
        if isinstance(cert, str):
            raise CorruptLedger(ledger.channel, height, cert)


def check_channel(
    ledger: ChannelLedger, cfg: ConsensusConfig, verifier: Verifier, limits: Limits, me: bytes
) -> None:
    """What a node checks before it opens a channel: the ledger with each height's set
    (from the membership governance stored), and that a block sync answer of one genesis
    block fits this node's fetch limit. Raises CorruptLedger or ConfigError."""
    tip = ledger.tip()
    if tip.height and not tip.state_sum:  # its state roots are of the old formula
        raise ConfigError(
            f"channel {ledger.channel}: the ledger was written by a govchain before state "
            "sums (protocol.md section 4) and its state roots differ from the network's: "
            "start this node on an empty data directory (it syncs from its peers)"
        )
    membership = membership_of(ledger.get_state(MEMBERSHIP_KEY), cfg.validators)
    sets = {e.first_height: replace(cfg, validators=e.validators) for e in membership.epochs}
    check_ledger(ledger, cfg, verifier, cfg_at=lambda h: sets[membership.at(h).first_height])
    if me not in membership.epochs[-1].validators:
        log.info(
            "not a validator of this channel: following it as an observer",
            channel=ledger.channel,
            key=me.hex()[:16],
        )
    if limits.fetch_answer_bytes_max < cfg.block_bytes_max + FETCH_ANSWER_SLACK_BYTES:
        raise ConfigError(
            f"channel {ledger.channel}: limits.fetch_answer_bytes_max is below one block of "
            f"the genesis block_bytes_max plus {FETCH_ANSWER_SLACK_BYTES} bytes: no block "
            "sync answer could be received"
        )
