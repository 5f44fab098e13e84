"""Connections that do nothing cannot take the HTTP server down (a real daemon, loopback sockets).

Idle sockets, half-sent headers and trickled bodies are closed after the configured
timeouts (2 s here, 15/30 s by default); connections past `max_connections` get a 503
and are closed at once; when the process runs out of descriptors, accept() failing is
logged once a minute, not every second, and the server recovers by itself.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.timeout(120)

TIMEOUTS = "idle_timeout_seconds = 2\nbody_timeout_seconds = 2\n"


@contextmanager
def sockets(port: int, count: int, first: bytes = b"") -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if first:
                sock.sendall(first)
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def healthz_seconds(daemon: RunningDaemon) -> float:
    began = time.monotonic()
    status, _ = daemon.request("GET", "/healthz", auth=False)
    assert status == 200
    return time.monotonic() - began


def test_idle_slow_and_surplus_connections_are_closed(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path, http_config=TIMEOUTS + "max_connections = 60\n").start()
    try:
        partial = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        trickle = (b"POST /api/rules/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Authorization: Bearer " + daemon.token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{")
        with sockets(daemon.port, 30) as idle, sockets(daemon.port, 10, partial) as slow_headers, \
                sockets(daemon.port, 5, trickle) as slow_bodies:
            assert healthz_seconds(daemon) < 1.0  # the server still answers beside 45 idle sockets
            began = time.monotonic()
            assert all(closed_by_server(s, 6) for s in idle + slow_headers), "idle connections left open"
            assert 1.5 < time.monotonic() - began < 6
            for sock in slow_bodies:
                sock.settimeout(6)
                assert b" 408 " in sock.recv(4096).split(b"\r\n", 1)[0]
            assert healthz_seconds(daemon) < 1.0

        # Past the cap: an immediate 503, never a hang; room again once the idle ones time out.
        with sockets(daemon.port, 60) as filling:
            time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert extra.recv(4096).startswith(b"HTTP/1.1 503")
            assert all(closed_by_server(s, 6) for s in filling)
        assert healthz_seconds(daemon) < 1.0
        assert '"http_connections_capped"' in daemon.logs()
    finally:
        assert daemon.stop() == 0


def test_running_out_of_descriptors_is_logged_once_and_recovers(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path, http_config=TIMEOUTS + "max_connections = 1000\n").start(open_files=96)
    try:
        with sockets(daemon.port, 120) as flood:
            time.sleep(4)  # asyncio retries accept() every second: four chances to flood the log
            accept_failures = [json.loads(line) for line in daemon.logs().splitlines()
                               if '"http_accept_failed"' in line]
            assert len(accept_failures) == 1, accept_failures
            assert accept_failures[0]["error"] == "EMFILE"
            for sock in flood:
                with suppress(OSError):
                    sock.close()
        deadline = time.monotonic() + 20
        while True:  # the idle ones time out, the backlog drains, /healthz answers again
            try:
                healthz_seconds(daemon)
                break
            except (OSError, AssertionError):
                assert time.monotonic() < deadline, daemon.logs()[-3000:]
                time.sleep(0.2)
        assert daemon.logs().count("Too many open files") <= 1
    finally:
        assert daemon.stop() == 0
