"""Running a web face: uvicorn on one address until SIGTERM or SIGINT."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def split_listen(listen: str) -> tuple[str, int]:
    """ "HOST:PORT" (IPv6 as "[::1]:8080") -> (host, port), with a clear error."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen address {listen!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


# Requests in progress at once, event streams included; beyond it uvicorn answers 503.
CONNECTIONS_MAX = 256


def server_config(
    app: FastAPI, listen: str, connections_max: int = CONNECTIONS_MAX
) -> uvicorn.Config:
    host, port = split_listen(listen)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,  # a query string or path could carry an id; refusals log sampled
        server_header=False,
        limit_concurrency=connections_max + 1,  # uvicorn counts the one arriving too
    )


def serve(app: FastAPI, listen: str) -> None:
    uvicorn.Server(server_config(app, listen)).run()
