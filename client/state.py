"""Typed reads of the applications' committed state, from a client.

The applications' own query helpers (`chains.license.get_license`, ...) take any
`StateReader`; `RemoteState` is one over a node's `GetState`, so a client reads the
chain with exactly the key layout and decoding the validators use. `ChainState` routes
each read to the channel that holds it.
"""

from __future__ import annotations

from chains import authentication, authorization, catalog, license, service
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import government_pb2 as government

READ_TIMEOUT_S = 5.0


class RemoteState:
    """A StateReader over one channel's committed world state on one node."""

    def __init__(self, stub: api_grpc.ClientStub, channel: str) -> None:
        self.stub, self.channel = stub, channel

    def get(self, key: bytes) -> bytes | None:
        request = api.GetStateRequest(channel=self.channel, key=key)
        r = self.stub.GetState(request, timeout=READ_TIMEOUT_S)
        return r.value if r.found else None


class ChainState:
    """The five government applications' records, each read from its own channel."""

    def __init__(self, stub: api_grpc.ClientStub) -> None:
        self._stub = stub

    def on(self, channel: str) -> RemoteState:
        return RemoteState(self._stub, channel)

    def license(self, license_id: str) -> government.License | None:
        return license.get_license(self.on("license"), license_id)

    def license_type(self, code: str) -> government.LicenseType | None:
        return license.get_type(self.on("license"), code)

    def terminal(self, terminal_id: str) -> government.Terminal | None:
        return authentication.get_terminal(self.on("authentication"), terminal_id)

    def session(self, session_id: str) -> government.AuthRecord | None:
        return authentication.get_session(self.on("authentication"), session_id)

    def grant(self, grant_id: str) -> government.Grant | None:
        return authorization.get_grant(self.on("authorization"), grant_id)

    def access(self, access_id: str) -> government.AccessRecord | None:
        return authorization.get_access(self.on("authorization"), access_id)

    def catalog_entry(self, resource_code: str) -> government.CatalogEntry | None:
        return catalog.get_entry(self.on("catalog"), resource_code)

    def service_item(self, code: str) -> government.ServiceItem | None:
        return service.get_item(self.on("service"), code)

    def materials(self, code: str) -> government.Materials | None:
        return service.get_materials(self.on("service"), code)
