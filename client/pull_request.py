"""The bytes a pull request's signature covers, shared by the kiosk that signs them and
the provider node that checks them (one definition, so the two cannot drift apart)."""

from __future__ import annotations

from protos import datashare_pb2 as ds


def request_bytes(request: ds.PullRequest) -> bytes:
    """The request with its signature field empty, deterministically serialised."""
    unsigned = ds.PullRequest()
    unsigned.CopyFrom(request)
    unsigned.signature = b""
    return unsigned.SerializeToString(deterministic=True)
