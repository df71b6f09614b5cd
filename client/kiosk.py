"""Client side of the one-click pull: ask providers, follow the status, open and check.

A kiosk (or any requesting department) signs a `PullRequest` with its department key,
streams the per-material status events from each provider's node, opens the sealed
values with its private key and checks each against the salted commitment on the
license chain, so a provider cannot hand out a value the chain does not vouch for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import nacl.signing

from chains.privacy import SALT_BYTES, commit_item, open_sealed
from client.connection import open_channel
from client.pull_request import request_bytes
from client.tls import TlsFiles
from crypto import Suite, SuiteSigner
from protos import datashare_pb2 as ds
from protos import datashare_pb2_grpc as ds_grpc
from protos import government_pb2 as government


@dataclass(frozen=True)
class PulledItem:
    code: str
    value: bytes
    verified: bool  # matches the commitment on chain


def sign_request(
    request: ds.PullRequest, key: nacl.signing.SigningKey | SuiteSigner
) -> ds.PullRequest:
    """Sign with the requesting department's key: a nacl key, or a suite's signer (SM2)."""
    nacl_shape = isinstance(key, nacl.signing.SigningKey)
    request.signer = bytes(key.verify_key) if nacl_shape else key.public_key  # type: ignore[union-attr]
    request.timestamp_ms = request.timestamp_ms or int(time.time() * 1000)
    signed = key.sign(request_bytes(request))
    request.signature = signed.signature if nacl_shape else signed  # type: ignore[union-attr]
    return request


def pull(
    address: str, request: ds.PullRequest, timeout_s: float = 30.0, tls: TlsFiles | None = None
) -> Iterator[ds.PullEvent]:
    """Status events of one provider, as they happen (over mutual TLS with the kiosk's
    client certificate, unless `tls` is None for an insecure testnet)."""
    with open_channel(address, tls) as channel:  # closed when the stream ends or is dropped
        yield from ds_grpc.DataShareStub(channel).PullMaterials(request, timeout=timeout_s)


def open_items(
    event: ds.PullEvent,
    key: nacl.signing.SigningKey | SuiteSigner,
    license: government.License,
    suite: Suite | None = None,
) -> list[PulledItem]:
    """Decrypt an OBTAINED event's items and check them against the license's commitments
    (made with the channel's `suite`: SM3 on `sm2-sm3`, whose values are sealed by SM2)."""
    commitments = {c.code: c.commitment for c in license.items}
    out = []
    for item in event.items:
        plain = open_sealed(key, item.sealed)
        salt, value = plain[:SALT_BYTES], plain[SALT_BYTES:]
        code = item.code.split("/", 1)[1] if "/" in item.code else item.code
        out.append(
            PulledItem(
                item.code, value, commit_item(salt, code, value, suite) == commitments.get(code)
            )
        )
    return out
