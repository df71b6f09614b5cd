"""The fault-injecting TCP proxy of the multi-host test, against a real echo server.

The multi-host test trusts the proxy to forward faithfully and to inject exactly the
faults asked for; if it silently forwarded nothing, or ignored a fault, that test would
prove less than it claims. Everything here runs on 127.0.0.1 in well under a second.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.multihost.tcp_proxy import TcpProxy

TIMEOUT_S = 5.0


class EchoServer(socketserver.ThreadingTCPServer):
    """Echoes every byte back; records how each connection ended ("eof" or "reset")."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EchoHandler)
        self.accepted = 0
        self.endings: list[str] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]


class EchoHandler(socketserver.BaseRequestHandler):
    server: EchoServer

    def handle(self) -> None:
        with self.server.lock:
            self.server.accepted += 1
        ending = "eof"
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except ConnectionResetError:
            ending = "reset"
        with self.server.lock:
            self.server.endings.append(ending)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", 0, "127.0.0.1", echo.port, seed=1) as p:
        yield p


def dial(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT_S)


def recv_exactly(sock: socket.socket, n: int, timeout_s: float = TIMEOUT_S) -> bytes:
    """Read n bytes before a deadline (a short read or a closed socket is an error)."""
    deadline = time.monotonic() + timeout_s
    out = bytearray()
    while len(out) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(out)} of {n} bytes within {timeout_s} s")
        sock.settimeout(remaining)
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def poll(check: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    """True as soon as check() is, False at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def roundtrip_s(sock: socket.socket, payload: bytes) -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def test_forwards_bytes_both_ways(proxy: TcpProxy, echo: EchoServer) -> None:
    # Larger than one read, so it crosses the proxy in several chunks that must stay in order.
    payload = bytes(range(256)) * 2000
    with dial(proxy) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
    assert proxy.connections == 1
    assert echo.accepted == 1
    assert poll(lambda: proxy.bytes_forwarded == 2 * len(payload)), proxy.bytes_forwarded
    assert proxy.resets == 0


def test_half_close_reaches_the_server(proxy: TcpProxy, echo: EchoServer) -> None:
    with dial(proxy) as sock:
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        assert recv_exactly(sock, 3) == b"bye"
        sock.settimeout(TIMEOUT_S)
        assert sock.recv(1) == b""  # the echo server saw EOF and closed in turn
    assert poll(lambda: echo.endings == ["eof"]), echo.endings


def test_delay_adds_latency_each_way_and_can_be_changed(proxy: TcpProxy) -> None:
    proxy.delay_ms = 150
    with dial(proxy) as sock:
        delayed = roundtrip_s(sock, b"ping")
        # Back-to-back messages keep their order under delay.
        sock.sendall(b"one,")
        sock.sendall(b"two,")
        sock.sendall(b"three")
        assert recv_exactly(sock, 13) == b"one,two,three"
        proxy.delay_ms = 0
        undelayed = roundtrip_s(sock, b"pong")
    assert delayed >= 0.3, f"round trip {delayed:.3f} s through a 150 ms proxy each way"
    assert undelayed < 0.3, f"round trip {undelayed:.3f} s after removing the delay"


def test_reset_aborts_both_sides(proxy: TcpProxy, echo: EchoServer) -> None:
    with dial(proxy) as sock:
        assert roundtrip_s(sock, b"fine") < TIMEOUT_S
        proxy.reset_probability = 1.0
        sock.sendall(b"doomed")
        sock.settimeout(TIMEOUT_S)
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
    assert proxy.resets == 1
    assert poll(lambda: echo.endings == ["reset"]), echo.endings
    # Only that connection broke: a new one works once the fault is lifted.
    proxy.reset_probability = 0.0
    with dial(proxy) as sock:
        sock.sendall(b"again")
        assert recv_exactly(sock, 5) == b"again"


def test_blackhole_holds_data_until_lifted(proxy: TcpProxy, echo: EchoServer) -> None:
    proxy.blackhole = True
    with dial(proxy) as sock:  # accepted: the link is silent, not refusing
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # a bounded wait for *nothing*: absence cannot be polled for
        assert echo.accepted == 0
        assert proxy.bytes_forwarded == 0
        proxy.blackhole = False
        assert recv_exactly(sock, 4) == b"held"
    assert echo.accepted == 1


def test_blackhole_stalls_an_open_connection(proxy: TcpProxy) -> None:
    with dial(proxy) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        proxy.blackhole = True
        sock.sendall(b"b")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.blackhole = False
        assert recv_exactly(sock, 1) == b"b"


def test_cut_refuses_and_resets_then_heals(proxy: TcpProxy) -> None:
    with dial(proxy) as before:
        before.sendall(b"x")
        assert recv_exactly(before, 1) == b"x"
        proxy.cut = True
        before.settimeout(TIMEOUT_S)
        with pytest.raises(ConnectionResetError):
            before.recv(100)
    with pytest.raises(ConnectionRefusedError):
        dial(proxy)
    proxy.cut = False
    with dial(proxy) as after:  # same address as before the cut
        after.sendall(b"healed")
        assert recv_exactly(after, 6) == b"healed"


def test_unreachable_target_resets_the_client() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with TcpProxy("127.0.0.1", 0, "127.0.0.1", dead_port) as proxy:
        # The reset may beat the end of connect() itself, or come at the first read.
        with pytest.raises(ConnectionResetError), dial(proxy) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.recv(100)
        assert proxy.connections == 1


def test_close_stops_listening(echo: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", 0, "127.0.0.1", echo.port).start()
    with dial(proxy) as sock:
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        proxy.close()
        sock.settimeout(TIMEOUT_S)
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
    with pytest.raises(ConnectionRefusedError):
        dial(proxy)
    proxy.close()  # idempotent
