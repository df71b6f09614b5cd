"""The node's one gRPC server: its options, the guards every call passes first, the
services (client, peer, datashare, admin), gRPC health and reflection, and the listening port.

Every channel the node serves shares this server; the services only decode, check and
enqueue (DESIGN.md boundary 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from client.connection import channel_options
from node.config import ConfigError, Limits
from node.grpc_decode import StrictDecoding
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import datashare_pb2 as ds_pb2
from protos import datashare_pb2_grpc as ds_grpc

if TYPE_CHECKING:
    from node.node import Node

SERVICE_NAMES = (
    api.DESCRIPTOR.services_by_name["Client"].full_name,
    api.DESCRIPTOR.services_by_name["Peer"].full_name,
    api.DESCRIPTOR.services_by_name["Admin"].full_name,
    ds_pb2.DESCRIPTOR.services_by_name["DataShare"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)


def server_options(limits: Limits) -> list[tuple[str, int]]:
    """The server's gRPC options: message size, streams per connection, keepalive."""
    return [
        *channel_options(limits.message_bytes_max),
        ("grpc.max_concurrent_streams", limits.streams_per_connection_max),
        # Our clients and peers ping every 10 s, also between calls (channel_options).
        # gRPC's default policy takes one ping per 5 min, or per 2 h on a connection
        # without calls unless keepalive_permit_without_calls (set above by
        # channel_options; a server takes the first value of an option), and answers
        # the third ping too early with GOAWAY too_many_pings, dropping the connection.
        ("grpc.http2.min_ping_interval_without_data_ms", limits.ping_interval_min_ms),
    ]


def build_server(node: Node) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """The server with every service of `node` on it (not yet listening), and its
    health servicer (so standard tools, grpc_health_probe, grpcurl and Kubernetes probes,
    can talk to a node)."""
    from node.backup import AdminService
    from node.client_api import ClientService
    from node.datashare_api import DataShareService
    from node.peer_api import PeerService

    # No `maximum_concurrent_rpcs`: that is one cap for everybody, which one client
    # could fill. Calls are counted per caller instead (node.call_limits), before
    # anything else; then garbage bytes are INVALID_ARGUMENT with one sampled log
    # line, not UNKNOWN with a traceback per request.
    # A revoked certificate (node/crl.py) is refused before anything else.
    guards = [node.revocation_guard] if node.revocation_guard is not None else []
    server = grpc.aio.server(
        options=server_options(node.config.limits),
        interceptors=[*guards, node.call_limits, StrictDecoding(node.undecodable, node.refusals)],
    )
    api_grpc.add_ClientServicer_to_server(ClientService(node), server)
    api_grpc.add_PeerServicer_to_server(PeerService(node), server)
    ds_grpc.add_DataShareServicer_to_server(DataShareService(node), server)
    api_grpc.add_AdminServicer_to_server(AdminService(node), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)
    return server, health_servicer


def listen(
    server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None
) -> None:
    """Bind `address` (TLS unless `credentials` is None); ConfigError if it cannot."""
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as e:
        raise ConfigError(f"cannot listen on {address}: {e}") from e
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: address in use or invalid")
