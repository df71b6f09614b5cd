"""`govchain source watch` and `govchain source status`: the department's watcher, run
beside its node.

The watcher reads the node's own config: the data dir (its `source.toml` mapping and the
sidecar), the department key that signs the license txs, the node's address and TLS
identity (it submits to its own node). The consortium's subject key comes from
`--subject-key` (it turns the holder's ID number into the `subject_ref` on chain). The
logic is in sources/watcher.py; this module links it to the node over gRPC: submissions
in batches, and commits learnt from one block stream rather than a poll per tx.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import structlog

from chains.tx import tx_id as tx_id_of
from client.connection import connect, load_signing_key
from client.state import ChainState
from client.txs import signed_tx, submit
from consensus.hashing import sha256
from crypto import Suite, suite_by_name
from node.config import ConfigError, channels_suite, load_config
from protos import api_pb2 as api

if TYPE_CHECKING:  # sources (and SQLAlchemy) load only when a source command runs
    from sources.sql import SqlSource
    from sources.watcher import PassReport, Watcher

CHANNEL = "license"
log = structlog.get_logger("source-watch")


class GrpcChainLink:
    """`ChainLink` over the node's client API: one background thread follows the license
    channel's blocks (from the height at start, reconnecting after a failure) and queues
    each committed tx's (id, code, reason) for the watcher to match."""

    def __init__(self, address: str, tls: object, suite: Suite | None = None) -> None:
        self.suite = suite  # the chain's crypto suite: tx ids by its hash (SM3 on sm2-sm3)
        self._tx_hash = suite.hash if suite is not None else sha256
        self.stub = connect(address, tls)  # type: ignore[arg-type]
        self.state = ChainState.connect(address, tls)  # type: ignore[arg-type]
        status = self.stub.GetStatus(api.GetStatusRequest(), timeout=10)
        heights = {c.channel: c.height for c in status.channels}
        if CHANNEL not in heights:
            raise LookupError(f"the node at {address} does not serve the {CHANNEL} channel")
        self._next = heights[CHANNEL] + 1
        self._events: queue.Queue[list[tuple[bytes, int, str]]] = queue.Queue()
        self._thread = threading.Thread(target=self._follow, name="blocks", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        backoff = 0.5
        while True:
            try:
                stream = self.stub.StreamBlocks(
                    api.StreamBlocksRequest(channel=CHANNEL, from_height=self._next)
                )
                for event in stream:
                    txs = event.block.block.txs
                    results = event.results.results
                    self._events.put(
                        [
                            (tx_id_of(raw, self._tx_hash), r.code, r.reason)
                            for raw, r in zip(txs, results, strict=True)
                        ]
                    )
                    self._next = event.height + 1
                    backoff = 0.5
            except grpc.RpcError as e:
                log.warning("block stream lost; reconnecting", code=str(e.code()))
            time.sleep(backoff)  # a retry back-off, not a synchronisation
            backoff = min(backoff * 2, 10.0)

    def type_owner(self, type_code: str) -> str | None:
        found = self.state.license_type(type_code)
        return None if found is None else found.department

    def submit(self, txs: list[bytes]) -> list[tuple[int, str]]:
        return [(r.status, r.detail) for r in submit(self.stub, txs, timeout_s=60.0)]

    def committed(self, timeout_s: float) -> list[tuple[bytes, int, str]]:
        out: list[tuple[bytes, int, str]] = []
        try:
            out.extend(self._events.get(timeout=timeout_s))
            while True:
                out.extend(self._events.get_nowait())
        except queue.Empty:
            return out

    def result(self, tx_id: bytes) -> tuple[int, str] | None:
        try:
            found = self.stub.GetTransaction(
                api.GetTransactionRequest(channel=CHANNEL, tx_id=tx_id), timeout=10
            )
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return found.result.code, found.result.reason


def _log_pass(report: PassReport) -> None:
    log.info(
        "pass done",
        rows=report.rows,
        changes=report.changes,
        not_anchored=report.notes,
        seconds=round(report.seconds, 3),
    )


def open_watcher(args: argparse.Namespace) -> tuple[Watcher, SqlSource]:
    from sources.mapping import load_mapping
    from sources.opening import MAPPING_FILE, SIDECAR_FILE
    from sources.sealing import Sealer, sealing_key
    from sources.sidecar import Sidecar
    from sources.sql import SqlSource
    from sources.watcher import Watcher

    config = load_config(args.config)
    if config.department_key_file is None:
        raise ConfigError(f"{args.config}: no department_key_file (it signs the license txs)")
    mapping = load_mapping(config.data_dir / MAPPING_FILE)
    suite_name = channels_suite(config)
    key = load_signing_key(config.department_key_file, config.department_key_secret, suite_name)
    sealer = Sealer(sealing_key(key))
    source = SqlSource(mapping, Sidecar(config.data_dir / SIDECAR_FILE, sealer))
    subject_key = bytes.fromhex(args.subject_key.read_text().strip())
    link = GrpcChainLink(config.listen, config.tls, suite_by_name(suite_name))

    def sign(tx_type: str, payload: bytes) -> bytes:
        return signed_tx(key, config.chain_id, CHANNEL, tx_type, payload)

    def emit(message: str, **fields: object) -> None:
        log.info(message, **fields)

    return Watcher(source, link, sign, subject_key, emit, window=args.window), source


def cmd_source_watch(args: argparse.Namespace) -> int:
    from cli.main import _configure_logging
    from sources.mapping import MappingError

    _configure_logging(args.json)
    try:
        watcher, source = open_watcher(args)
    except (ConfigError, MappingError, LookupError, OSError, ValueError) as e:  # SidecarError too
        print(f"govchain: cannot watch: {e}", file=sys.stderr)
        return 2
    except grpc.RpcError as e:
        print(f"govchain: cannot reach the node: {e.code()}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the journal makes any exit safe
    log.info("watching", types=sorted(source.mapping.licenses), interval_s=args.interval)
    watcher.recover()
    while True:
        report = watcher.scan()
        _log_pass(report)
        if args.once and not report.changes:
            return 0
        if not report.changes:
            time.sleep(args.interval)  # the poll interval: the source has no change feed


def cmd_source_status(args: argparse.Namespace) -> int:
    """What the sidecar knows: rows by chain status, open intents, notes."""
    from sources.opening import SIDECAR_FILE
    from sources.sealing import PlainSealer, Sealer, sealing_key
    from sources.sidecar import Sidecar, SidecarError

    config = load_config(args.config)
    sealer: Sealer | PlainSealer = PlainSealer()
    if config.department_key_file is not None:
        suite_name = channels_suite(config)
        secret = config.department_key_secret
        key = load_signing_key(config.department_key_file, secret, suite_name)
        sealer = Sealer(sealing_key(key))
    try:
        sidecar = Sidecar(config.data_dir / SIDECAR_FILE, sealer)
    except SidecarError as e:
        print(f"govchain: {e}", file=sys.stderr)
        return 2
    print(json.dumps(sidecar.summary(), ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def cmd_source_rekey(args: argparse.Namespace) -> int:
    """After a department key rotation: the sidecar's data key, unwrapped with the old
    department key, is wrapped under the config's current one (no salt is re-encrypted)."""
    from sources.opening import SIDECAR_FILE
    from sources.sealing import Sealer, sealing_key
    from sources.sidecar import Sidecar, SidecarError

    config = load_config(args.config)
    if config.department_key_file is None:
        print(f"govchain: {args.config}: no department_key_file", file=sys.stderr)
        return 2
    try:
        old = load_signing_key(args.old_key, args.old_key_secret)
        new = load_signing_key(config.department_key_file, config.department_key_secret)
        sidecar = Sidecar(config.data_dir / SIDECAR_FILE, Sealer(sealing_key(old)))
        sidecar.rewrap(Sealer(sealing_key(new)))
    except (SidecarError, OSError, ValueError) as e:
        print(f"govchain: cannot rekey: {e}", file=sys.stderr)
        return 2
    print(f"{config.data_dir / SIDECAR_FILE}: data key now wrapped under the current key")
    return 0


def add_source_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("source", help="the department's own records (anchoring by watching)")
    actions = s.add_subparsers(dest="action", required=True)
    w = actions.add_parser("watch", help="anchor the mapped tables' changes on the license chain")
    w.add_argument("--config", type=Path, required=True, help="the department node's config")
    w.add_argument("--subject-key", type=Path, required=True, help="the consortium subject key")
    w.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
    w.add_argument("--window", type=int, default=4_000, help="txs in flight at most")
    w.add_argument("--once", action="store_true", help="exit once a scan finds nothing to do")
    w.add_argument("--json", action="store_true", help="JSON log lines")
    w.set_defaults(func=cmd_source_watch)
    st = actions.add_parser("status", help="what the watcher has anchored (from the sidecar)")
    st.add_argument("--config", type=Path, required=True)
    st.set_defaults(func=cmd_source_status)
    rk = actions.add_parser("rekey", help="rewrap the sidecar's key after a key rotation")
    rk.add_argument("--config", type=Path, required=True, help="config naming the new key")
    rk.add_argument("--old-key", required=True, help="the department key before rotation")
    rk.add_argument("--old-key-secret", help="env:NAME or file:PATH, if the old key needs one")
    rk.set_defaults(func=cmd_source_rekey)
