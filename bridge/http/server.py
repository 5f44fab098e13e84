"""Serving the app so that connections cannot exhaust the daemon's file descriptors.

- `GuardedSite` listens like aiohttp's TCPSite but caps the connections open at once:
  one past the cap is answered `503` and closed inside accept(), before the next is
  accepted, so a flood holds one descriptor at a time beyond the cap. (asyncio accepts up
  to `backlog` connections per loop tick before any of their protocols runs; refused
  there, a burst of 120 once took every descriptor and a worker failed to start.) The cap
  never exceeds the open-files limit less FD_RESERVE, which stays for the store, the
  workers' pipes and outgoing deliveries: clients alone cannot exhaust the process.
  (aiohttp closes a connection that sends no complete request, or sits idle between
  requests, after the runner's `keepalive_timeout`.)
- `body_timeout_middleware` reads a request body under a deadline: a client trickling
  its body is answered 408 and disconnected (JSON, form and TOML bodies; uploads, which
  their handlers stream in chunks past the 256 KiB limit, are left to those handlers).
- `limit_accept_errors` makes the event loop report "out of file descriptors" at accept
  at most once a minute (asyncio retries the accept every second and would log each).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import socket
import time
import weakref
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from bridge.http.errors import Handler, error_response

log = structlog.get_logger(__name__)

REPORT_EVERY = 60.0  # seconds between two reports of the same resource problem
FD_RESERVE = 128  # descriptors kept for everything but client connections
MIN_CONNECTIONS = 16
REFUSED_PER_TICK = 64  # refusals per accept round, so a flood cannot stall the event loop
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REFUSAL_BODY = b'{"error": {"code": "too_many_connections", "message": "too many open connections; retry"}}'
_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Retry-After: 5\r\nContent-Length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n\r\n" + _REFUSAL_BODY)


class _Throttled:
    """Say something at most once per REPORT_EVERY seconds, counting what was held back."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: float | None = None
        self.held_back = 0

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < REPORT_EVERY:
            self.held_back += 1
            return False
        self._last = now
        return True


def connection_cap(configured: int) -> int:
    """`configured`, lowered to leave FD_RESERVE descriptors under the open-files limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or configured <= soft - FD_RESERVE:
        return configured
    cap = max(MIN_CONNECTIONS, soft - FD_RESERVE)
    log.warning("http_connections_cap_lowered", configured=configured, cap=cap, open_files_limit=soft,
                hint="raise LimitNOFILE (ulimit -n) to allow more connections")
    return cap


def _refuse(conn: socket.socket) -> None:
    """Answer 503 and close now. What the client already sent is read first, so the close
    sends FIN, not a reset that could beat the answer to the client."""
    with contextlib.suppress(OSError):
        conn.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            conn.recv(65536)
        conn.send(_REFUSAL)
    conn.close()


class _GuardedListener(socket.socket):
    """A listening socket whose accept() refuses connections past the cap itself."""

    admit: Callable[[], bool]
    refused: Callable[[], None]

    def accept(self) -> tuple[socket.socket, Any]:
        for _ in range(REFUSED_PER_TICK):
            conn, address = super().accept()  # BlockingIOError when none waits: asyncio stops there
            if self.admit():
                return conn, address
            _refuse(conn)
            self.refused()
        raise BlockingIOError  # the rest wait in the kernel's queue until the next tick


def _listeners(host: str, port: int, backlog: int) -> list[_GuardedListener]:
    """Bound, listening sockets for `host` (an IP address, or localhost: each of its addresses).

    As asyncio does: an address of a family the host has not enabled (no socket of that family,
    or EADDRNOTAVAIL: ::1 with IPv6 off) is skipped while another is left; any other failure
    names the address, e.g. a port already in use.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[_GuardedListener] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            try:
                sock = _GuardedListener(family, kind, proto)
            except OSError:  # a family this kernel lacks (IPv6 compiled out): as asyncio, skip it
                continue
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio: one family each
            try:
                sock.bind(address)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRNOTAVAIL and len(found) > 1:
                    continue
                raise OSError(exc.errno, f"cannot listen on {_shown_address(address)}: "
                                         f"{(exc.strerror or str(exc)).lower()}") from None
            listeners.append(sock)
            sock.listen(backlog)
            sock.setblocking(False)
        if not listeners:
            raise OSError(errno.EADDRNOTAVAIL, f"cannot listen on {host}:{port}: no address of it is available here")
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def _shown_address(address: tuple[Any, ...]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Counted(asyncio.Protocol):
    """The app's protocol for one connection, counted from accept() until the socket closes.

    Counting starts in the factory, not in connection_made: asyncio accepts a burst of
    connections and only later runs their connection_made callbacks.
    """

    def __init__(self, inner: asyncio.Protocol, live: weakref.WeakSet[_Counted]) -> None:
        self._inner = inner
        self._live = live
        live.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._live.discard(self)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site that answers connections past `max_connections` with 503 and closes them."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int) -> None:
        super().__init__(runner)
        self._host, self._port = host, port
        self.max_connections = connection_cap(max_connections)
        self._capped = _Throttled()
        self._live: weakref.WeakSet[_Counted] = weakref.WeakSet()
        self._admitted = 0  # accepted, their protocol not made yet (asyncio makes it a tick later)
        self._servers: list[asyncio.AbstractServer] = []

    @property
    def name(self) -> str:
        """http://host:port, as aiohttp names its sites."""
        return f"http://{self._host}:{self._port}"

    def open_connections(self) -> int:
        """Client connections accepted and not yet closed."""
        return len(self._live)

    def _admit(self) -> bool:
        if len(self._live) + self._admitted >= self.max_connections:
            return False
        self._admitted += 1
        return True

    def _refused(self) -> None:
        if self._capped.due():
            log.warning("http_connections_capped", open=self.max_connections,
                        refused_since_last_report=self._capped.held_back)
            self._capped.held_back = 0

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        self._admitted = max(0, self._admitted - 1)
        return _Counted(server(), self._live)

    async def start(self) -> None:
        """Bind and listen."""
        await super().start()
        loop = asyncio.get_running_loop()
        for sock in _listeners(self._host, self._port, self._backlog):
            sock.admit, sock.refused = self._admit, self._refused
            self._servers.append(await loop.create_server(self._protocol, sock=sock))
        self._server = self._servers[0]

    async def stop(self) -> None:
        """Stop listening (every address)."""
        for server in self._servers[1:]:
            server.close()
        await super().stop()


_READ_WHOLE = frozenset({"application/json", "application/x-www-form-urlencoded", "application/toml"})


def _streamed(request: web.Request) -> bool:
    # Only the bodies handlers read whole (JSON, forms, rules TOML; ≤ client_max_size) are read
    # here; uploads (CSV, chat exports) are streamed in chunks by their handlers, past that size.
    return request.content_type not in _READ_WHOLE


def body_timeout_middleware(seconds: float) -> Any:
    """Read each request body (≤ client_max_size) within `seconds`, else 408 and disconnect."""

    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in _BODY_METHODS and request.can_read_body and not _streamed(request):
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # cached: the handler's read() gets the same bytes
            except TimeoutError:
                log.info("http_body_timeout", method=request.method, path=request.path, seconds=seconds)
                response = error_response(408, "request_timeout",
                                          f"the request body did not arrive within {seconds:g} seconds")
                response.force_close()
                return response
        return await handler(request)

    return read_body_in_time


def limit_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Report accept() failing for lack of descriptors once a minute, not every second."""
    throttled = _Throttled()
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM) \
                and "accept" in str(context.get("message", "")):
            if throttled.due():
                log.error("http_accept_failed", error=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
                          hint="too many open files: raise LimitNOFILE or lower [http] max_connections",
                          repeats_since_last_report=throttled.held_back)
                throttled.held_back = 0
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
