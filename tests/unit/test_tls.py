"""Certificates bound to validator keys, and the TLS checks gRPC makes with them.

The handshakes here are real: a gRPC server on 127.0.0.1 with the issued certificates,
and clients dialling it the way a node's peer link and the CLI do.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from client.tls import TlsError, TlsFiles
from node.config import ConfigError, load_config
from node.tls import VALIDATOR_URI_PREFIX, Authority, validator_dns_name, write_pair


def test_validator_dns_name_is_a_valid_two_label_name_per_key() -> None:
    key = bytes(range(32))
    name = validator_dns_name(key)
    labels = name.split(".")
    assert all(0 < len(label) <= 63 for label in labels)
    assert "".join(labels[:2]) == key.hex()
    assert validator_dns_name(bytes(32)) != name


def test_node_certificate_is_bound_to_its_validator_key(tmp_path: Path) -> None:
    ca = Authority.create("chain-x")
    key = os.urandom(32)
    cert_pem, key_pem = ca.issue_node("civil-affairs", key, ["127.0.0.1", "node3.example"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert validator_dns_name(key) in san.get_values_for_type(x509.DNSName)
    assert "node3.example" in san.get_values_for_type(x509.DNSName)
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        VALIDATOR_URI_PREFIX + key.hex()
    ]
    assert cert.issuer == ca.cert.subject
    cert.verify_directly_issued_by(ca.cert)  # raises if the CA did not sign it
    assert b"PRIVATE KEY" in key_pem
    write_pair(tmp_path / "n.crt", tmp_path / "n.key", (cert_pem, key_pem))
    assert (tmp_path / "n.key").stat().st_mode & 0o777 == 0o600


def test_missing_certificate_file_is_a_clear_error(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "ca.crt", tmp_path / "n.crt", tmp_path / "n.key")
    with pytest.raises(TlsError, match="CA certificate"):
        files.server_credentials()


class _Health(health.HealthServicer):
    async def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
def pki(tmp_path: Path) -> dict:
    ca = Authority.create("chain-x")
    ca.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    keys = {"a": os.urandom(32), "b": os.urandom(32)}
    for name, key in keys.items():
        write_pair(
            tmp_path / f"{name}.crt",
            tmp_path / f"{name}.key",
            ca.issue_node(name, key, ["127.0.0.1"]),
        )
    write_pair(tmp_path / "client.crt", tmp_path / "client.key", ca.issue_client("client"))
    other = Authority.create("another-consortium")
    other.write(tmp_path / "other-ca.crt", tmp_path / "other-ca.key")
    write_pair(tmp_path / "rogue.crt", tmp_path / "rogue.key", other.issue_client("rogue"))
    return {"dir": tmp_path, "keys": keys}


async def _call(port: int, creds: grpc.ChannelCredentials | None, target: str | None) -> str:
    options = [("grpc.ssl_target_name_override", target)] if target else []
    address = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.secure_channel(address, creds, options=options)
        if creds
        else grpc.aio.insecure_channel(address)
    )
    async with channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        except grpc.aio.AioRpcError as e:
            return e.code().name
    return "OK"


def test_handshakes_admit_only_the_consortium_and_the_expected_validator(pki) -> None:
    asyncio.run(_handshakes(pki))


async def _handshakes(pki: dict) -> None:
    d, keys = pki["dir"], pki["keys"]
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
    port = server.add_secure_port(
        "127.0.0.1:0", TlsFiles(d / "ca.crt", d / "a.crt", d / "a.key").server_credentials()
    )
    await server.start()
    try:
        as_b = TlsFiles(d / "ca.crt", d / "b.crt", d / "b.key").channel_credentials()
        client = TlsFiles(d / "ca.crt", d / "client.crt", d / "client.key").channel_credentials()
        rogue = TlsFiles(d / "ca.crt", d / "rogue.crt", d / "rogue.key").channel_credentials()
        no_cert = grpc.ssl_channel_credentials(root_certificates=(d / "ca.crt").read_bytes())
        # A peer link dials validator a by the name derived from a's key: it connects.
        assert await _call(port, as_b, validator_dns_name(keys["a"])) == "OK"
        # Expecting validator b at a's address: a's certificate does not match, refused.
        assert await _call(port, as_b, validator_dns_name(keys["b"])) == "UNAVAILABLE"
        # A client certificate of the consortium is let in.
        assert await _call(port, client, None) == "OK"
        # No client certificate, another CA's certificate, or plaintext: no connection.
        assert await _call(port, no_cert, validator_dns_name(keys["a"])) == "UNAVAILABLE"
        assert await _call(port, rogue, validator_dns_name(keys["a"])) == "UNAVAILABLE"
        assert await _call(port, None, None) == "UNAVAILABLE"
    finally:
        await server.stop(None)


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        'node_id = "n"\nchain_id = "c"\nkey_file = "k"\nlisten = "127.0.0.1:1"\n'
        'data_dir = "data"\ngenesis_dir = "g"\nchannels = ["license"]\n' + extra
    )
    return path


def test_config_requires_tls_or_an_explicit_insecure_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[tls\] table"):
        load_config(_config(tmp_path, ""))
    assert load_config(_config(tmp_path, "insecure = true\n")).tls is None
    for name in ("ca.crt", "n.crt", "n.key"):
        (tmp_path / name).write_text("x")
    section = '[tls]\nca = "ca.crt"\ncert = "n.crt"\nkey = "n.key"\n'
    assert load_config(_config(tmp_path, section)).tls == TlsFiles(
        tmp_path / "ca.crt", tmp_path / "n.crt", tmp_path / "n.key"
    )
    with pytest.raises(ConfigError, match="choose one"):
        load_config(_config(tmp_path, "insecure = true\n" + section))
    with pytest.raises(ConfigError, match="not found"):
        load_config(_config(tmp_path, section.replace("n.key", "missing.key")))
    with pytest.raises(ConfigError, match="unknown tls fields"):
        load_config(_config(tmp_path, section + 'password = "x"\n'))
