"""A face's connections are bounded: live event streams are long-lived, so a client that
opens many must meet 503, not an ever-growing set of open requests."""

from __future__ import annotations

import http.client
import threading

import uvicorn

from tests.browser.conftest import free_port, wait_for
from tests.web_sample import sample_app
from web.serve import server_config


def test_requests_over_the_connection_bound_get_503() -> None:
    port = free_port()
    server = uvicorn.Server(server_config(sample_app(), f"127.0.0.1:{port}", connections_max=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="uvicorn to start")
    streams = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(2)]
    try:
        for c in streams:  # two connections held open (event streams, then keep-alive)
            c.request("GET", "/events")
        wait_for(lambda: len(server.server_state.connections) >= 2, what="two open connections")
        third = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        third.request("GET", "/")
        assert third.getresponse().status == 503
        for c in streams:
            assert c.getresponse().status == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
