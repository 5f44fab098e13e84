"""A loopback webhook receiver for the tests: answers from a script, records every request.

Runs on the test's event loop (`await receiver.start()`) or, for subprocess daemons, on
its own loop in a background thread (`receiver.start_in_thread()`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Reply:
    """How to answer one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str = "ok"
    delay: float = 0.0
    hang: bool = False  # never answer (until the receiver stops)


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def event_id(self) -> str:
        return self.headers.get("X-Wabridge-Event-Id", "")


class Receiver:
    """A scripted HTTP server on 127.0.0.1:<free port>."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.script: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.closing: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def then(self, *replies: Reply) -> Receiver:
        """Answer the next requests with these, in order (then the default)."""
        self.script.extend(replies)
        return self

    def ok(self) -> list[Received]:
        """The requests answered with a 2xx."""
        return [r for r in list(self.requests) if 200 <= r.status < 300]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        reply = self.script.popleft() if self.script else self.default
        self.requests.append(Received(request.path, dict(request.headers), body, time.monotonic(), reply.status))
        if reply.hang:
            assert self.closing is not None
            await self.closing.wait()
        elif reply.delay:
            await asyncio.sleep(reply.delay)
        return web.Response(status=reply.status, text=reply.text, headers=reply.headers)

    async def start(self) -> str:
        self.closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        if self.closing is not None:
            self.closing.set()
        if self.runner is not None:
            await self.runner.cleanup()

    def start_in_thread(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(self.start())
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.stop())
            self.loop.close()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert ready.wait(10), "receiver did not start"
        return self.url

    def stop_thread(self) -> None:
        if self.loop is not None and self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
