"""The bytes a pull request's signature covers and the hash an access record keeps of it,
shared by the kiosk that signs them, the provider node that checks and records them, and
the offline evidence check (one definition, so the three cannot drift apart)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from protos import datashare_pb2 as ds

if TYPE_CHECKING:
    from crypto import Suite


def request_bytes(request: ds.PullRequest) -> bytes:
    """The request with its signature field empty, deterministically serialised."""
    unsigned = ds.PullRequest()
    unsigned.CopyFrom(request)
    unsigned.signature = b""
    return unsigned.SerializeToString(deterministic=True)


def request_hash(
    request: ds.PullRequest, material: ds.MaterialRequest, suite: Suite | None = None
) -> bytes:
    """An access record's `request_hash`: the channel's suite hash (SHA-256, or SM3 on
    `sm2-sm3`) of the unsigned request and the one material it records. Without a suite,
    or on `ed25519-sha256`, it is the SHA-256 it always was."""
    data = request_bytes(request) + material.SerializeToString(deterministic=True)
    if suite is None or suite.name == "ed25519-sha256":
        return hashlib.sha256(data).digest()
    return suite.hash(data)


def access_id(digest: bytes, outcome: str) -> str:
    """The access record's id: from its request hash (so a retried pull records under the
    same id and is refused as a duplicate) and the outcome's first letter."""
    return f"acc-{digest.hex()[:24]}-{outcome[0]}"
