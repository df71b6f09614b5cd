"""Connecting to a node: gRPC channel options, mutual TLS, and the keys a client signs with.

Nodes dial their peers with the same channel options, so a message-size or keepalive
setting is written once.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import nacl.signing

from client import keys
from client.tls import TlsFiles
from crypto import DEFAULT_SUITE, SuiteSigner, suite_by_name
from protos import api_pb2_grpc as api_grpc

MESSAGE_BYTES_MAX = 64 << 20


def channel_options(
    message_bytes_max: int, receive_bytes_max: int | None = None
) -> list[tuple[str, int]]:
    """Message bounds both ways and keepalive pings (a dead link is noticed in ~15 s)."""
    return [
        ("grpc.max_send_message_length", message_bytes_max),
        ("grpc.max_receive_message_length", receive_bytes_max or message_bytes_max),
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 5_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


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


def load_signing_key(
    path: str | os.PathLike[str],
    secret: str | None = keys.DEFAULT_SECRET,
    suite: str = DEFAULT_SUITE,
) -> nacl.signing.SigningKey | keys.SignerKey | SuiteSigner:
    """A tx-signing key from a key spec (client/keys.py: a hex or encrypted key file, or a
    `pkcs11:` token URI); `secret` names where a passphrase or PIN comes from. Raises
    keys.KeyCustodyError, naming the file, never its content. On a channel whose genesis
    names another crypto suite than ed25519-sha256, the file's seed gives that suite's key
    (a SuiteSigner, which `chains.tx.encode_tx` signs with); a token key is Ed25519 only."""
    if suite == DEFAULT_SUITE:
        return keys.load_signing_key(os.fspath(path), secret)
    return suite_signer(path, secret, suite)


def suite_signer(path: str | os.PathLike[str], secret: str | None, suite: str) -> SuiteSigner:
    """The signer of a key file's seed in crypto suite `suite` (votes, hellos, txs)."""
    if keys.is_token_uri(path):
        raise keys.KeyCustodyError(f"a token key signs Ed25519 only, not {suite}")
    return SuiteSigner.from_seed(suite_by_name(suite), keys.load_seed(Path(path), secret))
