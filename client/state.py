"""Typed reads of the applications' committed state, from a client.

The applications' own query helpers (`chains.license.get_license`, ...) take any
`StateReader`; `RemoteState` is one over a node's `GetState`, so a client reads the
chain with exactly the key layout and decoding the validators use. `ChainState` routes
each read to the channel that holds it.

Lists (cases, catalog entries) have no index in the world state, so they are found by
walking the channel's committed blocks for the txs that create them (`committed_payloads`)
and then reading each record's current state: linear in the chain's height, fine for a
console; an application that lists often should follow `client.txs.subscribe` instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from google.protobuf.message import DecodeError, Message

from chains import authentication, authorization, catalog, license, service
from client.connection import open_channel
from client.tls import TlsFiles
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import consensus_pb2
from protos import datashare_pb2 as ds
from protos import datashare_pb2_grpc as ds_grpc
from protos import government_pb2 as government

READ_TIMEOUT_S = 5.0
MEMBERSHIP_KEY = b"\x00gov/membership"  # protocol.md section 5 (the node's reserved key)


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

    def __init__(
        self, stub: api_grpc.ClientStub, datashare: ds_grpc.DataShareStub | None = None
    ) -> None:
        self._stub = stub
        self._datashare = datashare

    @classmethod
    def connect(cls, address: str, tls: TlsFiles | None = None) -> ChainState:
        """Reads from one node: its Client service and its DataShare service (one channel)."""
        channel = open_channel(address, tls)
        return cls(api_grpc.ClientStub(channel), ds_grpc.DataShareStub(channel))

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

    def case(self, case_number: str) -> government.Case | None:
        return service.get_case(self.on("service"), case_number)

    def case_result(self, case_number: str) -> government.CaseResult | None:
        return service.get_result(self.on("service"), case_number)

    def cases(self, department: str | None = None) -> list[government.Case]:
        """Every case opened on the service chain (optionally only those whose service item
        `department` implements), in the order they were opened, as they stand now."""
        out = []
        for opened in committed_payloads(
            self._stub, "service", "service.open_case", government.Case
        ):
            case = self.case(opened.case_number)
            if case is None:
                continue
            if department is not None:
                item = self.service_item(case.item_code)
                if item is None or item.department != department:
                    continue
            out.append(case)
        return out

    def licenses_of(self, subject_ref: bytes, type_code: str) -> list[government.License]:
        """The subject's licenses of one type, oldest first (status as last set: use
        `chains.license.effective_status` for the status now)."""
        found = (
            self.license(i)
            for i in license.find_licenses(self.on("license"), subject_ref, type_code)
        )
        return [lic for lic in found if lic is not None]

    def catalog_entries(self) -> list[government.CatalogEntry]:
        """Every published catalog entry, in publication order, as it stands now."""
        codes = dict.fromkeys(
            e.resource_code
            for e in committed_payloads(
                self._stub, "catalog", "catalog.publish_entry", government.CatalogEntry
            )
        )
        found = (self.catalog_entry(code) for code in codes)
        return [entry for entry in found if entry is not None]

    def access_history(self, subject_ref: bytes) -> list[government.AccessRecord]:
        """Every access (granted and denied) recorded about a subject, in commit order:
        one DataShare.AccessHistory call when connected with `connect`, else read key by
        key from the authorization chain (the same records)."""
        if self._datashare is not None:
            request = ds.AccessHistoryRequest(subject_ref=subject_ref)
            return list(self._datashare.AccessHistory(request, timeout=READ_TIMEOUT_S).records)
        return authorization.access_history(self.on("authorization"), subject_ref)

    def membership(self, channel: str) -> consensus_pb2.MembershipState | None:
        """The channel's validator-set history, or None while the genesis set orders every
        height (no validator change ever committed)."""
        raw = self.on(channel).get(MEMBERSHIP_KEY)
        if raw is None:
            return None
        state = consensus_pb2.MembershipState()
        state.ParseFromString(raw)
        return state

    def channel_status(self, channel: str) -> api.ChannelStatus | None:
        """The node's view of a channel: its current set, and the pending change
        (`next_validators`, `next_set_from_height`) governance scheduled, if any."""
        status = self._stub.GetStatus(api.GetStatusRequest(), timeout=READ_TIMEOUT_S)
        return next((c for c in status.channels if c.channel == channel), None)


def committed_payloads(
    stub: api_grpc.ClientStub, channel: str, tx_type: str, kind: type[Message]
) -> Iterator[Message]:
    """The payloads of the channel's committed txs of `tx_type` that applied (code 0),
    oldest first, read block by block through GetBlock."""
    try:
        tip = stub.GetBlock(api.GetBlockRequest(channel=channel), timeout=READ_TIMEOUT_S).height
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:  # no block yet
            return
        raise
    for height in range(1, tip + 1):
        request = api.GetBlockRequest(channel=channel, height=height)
        answer = stub.GetBlock(request, timeout=READ_TIMEOUT_S)
        results = answer.results.results
        for i, raw in enumerate(answer.block.block.txs):
            if i >= len(results) or results[i].code != 0:
                continue
            envelope, body = api.TxEnvelope(), api.TxBody()
            envelope.ParseFromString(raw)
            body.ParseFromString(envelope.body)
            if body.type != tx_type:
                continue
            payload = kind()
            try:
                payload.ParseFromString(body.payload)
            except DecodeError:
                continue
            yield payload
