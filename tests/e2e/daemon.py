"""A real `wabridge run --simulate` subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import ROOT

if TYPE_CHECKING:
    from bridge.daemon.app import Daemon

NUMBERS = ("6281100000001", "6281100000002")


def _limit_open_files(count: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


async def pair_in_process(daemon: Daemon, number: str, timeout: float = 30) -> None:
    """Pair a number of a started in-process simulated daemon: its QR shows, the simulated
    phone scans it, the number is CONNECTED."""
    from bridge.daemon.sessions import SessionState

    session = daemon.workers[number]
    await session.wait_for(lambda v: v.state is SessionState.SCAN_QR, timeout)
    await daemon.sim_scan(number, None)
    await session.wait_for(lambda v: v.state is SessionState.CONNECTED, timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningDaemon:
    """Start, talk to, and stop a daemon; its data dir survives restarts."""

    def __init__(self, workdir: Path, numbers: tuple[str, ...] = NUMBERS, extra_config: str = "",
                 http_config: str = "") -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.config = workdir / "config.toml"
        tables = "".join(f'[[numbers]]\nphone = "{n}"\nlabel = "CS {i}"\n\n' for i, n in enumerate(numbers))
        self.config.write_text(
            f'[workspace]\nname = "Toko Test"\n\n[store]\ndata_dir = "{self.data}"\n\n'
            f'[http]\nlisten = "127.0.0.1:{self.port}"\n{http_config}\n'
            f'[logging]\nformat = "json"\n\n{tables}{extra_config}')
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "daemon.log"
        self.token = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bridge.cli", "--config", str(self.config), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    def start(self, *, simulate: bool = True, open_files: int | None = None, **env: str) -> RunningDaemon:
        environment = {**os.environ, "WABRIDGE_SIM_QR_SECONDS": "5,3", **env}
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process
        mode = ["--simulate"] if simulate else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "--config", str(self.config), "run", *mode],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=environment,
            preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logs()
            try:
                status, _ = self.request("GET", "/healthz", auth=False)
                if status == 200 and (self.data / "api-token").exists():
                    self.token = (self.data / "api-token").read_text().strip()
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("daemon did not start:\n" + self.logs())

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw, status, ctype = response.read(), response.status, response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raw, status, ctype = exc.read(), exc.code, exc.headers.get("Content-Type", "")
        if "json" in ctype:
            return status, json.loads(raw)
        return status, raw

    def get_unfollowed(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET without the token and without following redirects: (status, headers, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def session(self, number: str) -> dict[str, Any]:
        status, body = self.request("GET", f"/api/sessions/{number}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def wait(self, predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n" + self.logs()[-4000:])

    def wait_state(self, number: str, *states: str, timeout: float = 30) -> dict[str, Any]:
        self.wait(lambda: self.session(number)["state"] in states, timeout, f"{number} in {states}")
        return self.session(number)

    def pair(self, number: str) -> None:
        self.wait_state(number, "SCAN_QR", "CONNECTED")
        if self.session(number)["state"] != "CONNECTED":
            status, body = self.request("POST", f"/sim/{number}/scan", {})
            assert status in (200, 202, 204), body
        self.wait_state(number, "CONNECTED")

    def send(self, number: str, **message: Any) -> tuple[int, Any]:
        return self.request("POST", f"/sim/{number}/messages", message)

    def leads(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        status, body = self.request("GET", "/api/leads" + (f"?{query}" if query else ""))
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code
