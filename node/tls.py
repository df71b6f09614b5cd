"""Mutual TLS for every gRPC connection: the consortium CA, certificates, credentials.

Who may connect is decided by the consortium CA: a node accepts only connections that
present a certificate the CA signed (node to node and client to node alike). A validator's
certificate is also *bound* to its Ed25519 validator key, with two subject alternative
names derived from that key:

- a DNS name, `<key hex[:32]>.<key hex[32:]>.validator.govchain`, which the dialling node
  asks TLS to verify (`ssl_target_name_override`), so a link to a validator only
  completes if the far end holds the certificate issued for that validator's key;
- a URI, `govchain:validator:<key hex>`, which the accepting node compares with the key
  that signed the stream's hello: a peer whose certificate and validator key disagree is
  refused.

TLS keys are ECDSA P-256, separate from the Ed25519 consensus keys: one key, one protocol.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.tls import TlsError

VALIDATOR_URI_PREFIX = "govchain:validator:"
CLIENT_URI_PREFIX = "govchain:client:"
VALIDATOR_DNS_SUFFIX = ".validator.govchain"
CERT_DAYS = 3650


def validator_dns_name(public_key: bytes) -> str:
    """The DNS SAN bound to a validator key (two labels: a label holds at most 63 chars)."""
    h = public_key.hex()  # 32-hex-char labels: two for Ed25519, five for an SM2 key
    return ".".join(h[i : i + 32] for i in range(0, len(h), 32)) + VALIDATOR_DNS_SUFFIX


# --------------------------------------------------------------------- peer identity


def validator_key_of_peer(context: grpc.aio.ServicerContext) -> bytes | None:
    """The validator key the caller's certificate is bound to (gRPC lists the verified
    certificate's URI SANs as `peer_uri`); None for a client or a plaintext connection."""
    for uri in context.auth_context().get("peer_uri", ()):
        text = uri.decode(errors="replace")
        if text.startswith(VALIDATOR_URI_PREFIX):
            try:
                key = bytes.fromhex(text[len(VALIDATOR_URI_PREFIX) :])
            except ValueError:
                return None
            return key if len(key) in (32, 65) else None  # an Ed25519 or SM2 key
    return None


def peer_common_name(context: grpc.aio.ServicerContext) -> str | None:
    names = context.auth_context().get("x509_common_name")
    return names[0].decode(errors="replace") if names else None


# --------------------------------------------------------------------- issuing


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Authority:
    """The consortium CA: issues node and client certificates."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, chain_id: str) -> Authority:
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govchain consortium"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{chain_id} consortium CA"),
            ]
        )
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> Authority:
        try:
            cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
            key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
        except (OSError, ValueError) as e:
            raise TlsError(f"cannot load the CA from {cert_path}, {key_path}: {e}") from e
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TlsError(f"{key_path}: the CA key must be an EC key")
        return cls(key, cert)

    def write(self, cert_path: Path, key_path: Path) -> None:
        Path(cert_path).parent.mkdir(parents=True, exist_ok=True)
        Path(cert_path).write_bytes(_cert_pem(self.cert))
        _write_private(Path(key_path), _key_pem(self.key))

    def _issue(
        self, common_name: str, organization: str, san: list[x509.GeneralName], server: bool
    ) -> tuple[bytes, bytes]:
        key = _new_key()
        now = datetime.datetime.now(datetime.UTC)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return _cert_pem(cert), _key_pem(key)

    def issue_node(
        self, node_id: str, validator_key: bytes, hosts: list[str]
    ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) for a validator node, bound to its validator key. `hosts`
        are the names/addresses it listens on, for standard tools (grpcurl, health)."""
        san: list[x509.GeneralName] = [
            x509.DNSName(validator_dns_name(validator_key)),
            x509.UniformResourceIdentifier(VALIDATOR_URI_PREFIX + validator_key.hex()),
        ]
        for host in dict.fromkeys(hosts):
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        return self._issue(node_id, node_id, san, server=True)

    def issue_client(self, name: str, organization: str = "govchain client") -> tuple[bytes, bytes]:
        san: list[x509.GeneralName] = [x509.UniformResourceIdentifier(CLIENT_URI_PREFIX + name)]
        return self._issue(name, organization, san, server=False)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def write_pair(cert_path: Path, key_path: Path, pair: tuple[bytes, bytes]) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(pair[0])
    _write_private(key_path, pair[1])
