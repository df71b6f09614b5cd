"""A small client library over the Client service, for the CLI, tests and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import grpc
import nacl.signing

from chains.tx import encode_tx
from node.tls import TlsFiles
from node.transport import channel_options
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import kv_pb2

MESSAGE_BYTES_MAX = 64 << 20


def open_channel(address: str, tls: TlsFiles | None = None) -> grpc.Channel:
    """A channel to a node: mutual TLS with the client certificate in `tls`, or plaintext
    when `tls` is None (only a node started with `insecure = true` accepts that)."""
    options = channel_options(MESSAGE_BYTES_MAX)
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.channel_credentials(), options=options)


def connect(address: str, tls: TlsFiles | None = None) -> api_grpc.ClientStub:
    return api_grpc.ClientStub(open_channel(address, tls))


def client_tls(directory: str | os.PathLike[str], name: str = "client") -> TlsFiles:
    """The client certificate `testnet init` wrote: DIR/ca.crt, DIR/NAME.crt, DIR/NAME.key."""
    d = Path(directory)
    return TlsFiles(d / "ca.crt", d / f"{name}.crt", d / f"{name}.key")


def load_signing_key(path: str | os.PathLike[str]) -> nacl.signing.SigningKey:
    with open(path) as f:
        return nacl.signing.SigningKey(bytes.fromhex(f.read().strip()))


def kv_put_tx(
    key: nacl.signing.SigningKey,
    chain_id: str,
    channel: str,
    k: bytes,
    v: bytes,
    nonce: int | None = None,
    valid_until_height: int = 0,
) -> bytes:
    body = api.TxBody(
        chain_id=chain_id,
        channel=channel,
        type="kv.put",
        payload=kv_pb2.KvPut(key=k, value=v).SerializeToString(),
        nonce=nonce if nonce is not None else int.from_bytes(os.urandom(8), "big"),
        valid_until_height=valid_until_height,
    )
    return encode_tx(body, key)


def submit(
    stub: api_grpc.ClientStub, txs: Iterable[bytes], timeout_s: float = 30.0
) -> list[api.SubmitResult]:
    return list(
        stub.SubmitTransactions(api.SubmitRequest(txs=list(txs)), timeout=timeout_s).results
    )


def status_name(status: int) -> str:
    return api.TxStatus.Name(status)


class TxRefused(Exception):
    """A tx was not admitted (status) or did not commit in time."""


def wait_committed(
    stub: api_grpc.ClientStub, channel: str, tx_id: bytes, timeout_s: float = 20.0
) -> api.GetTransactionResponse:
    """Poll GetTransaction until the tx is in a committed block (its result included)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return stub.GetTransaction(
                api.GetTransactionRequest(channel=channel, tx_id=tx_id), timeout=5
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise
        if time.monotonic() > deadline:
            raise TxRefused(f"tx {tx_id.hex()[:16]} did not commit within {timeout_s} s")
        time.sleep(0.02)


def submit_and_wait(
    stub: api_grpc.ClientStub, channel: str, raw: bytes, timeout_s: float = 20.0
) -> api.TxResult:
    """Submit one signed tx and return its result once committed."""
    (result,) = submit(stub, [raw])
    if result.status != api.ACCEPTED:
        raise TxRefused(f"{status_name(result.status)}: {result.detail}")
    return wait_committed(stub, channel, result.tx_id, timeout_s).result


def subscribe(
    stub: api_grpc.ClientStub, channel: str, from_height: int = 0
) -> Iterable[api.BlockEvent]:
    """Committed blocks of a channel as they commit (resumable from any height)."""
    return stub.StreamBlocks(api.StreamBlocksRequest(channel=channel, from_height=from_height))


def signed_tx(
    key: nacl.signing.SigningKey, chain_id: str, channel: str, tx_type: str, payload: bytes
) -> bytes:
    body = api.TxBody(
        chain_id=chain_id,
        channel=channel,
        type=tx_type,
        payload=payload,
        nonce=int.from_bytes(os.urandom(8), "big"),
    )
    return encode_tx(body, key)
