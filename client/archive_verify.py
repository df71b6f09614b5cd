"""Check a block archive offline (`govchain archive verify`): files, hash chain, certificates.

What passes means: every chunk file is the one the manifest names (size, SHA-256); the
blocks run 1..to_height without a gap; each header decodes canonically, is of this
channel and its own height, names the previous block's digest as parent (block 1 the
genesis hash, which is the suite hash of the genesis file given); the stated digest is
the suite hash of the header; the txs hash to the header's `tx_root`; there is one result
per tx; and the commit certificate is a quorum of distinct validators of the set that
ordered that height, each signature valid (`consensus.certificates.check_block_cert`,
the core's own check). The set of each height is replayed exactly as the core does it:
the genesis set, changed by each accepted governance tx of the archived blocks
(`consensus.membership.decide`, effective after the switch height). The results are
carried, not certified: only a checkpoint certificate signs a state root.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from chains.tx import suite_hashing
from client.archive import ArchiveError, read_chunk, read_manifest
from client.set_replay import SetReplay
from consensus.canonical import NonCanonical, decode_canonical
from consensus.config import ConsensusConfig
from consensus.hashing import Hashing
from crypto import DEFAULT_SUITE, Suite, suite_by_name
from protos import api_pb2 as api
from protos import consensus_pb2 as pb


def verify_archive(directory: Path, genesis_raw: bytes) -> tuple[int, str | None]:
    """(blocks verified, None) if the archive passes every check, else (blocks verified
    before it, the first problem)."""
    done = 0
    try:
        manifest = read_manifest(directory)
        cfg, suite = genesis_config(manifest, genesis_raw)
        chain = _Chain(cfg, suite, manifest["chain_id"])
        expected = 1
        for entry in manifest["chunks"]:
            for event in _chunk_events(directory, entry, expected):
                chain.check(event, expected)
                expected, done = expected + 1, done + 1
            if expected != entry["to_height"] + 1:
                raise ArchiveError(
                    f"chunk {entry['file']}: ends at {expected - 1}, not {entry['to_height']}"
                )
        if expected != manifest["to_height"] + 1:
            raise ArchiveError(
                f"the chunks end at block {expected - 1}, not {manifest['to_height']}"
            )
    except ArchiveError as e:
        return done, str(e)
    return done, None


def genesis_config(manifest: dict[str, Any], raw: bytes) -> tuple[ConsensusConfig, Suite]:
    """The channel's genesis configuration, after checking the file is the archive's."""
    try:
        data = json.loads(raw)
        suite = suite_by_name(data.get("crypto_suite", DEFAULT_SUITE))
        if (data.get("chain_id"), data.get("channel")) != (
            manifest["chain_id"],
            manifest["channel"],
        ):
            raise ArchiveError(
                f"the genesis is for {data.get('chain_id')}/{data.get('channel')}, the archive "
                f"for {manifest['chain_id']}/{manifest['channel']}"
            )
        if suite.name != manifest["crypto_suite"]:
            raise ArchiveError(
                f"the genesis names suite {suite.name}, the archive {manifest['crypto_suite']}"
            )
        hashing = suite_hashing(suite)
        genesis_hash = hashing.hash(raw)
        if genesis_hash.hex() != manifest["genesis_hash"]:
            raise ArchiveError(
                f"the genesis file hashes to {genesis_hash.hex()}, the archive builds on "
                f"{manifest['genesis_hash']}"
            )
        keys = tuple(bytes.fromhex(v["public_key"]) for v in data["validators"])
        cfg = ConsensusConfig(
            channel=data["channel"],
            validators=keys,
            genesis_hash=genesis_hash,
            hashing=hashing,
            **data.get("consensus", {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError, ImportError) as e:
        raise ArchiveError(f"the genesis file is unusable: {type(e).__name__}: {e}") from None
    return cfg, suite


def _chunk_events(directory: Path, entry: Any, first: int) -> list[api.BlockEvent]:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise ArchiveError(f"a chunk entry of the manifest is malformed: {entry!r}")
    name = entry["file"]
    path = directory / name
    if Path(name).name != name or not path.is_file():
        raise ArchiveError(f"chunk {name}: missing")
    if entry.get("from_height") != first:
        raise ArchiveError(
            f"chunk {name}: starts at {entry.get('from_height')}, block {first} expected"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry.get("bytes") or digest != entry.get("sha256"):
        raise ArchiveError(
            f"chunk {name}: {len(data)} bytes with SHA-256 {digest}, the manifest says "
            f"{entry.get('bytes')} bytes with {entry.get('sha256')}"
        )
    return list(read_chunk(data, f"chunk {name}"))


class _Chain:
    """The walk along the archived chain: the previous digest and the validator sets."""

    def __init__(self, cfg: ConsensusConfig, suite: Suite, chain_id: str) -> None:
        self.cfg = cfg
        self.hashing: Hashing = cfg.hashing
        self.prev = cfg.genesis_hash
        self.sets = SetReplay(cfg, suite, chain_id)

    def check(self, event: api.BlockEvent, height: int) -> None:
        """One block, then its governance txs (which change the sets of later heights)."""
        where = f"block {height}"
        if event.height != height:
            raise ArchiveError(f"{where}: the record is of height {event.height}")
        certified = event.block
        try:
            header = decode_canonical(pb.BlockHeader, certified.block.header)
        except (DecodeError, NonCanonical) as e:
            raise ArchiveError(f"{where}: the header does not decode canonically: {e}") from None
        if header.height != height or header.channel != self.cfg.channel:
            raise ArchiveError(
                f"{where}: the header is of {header.channel!r} height {header.height}"
            )
        if header.parent_hash != self.prev:
            raise ArchiveError(
                f"{where}: broken chain: its parent {header.parent_hash.hex()} is not block "
                f"{height - 1}'s digest {self.prev.hex()}"
            )
        digest = self.hashing.hash(certified.block.header)
        if event.hash != digest:
            raise ArchiveError(
                f"{where}: tampered: the header hashes to {digest.hex()}, "
                f"not the stated {event.hash.hex()}"
            )
        txs = list(certified.block.txs)
        if header.tx_root != self.hashing.merkle_root(txs):
            raise ArchiveError(f"{where}: tampered: the txs do not hash to the header's tx_root")
        if len(event.results.results) != len(txs):
            raise ArchiveError(f"{where}: {len(txs)} txs but {len(event.results.results)} results")
        problem = self.sets.certificate_problem(certified, height, digest)
        if problem is not None:
            raise ArchiveError(f"{where}: bad commit certificate: {problem}")
        self.prev = digest
        self.sets.apply(certified, height)
