"""Build, sign and submit txs; wait for their commit; follow a channel's blocks.

A tx is signed bytes from the moment it is built (`chains.tx.encode_tx`): what a client
submits is exactly what the chain stores and what its id hashes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable

import grpc
import nacl.exceptions
import nacl.signing
from google.protobuf.message import Message

from chains.tx import encode_tx
from crypto import DEFAULT_SUITE, SIGNATURE_SHAPES, SuiteSigner, suite_by_name
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import kv_pb2

# What signs a tx: a nacl key (or one in its shape) on an ed25519-sha256 channel, a
# SuiteSigner of the channel's suite on any other (client.connection.load_signing_key).
TxKey = nacl.signing.SigningKey | SuiteSigner


def signature_verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s over `message`, in the suite the key's length
    names (32 bytes: Ed25519 by libsodium; 65: SM2), for a signature made outside a tx
    (a console login)."""
    if len(public_key) != SIGNATURE_SHAPES[DEFAULT_SUITE][0]:
        name = next((n for n, (k, _) in SIGNATURE_SHAPES.items() if k == len(public_key)), None)
        return name is not None and suite_by_name(name).verify(public_key, message, signature)
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def kv_put_tx(
    key: TxKey,
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
    """Submit txs; one result each, in order. A tx the node turns away because its
    channel is busy (MEMPOOL_FULL with "retry after N ms": backpressure, node/mempool.py)
    is submitted again after the hinted pause, until `timeout_s` has passed."""
    raws = list(txs)
    deadline = time.monotonic() + timeout_s
    results = list(stub.SubmitTransactions(api.SubmitRequest(txs=raws), timeout=timeout_s).results)
    while True:
        busy = [i for i, r in enumerate(results) if retry_after_s(r) is not None]
        left = deadline - time.monotonic()
        if not busy or left <= 0:
            return results
        time.sleep(min(max(retry_after_s(results[i]) or 0 for i in busy), left))
        again = stub.SubmitTransactions(
            api.SubmitRequest(txs=[raws[i] for i in busy]), timeout=max(left, 1.0)
        ).results
        for i, result in zip(busy, again, strict=True):
            results[i] = result


RETRY_AFTER = re.compile(r"retry after (\d+) ms")


def retry_after_s(result: api.SubmitResult) -> float | None:
    """The pause a busy node asked for (at most 2 s), or None if the tx was not turned
    away for being busy."""
    if result.status != api.MEMPOOL_FULL:
        return None
    found = RETRY_AFTER.search(result.detail)
    return None if found is None else min(int(found.group(1)) / 1000, 2.0)


def status_name(status: int) -> str:
    return api.TxStatus.Name(status)


class TxRefused(Exception):
    """A tx was not admitted (status) or did not commit in time."""


def wait_committed(
    stub: api_grpc.ClientStub, channel: str, tx_id: bytes, timeout_s: float = 20.0
) -> api.GetTransactionResponse:
    """Poll GetTransaction until the tx is in a committed block (its result included)."""

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


def signed_tx(key: TxKey, chain_id: str, channel: str, tx_type: str, payload: bytes) -> bytes:
    body = api.TxBody(
        chain_id=chain_id,
        channel=channel,
        type=tx_type,
        payload=payload,
        nonce=int.from_bytes(os.urandom(8), "big"),
    )
    return encode_tx(body, key)


class TxRejected(RuntimeError):
    """A tx was refused at admission, did not commit in time, or committed with a non-zero
    result code (`code`; None when it never reached a block). The message says which tx
    and why, fit to show a user."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def send_message(
    stub: api_grpc.ClientStub,
    chain_id: str,
    channel: str,
    tx_type: str,
    payload: Message,
    key: TxKey,
    ok_codes: Iterable[int] = (0,),
) -> api.TxResult:
    """Sign one application operation (its payload serialized deterministically), submit
    it and wait for its commit; raise TxRejected unless its result code is in `ok_codes`."""
    raw = signed_tx(key, chain_id, channel, tx_type, payload.SerializeToString(deterministic=True))
    try:
        result = submit_and_wait(stub, channel, raw)
    except TxRefused as e:
        raise TxRejected(f"{tx_type}: {e}") from e
    if result.code not in tuple(ok_codes):
        raise TxRejected(
            f"{tx_type} rejected by the {channel} application: {result.reason}", result.code
        )
    return result
