"""The gateway's side of the network: one connection for reads, one SDK `Hall` per
department it pulls for (all signing with the gateway's terminal key), and the pulls in
progress.

Reads go through the SDK's typed `ChainState`, so the gateway knows no key layout; the
kiosk flow (session, grant, case, pull) through `client.hall`. An ID number enters only
`subject_ref` (keyed hash, computed at once) and is dropped with the request.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from client.connection import connect
from client.hall import Hall
from client.state import ChainState
from web.gateway.config import GatewayConfig
from web.gateway.pulls import Pulls


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        network = config.network
        self.state = ChainState.connect(network.any_node(), network.tls)
        self.stub = connect(network.any_node(), network.tls)
        self.halls = {
            department: Hall(
                network,
                config.terminal_id,
                config.terminal_key,
                department,
                key,
                config.subject_key,
                pull_tls=config.pull_tls,
            )
            for department, key in config.departments.items()
        }
        self.pulls = Pulls()

    def __repr__(self) -> str:  # never print key material
        return f"Gateway(terminal={self.config.terminal_id!r}, departments={list(self.halls)})"

    def any_hall(self) -> Hall:
        """Sessions are signed by the terminal, whichever department it pulls for."""
        return next(iter(self.halls.values()))

    def hall_for(self, department: str) -> Hall:
        hall = self.halls.get(department)
        if hall is None:
            raise HTTPException(
                409,
                f"this gateway does not act for department {department!r} "
                f"(it acts for {', '.join(sorted(self.halls)) or 'none'})",
            )
        return hall

    def subject_ref(self, id_number: str) -> bytes:
        return self.any_hall().subject_ref(id_number)


def gateway_of(request: Request) -> Gateway:
    """A route dependency: the app's gateway (absent only in the OpenAPI generator)."""
    gateway = request.app.state.gateway
    if gateway is None:
        raise HTTPException(503, "this gateway is not connected to a network")
    return gateway
