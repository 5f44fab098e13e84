"""The real neonize worker under the daemon with WhatsApp unreachable (no network here).

WABRIDGE_WORKER_PROXY points neonize at a closed loopback port, so every dial fails at
once, exactly like a server whose network is down. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, message, write_jsonl
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
NUMBER = "6281100000001"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_offline_whatsapp_retries_in_fresh_processes_and_the_daemon_keeps_working(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path, numbers=(NUMBER,))
    assert daemon.cli("templates", "install", "auto-closing").returncode == 0
    daemon.start(simulate=False, WABRIDGE_WORKER_PROXY=f"socks5://127.0.0.1:{closed_port()}")
    try:
        session = daemon.wait_state(NUMBER, "DISCONNECTED", timeout=60)
        assert session["reason"] in ("network", "connect_failure")
        first_pid = session["worker_pid"]
        # It tries again, each time in a new process (neonize leaks a handle per connect()).
        pids = {first_pid}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(pids - {None}) < 3:
            pid = daemon.session(NUMBER)["worker_pid"]
            if pid:
                pids.add(pid)
            time.sleep(0.1)
        assert len(pids - {None}) >= 3, daemon.logs()[-3000:]
        assert daemon.session(NUMBER)["restarts"] >= 2
        assert daemon.session(NUMBER)["state"] in ("DISCONNECTED", "STARTING")  # never FAILED for offline
        # Meanwhile the daemon answers and the rules work (a replay into the same store).
        assert daemon.request("GET", "/healthz", auth=False)[0] == 200
        assert daemon.request("GET", "/api/sessions")[0] == 200
        assert daemon.proc is not None
        fds_before = _open_fds(daemon.proc.pid)
        time.sleep(3)
        assert _open_fds(daemon.proc.pid) <= fds_before + 5  # restarts do not pile up handles
        source = write_jsonl(tmp_path / "m.jsonl", [message(from_me=True, text="Payment received Rp 250.000")])
        replayed = daemon.cli("replay", str(source), "--json")
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout)["rules_fired"] == 1
        # Never a QR payload or the token in the logs.
        assert daemon.token not in daemon.logs()
        started = time.monotonic()
        assert daemon.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 20
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
    assert ROOT.exists()
