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

from tests.e2e.daemon import NUMBERS, RunningDaemon, free_port

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
        time.sleep(0.5)  # the server sees the sockets above closed (else one of the 60 is refused)
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


def test_a_low_open_files_limit_caps_connections_and_the_daemon_stays_up(tmp_path: Path) -> None:
    # 1000 connections configured, but only 96 descriptors: the cap drops to 16 and clients
    # past it get 503, so descriptors stay for the store and the workers.
    daemon = RunningDaemon(tmp_path, http_config=TIMEOUTS + "max_connections = 1000\n").start(open_files=96)
    try:
        capped = [json.loads(line) for line in daemon.logs().splitlines() if '"http_connections_cap_lowered"' in line]
        assert capped and capped[0]["cap"] == 16, daemon.logs()[-2000:]
        with sockets(daemon.port, 120) as flood:
            time.sleep(1)
            refused = 0
            for sock in flood[16:]:
                sock.settimeout(5)
                with suppress(OSError):
                    refused += sock.recv(64).startswith(b"HTTP/1.1 503")
            assert refused >= 100
        deadline = time.monotonic() + 20
        while True:  # the idle ones time out and /healthz answers again
            try:
                healthz_seconds(daemon)
                break
            except (OSError, AssertionError):
                assert time.monotonic() < deadline, daemon.logs()[-3000:]
                time.sleep(0.2)
        assert daemon.request("GET", "/readyz")[0] == 200
        assert "Too many open files" not in daemon.logs()
    finally:
        assert daemon.stop() == 0


# How both child scripts below start: structlog's events kept in `events`, then main()
# with accept errors reported as the daemon reports them.
CHILD_START = """
import asyncio, json, os, resource, socket, sys, time
import structlog
from aiohttp import web
from bridge.http.server import GuardedSite, limit_accept_errors

events = []
structlog.configure(processors=[lambda _l, _m, event: events.append(event) or ""])

async def main():
    loop = asyncio.get_running_loop()
    limit_accept_errors(loop)
"""

ACCEPT_FLOOD = CHILD_START + """\
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    used = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 20, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    clients = []
    for _ in range(40):
        try:
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=1))
        except OSError:
            break
        await asyncio.sleep(0)
    await asyncio.sleep(3.5)  # asyncio retries accept() every second
    print(json.dumps([e for e in events if e.get("event") == "http_accept_failed"], default=str))

asyncio.run(main())
"""


def test_accept_running_out_of_descriptors_is_reported_once_a_minute(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, "-c", ACCEPT_FLOOD], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(reports) == 1, reports  # four failed accept rounds, one report
    assert reports[0]["error"] == "EMFILE"
    assert "Too many open files" not in result.stderr


GUARDED_SERVER = CHILD_START + """\
    app = web.Application()
    app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
    runner = web.AppRunner(app, keepalive_timeout=60)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, max_connections=4)
    await site.start()
    # 24 descriptors beside those in use: room for the 4 connections and a few files, far
    # from enough should a flood be accepted first and refused later.
    used = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 24, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    probe = open(os.devnull)  # the process can still open a file
    probe.close()
    print(json.dumps([e for e in events if e.get("event", "").startswith("http_")], default=str), flush=True)
    await runner.cleanup()

asyncio.run(main())
"""


def test_a_flood_past_the_cap_never_takes_the_descriptors_the_process_needs() -> None:
    """asyncio accepts a burst of connections per loop tick before any of their protocols
    runs; refused only then, 150 clients took every descriptor of a daemon and a worker
    failed to start. Refused inside accept(), each is closed before the next is taken."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    server = subprocess.Popen([sys.executable, "-c", GUARDED_SERVER], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
        with sockets(port, 150) as flood:
            refused = 0
            for sock in flood[4:]:
                sock.settimeout(5)
                with suppress(OSError):
                    refused += sock.recv(64).startswith(b"HTTP/1.1 503")
            assert refused == 146
            for sock in flood[:4]:  # the 4 admitted ones are open, and answer
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                sock.settimeout(5)
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)  # their close reaches the server: room for new clients again
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        out, err = server.communicate("done\n", timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0, err
    events = json.loads(out.strip().splitlines()[-1])
    assert [e["event"] for e in events] == ["http_connections_capped"], events  # never http_accept_failed
    assert "Too many open files" not in err


def test_a_stalled_or_trickled_upload_is_answered_408_and_closed(tmp_path: Path) -> None:
    """Uploads stream past the body timeout's middleware, so they keep their own deadlines:
    a CSV import that stops arriving, and one trickling a byte at a time, each get 408 within
    about `body_timeout_seconds`, then a closed connection; the daemon answers meanwhile."""
    daemon = RunningDaemon(tmp_path, http_config=TIMEOUTS).start()
    try:
        head = (b"POST /api/leads/import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                b"Authorization: Bearer " + daemon.token.encode() + b"\r\nContent-Length: 200000\r\n\r\n"
                b"phone,name\r\n6281200000001,Sari\r\n")
        with sockets(daemon.port, 2, head) as (stalled, trickled):
            began = time.monotonic()
            trickled.settimeout(0.5)
            answer = b""
            while not answer and time.monotonic() - began < 10:
                trickled.sendall(b"6")  # one byte every half second: alive, never done
                try:
                    answer = trickled.recv(4096)
                except TimeoutError:
                    continue
            assert b" 408 " in answer.split(b"\r\n", 1)[0] and b"request_timeout" in answer
            assert 1.5 < time.monotonic() - began < 6
            stalled.settimeout(6)
            reply = stalled.recv(4096)
            assert b" 408 " in reply.split(b"\r\n", 1)[0] and b"upload stopped arriving" in reply
            # Closed: at once, or after aiohttp's lingering close (it reads and drops what a
            # client still sends, at most 10 s) so the client sees the answer, not a reset.
            assert closed_by_server(stalled, 12) and closed_by_server(trickled, 12)
            assert healthz_seconds(daemon) < 1.0
        assert '"http_upload_timeout"' in daemon.logs()
    finally:
        assert daemon.stop() == 0


def test_a_port_already_in_use_stops_the_daemon_naming_the_address(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", daemon.port))
        taken.listen()
        result = daemon.cli("run", "--simulate")
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith(
        f"cannot listen on 127.0.0.1:{daemon.port}: address already in use"), last
    assert "Traceback" not in result.stderr
    assert "pairing page for" not in result.stderr  # no link to a page that is not served


def test_the_pairing_pages_are_shown_once_they_are_served(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path).start()
    try:
        expected = [f"pairing page for {n}: http://127.0.0.1:{daemon.port}/pair/{n}" for n in NUMBERS]
        deadline = time.monotonic() + 10  # printed when start-up is done, maybe just after /healthz answers
        while (shown := [line for line in daemon.logs().splitlines() if line.startswith("pairing page for ")]) \
                != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shown == expected
        for line in shown:
            path = line.split(str(daemon.port), 1)[1]
            assert daemon.request("GET", path)[0] == 200
    finally:
        assert daemon.stop() == 0


async def test_an_address_not_available_here_is_skipped_when_another_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # localhost can name ::1 on a host with IPv6 off: asyncio skips it, so do we. 2001:db8::1
    # (documentation only) is no address of this machine: bind() fails with EADDRNOTAVAIL.
    from aiohttp import web

    from bridge.http import server

    real = socket.getaddrinfo
    port = free_port()

    def both(host: str, wanted: int, *args: object, **kwargs: object) -> list[object]:
        return [*real("2001:db8::1", wanted, *args, **kwargs), *real("127.0.0.1", wanted, *args, **kwargs)]  # type: ignore[arg-type]

    runner = web.AppRunner(web.Application())
    await runner.setup()
    try:
        monkeypatch.setattr(server.socket, "getaddrinfo", both)
        site = server.GuardedSite(runner, "localhost", port, max_connections=8)
        await site.start()
        monkeypatch.undo()
        assert [s.getsockname()[:2] for s in site._server.sockets] == [("127.0.0.1", port)]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        only_unavailable = server.GuardedSite(runner, "2001:db8::1", free_port(), max_connections=8)
        with pytest.raises(OSError, match=r"cannot listen on \[2001:db8::1\]:\d+: cannot assign requested address"):
            await only_unavailable.start()
    finally:
        await runner.cleanup()
