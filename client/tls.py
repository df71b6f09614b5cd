"""A party's TLS identity on disk: the consortium CA certificate, its certificate and key.

Clients and nodes load their identity the same way (every connection is mutual TLS), so
the type lives here, below the node; issuing certificates and checking a peer's
validator binding stay in `node/tls.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsError(Exception):
    """Certificates missing, unreadable, or not what this node expects."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths: the consortium CA certificate, and this party's certificate and key;
    for a node, optionally the CA's revocation list it refuses revoked callers by
    (node/crl.py; gRPC's credentials cannot take one)."""

    ca: Path
    cert: Path
    key: Path
    crl: Path | None = None

    def read(self) -> tuple[bytes, bytes, bytes]:
        out = []
        for what, path in (
            ("CA certificate", self.ca),
            ("certificate", self.cert),
            ("key", self.key),
        ):
            try:
                out.append(Path(path).read_bytes())
            except OSError as e:
                raise TlsError(f"cannot read the TLS {what} {path}: {e.strerror}") from e
        return out[0], out[1], out[2]

    def server_credentials(self) -> grpc.ServerCredentials:
        ca, cert, key = self.read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        ca, cert, key = self.read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )
