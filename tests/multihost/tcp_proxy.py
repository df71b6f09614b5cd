"""A fault-injecting TCP proxy, for tests that need a bad network without netem or iptables.

The proxy sits between two hosts: it listens on (host, port) and forwards each accepted
connection to (target_host, target_port), byte for byte in both directions. Faults can
be changed while it runs, from the test's thread:

- `delay_ms`: every chunk is delivered that much later than it was read (order is kept:
  a direction is one FIFO queue), which is what latency does to a TCP stream;
- `reset_probability`: each chunk read may, with this probability, abort both sides of
  its connection with a TCP reset, as a lossy link does when it finally breaks a
  connection; the endpoints must reconnect;
- `blackhole`: connections are still accepted but nothing is forwarded; data read is
  held and delivered (late) once the blackhole lifts, like a link that silently stalls;
- `cut`: the listener is closed (new connections are refused) and every open
  connection is reset, like a host that went away.

TCP is a byte stream, so "chunk" means whatever one read returned; that is the unit the
faults apply to. The proxy runs an asyncio loop in a daemon thread of the test process,
so it needs no subprocess and its counters are plain attributes the test can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType

READ_BYTES = 64 << 10
CONNECT_TIMEOUT_S = 10.0


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with RST rather than FIN (SO_LINGER 0), so the peer sees a
    reset (ECONNRESET), not an orderly end of stream."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Connection:
    """One proxied connection: both sides, and the task that runs it (cancelling that
    task cancels the readers and writers it gathers)."""

    def __init__(self, client: asyncio.StreamWriter, handler: asyncio.Task[None]) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.handler = handler

    def reset(self) -> None:
        """Abort both sides with RST and stop forwarding; safe to call more than once."""
        for writer in (self.client, self.upstream):
            if writer is not None:
                _abort_with_reset(writer)
        self.handler.cancel()


# A direction of a connection: (delivery time, chunk) in order; None ends the stream.
Chunks = asyncio.Queue[tuple[float, bytes] | None]


class TcpProxy:
    """Forward (host, port) to (target_host, target_port) with adjustable faults.

    `port` 0 picks a free port; read the chosen one from `.port` after `start()`.
    Counters: `bytes_forwarded` (delivered, both directions), `connections` (accepted),
    `resets` (connections aborted by `reset_probability`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        target_host: str,
        target_port: int,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.target = (target_host, target_port)
        # Read on every chunk by the proxy thread; plain attributes are safe to set.
        self.delay_ms: float = 0.0
        self.reset_probability: float = 0.0
        self.bytes_forwarded = 0
        self.connections = 0
        self.resets = 0
        self._rng = random.Random(seed)
        self._blackhole = False
        self._cut = False
        self._conns: set[_Connection] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None  # set unless blackholed

    # ------------------------------------------------------------ control (test thread)

    def start(self) -> TcpProxy:
        """Start the thread and listen; returns once connections are accepted."""
        self._thread.start()
        try:
            self._call(self._init())
        except BaseException:  # e.g. the address is taken: leave no thread behind
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            raise
        return self

    def close(self) -> None:
        """Stop listening, reset every connection and stop the thread; idempotent."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def blackhole(self) -> bool:
        return self._blackhole

    @blackhole.setter
    def blackhole(self, on: bool) -> None:
        self._call(self._set_blackhole(on))

    @property
    def cut(self) -> bool:
        return self._cut

    @cut.setter
    def cut(self, on: bool) -> None:
        """Synchronous: once set, connecting is refused and old connections are gone."""
        self._call(self._set_cut(on))

    def _call(self, coro: Coroutine[None, None, None]) -> None:
        """Run a coroutine on the proxy's loop and wait for it, so a fault set by the
        test is in force when the setter returns (no race with the next step)."""
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # ------------------------------------------------------------ proxy thread

    async def _init(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_blackhole(self, on: bool) -> None:
        self._blackhole = on
        assert self._flowing is not None
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _set_cut(self, on: bool) -> None:
        if on == self._cut:
            return
        self._cut = on
        if on:
            await self._close_all()
        else:
            await self._listen()  # the same port again: peers keep dialling the same address

    async def _close_all(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        conns = list(self._conns)
        for conn in conns:
            conn.reset()
        await asyncio.gather(*(c.handler for c in conns), return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _shutdown(self) -> None:
        await self._close_all()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        conn = _Connection(writer, handler)
        self._conns.add(conn)
        try:
            await self._forward(conn, reader)
        except asyncio.CancelledError:
            pass  # conn.reset(): an injected fault, a cut or shutdown; both sides are aborted
        finally:
            self._conns.discard(conn)
            for w in (writer, conn.upstream):
                if w is not None:
                    w.close()

    async def _forward(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        assert self._flowing is not None
        # A blackholed link does not even carry the connection attempt upstream.
        await self._flowing.wait()
        try:
            up_reader, conn.upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.target), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            _abort_with_reset(conn.client)  # upstream unreachable: so is the proxy's client
            return
        to_up: Chunks = asyncio.Queue()
        to_client: Chunks = asyncio.Queue()
        await asyncio.gather(
            self._read(reader, to_up, conn),
            self._read(up_reader, to_client, conn),
            self._deliver(to_up, conn.upstream, conn),
            self._deliver(to_client, conn.client, conn),
        )

    async def _read(self, reader: asyncio.StreamReader, queue: Chunks, conn: _Connection) -> None:
        """Read chunks and stamp each with its delivery time, or break the connection."""
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(READ_BYTES):
                if self.reset_probability and self._rng.random() < self.reset_probability:
                    self.resets += 1
                    conn.reset()
                    return
                queue.put_nowait((loop.time() + self.delay_ms / 1000, data))
        except OSError:
            conn.reset()  # one side broke: so does the other, as on a real path
            return
        queue.put_nowait(None)  # end of stream: this side closed its half

    async def _deliver(
        self, queue: Chunks, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        """Write chunks in order, none before its delivery time, none while blackholed."""
        loop = asyncio.get_running_loop()
        assert self._flowing is not None
        while (item := await queue.get()) is not None:
            due, data = item
            await self._flowing.wait()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                conn.reset()
                return
            self.bytes_forwarded += len(data)
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()  # pass on the half-close
