"""A small client library over the Client service, for the CLI, tests and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterable

import grpc
import nacl.signing

from node.transport import channel_options
from node.txs import encode_tx
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import kv_pb2

MESSAGE_BYTES_MAX = 64 << 20


def connect(address: str) -> api_grpc.ClientStub:
    return api_grpc.ClientStub(
        grpc.insecure_channel(address, options=channel_options(MESSAGE_BYTES_MAX))
    )


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
