"""A Byzantine validator as a bare gRPC client: it holds a real validator's key and TLS
certificate, opens a peer stream with a correctly signed hello, and sends whatever frames
it likes. Used by the flood test and by `tests/e2e/flood_peer.py`."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from client.connection import client_tls, open_channel
from consensus.blocks import make_block
from consensus.config import ConsensusConfig
from consensus.crypto import Ed25519Signer
from consensus.hashing import sha256
from consensus.messages import encode_envelope, sign, vote
from node.config import load_genesis, load_key
from node.transport import make_hello
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from tests.e2e.harness import Testnet

BLOCK_TX_BYTES = 60 << 10
HEIGHTS_PER_VIEW = 8  # 8 MiB per view: over the per-peer byte bound


def read_peak_rss_bytes(pid: int) -> int:
    """VmHWM of a process: the peak resident set since it started."""
    return _status_field(pid, "VmHWM")


def read_rss_bytes(pid: int) -> int:
    return _status_field(pid, "VmRSS")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"{name} not in /proc/{pid}/status")


class FutureViewFlooder:
    """Signs, as validator `me` of `net`, pre-prepares for ever higher future views, each
    carrying a block of about `block_bytes` (random txs, within the genesis block limit),
    plus prepares and commits with the same block attached, and streams them to node
    `target` until `stop()`."""

    def __init__(
        self, net: Testnet, me: int, target: int, channel: str, block_bytes: int = 1 << 20
    ) -> None:
        self.net = net
        self.channel = channel
        seed = load_key(net.configs[me].key_file)
        self.signer = Ed25519Signer(seed)
        genesis = load_genesis(net.root / "genesis" / f"{channel}.json", net.chain_id, channel)
        self.cfg: ConsensusConfig = genesis.consensus_config()
        self.me = me
        self.receiver = self.cfg.validators[target]
        tls = client_tls(net.root / "tls", net.configs[me].node_id) if net.tls else None
        self.stub = api_grpc.PeerStub(open_channel(net.address(target), tls))
        count = max(1, min(block_bytes, self.cfg.block_bytes_max) // BLOCK_TX_BYTES)
        self.txs = [os.urandom(BLOCK_TX_BYTES) for _ in range(count)]
        self.sent = 0
        self.sent_bytes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def envelopes(self, view: int) -> list[bytes]:
        """One view's worth: at each of a few heights, a pre-prepare with a block whose
        header matches it (so only a byte bound can stop it), and a prepare and a commit
        that carry the block too (useless attachments a receiver must not keep)."""
        out = []
        for height in range(1, 1 + HEIGHTS_PER_VIEW):
            info = make_block(
                self.cfg, height, view, sha256(b"p"), self.txs, self.signer.public_key, 0
            )
            for kind in ("pre_prepare", "prepare", "commit"):
                signed = sign(self.signer, self.channel, kind, vote(view, height, info.digest))
                out.append(encode_envelope(signed, (info.block,)))
        return out

    def frames(self) -> Iterator[api.PeerFrame]:
        """Frames of one height's three envelopes (~3 MiB): what the node holds is then
        its buffers, not a few huge frames in flight (those are bounded apart, by
        message_bytes_max)."""
        yield api.PeerFrame(hello=make_hello(self.net.chain_id, self.signer, self.receiver))
        view = 1_000 * self.cfg.n + self.me  # far ahead, and one where `me` is the primary
        while not self._stop.is_set():
            batch = self.envelopes(view)
            self.sent += len(batch)
            self.sent_bytes += sum(len(e) for e in batch)
            for i in range(0, len(batch), 3):
                envelopes = batch[i : i + 3]
                yield api.PeerFrame(
                    consensus=api.ConsensusBatch(channel=self.channel, envelopes=envelopes)
                )
            view += self.cfg.n

    def _run(self) -> None:
        try:
            self.stub.Stream(self.frames())
        except grpc.RpcError as e:
            if not self._stop.is_set():
                self.error = f"{e.code().name}: {e.details()}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flooder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_for(self, seconds: float) -> None:
        self.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.error is None:
            time.sleep(0.1)  # a measurement window, not synchronisation
        self.stop()
