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


def serve(app: FastAPI, listen: str) -> None:
    host, port = split_listen(listen)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", access_log=False, server_header=False
    )
    uvicorn.Server(config).run()
