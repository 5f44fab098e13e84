"""End to end: `wabridge run --simulate` as a real subprocess, on loopback."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.http.auth import LOGIN_FAILURES_ALLOWED
from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
CUSTOMER = "6281234567890"
A, B = NUMBERS


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    running = RunningDaemon(tmp_path)
    installed = running.cli("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing")
    assert installed.returncode == 0, installed.stderr
    running.start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop(signal.SIGKILL)


def test_pair_then_messages_move_the_lead_through_the_seed_recipes(daemon: RunningDaemon) -> None:
    session = daemon.wait_state(A, "SCAN_QR")
    assert session["qr_available"] is True
    status, png = daemon.request("GET", f"/pair/{A}/qr.png")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, page = daemon.request("GET", f"/pair/{A}")
    assert status == 200 and b"Link a device" in page
    daemon.pair(A)
    for text in ("halo kak", "ada warna hitam?", "ukuran 39 ready?", "oke saya mau order"):
        status, body = daemon.send(A, sender=CUSTOMER, text=text, sender_name="Sari")
        assert status == 201, body
    status, body = daemon.send(A, chat=CUSTOMER, from_me=True, text="Payment received Rp 1.500.000")
    assert status == 201, body
    daemon.wait(lambda: any(lead["status"] == "purchase" for lead in daemon.leads()), what="purchase")
    (lead,) = daemon.leads(phone=CUSTOMER)
    assert (lead["status"], lead["value_actual"], lead["chat_count"], lead["name"]) == (
        "purchase", 1500000, 4, "Sari")
    sessions = {s["number"]: s for s in daemon.request("GET", "/api/sessions")[1]}
    assert sessions[A]["state"] == "CONNECTED" and sessions[A]["last_message_at"]
    assert sessions[B]["state"] in ("SCAN_QR", "STARTING", "FAILED")  # unscanned: its round may end
    assert sessions[B]["linked_jid"] is None

    def metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, body = daemon.request("GET", "/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(body.decode()) for s in family.samples}

    assert metrics()[("wabridge_session_state", (("number", A), ("state", "CONNECTED")))] == 1
    daemon.wait(lambda: metrics()[("wabridge_rules_fired_total", ())] == 3, what="fired counter")
    assert metrics()[("wabridge_messages_received_total", (("number", A),))] == 5


def test_a_crashed_worker_comes_back_connected_and_loses_no_accepted_message(daemon: RunningDaemon) -> None:
    daemon.pair(A)
    accepted: list[str] = []
    stop = threading.Event()

    def sender() -> None:
        n, deadline = 0, time.monotonic() + 90
        while not stop.is_set() and n < 3000 and time.monotonic() < deadline:
            status, body = daemon.send(A, sender=f"62812{n % 40:05d}", text=f"pesan {n}")
            if status == 201:
                accepted.append(body["id"])
            else:  # 409 while the worker restarts: the client knows it was not accepted
                time.sleep(0.05)
            n += 1

    thread = threading.Thread(target=sender)
    thread.start()
    daemon.wait(lambda: len(accepted) >= 30, what="some traffic")
    pid = daemon.session(A)["worker_pid"]
    os.kill(pid, signal.SIGKILL)  # kill -9 the worker mid-stream
    daemon.wait(lambda: daemon.session(A)["worker_pid"] not in (None, pid), timeout=30, what="restart")
    session = daemon.wait_state(A, "CONNECTED")  # stored pairing: no new scan
    assert session["restarts"] >= 1
    daemon.wait(lambda: len(accepted) >= 80, timeout=60, what="traffic after restart")
    stop.set()
    thread.join(timeout=60)
    daemon.wait(lambda: sum(lead["chat_count"] for lead in daemon.leads(limit="1000")) == len(accepted),
                timeout=30, what="every accepted message processed")
    status, body = daemon.request("POST", f"/sim/{A}/crash", {})
    assert status in (200, 202, 204), body
    daemon.wait(lambda: daemon.session(A)["restarts"] >= session["restarts"] + 1, what="crash counted")
    daemon.wait_state(A, "CONNECTED")


def test_a_different_phone_scanning_is_logged_out_and_never_used(daemon: RunningDaemon) -> None:
    daemon.wait_state(B, "SCAN_QR")
    status, _ = daemon.request("POST", f"/sim/{B}/scan", {"as": "6289999999999"})
    assert status in (200, 202, 204)
    session = daemon.wait_state(B, "FAILED")
    assert session["reason"] == "wrong_number"
    assert "6289999999999" in session["detail"]
    status, body = daemon.send(B, sender=CUSTOMER, text="halo")
    assert status == 409, body
    assert daemon.leads() == []
    status, page = daemon.request("GET", f"/pair/{B}")
    assert status == 200 and b"6289999999999" in page


def test_every_route_but_healthz_needs_the_token(daemon: RunningDaemon) -> None:
    assert daemon.request("GET", "/healthz", auth=False)[0] == 200
    wrong_guesses = 0
    for method, path in [("GET", "/api/sessions"), ("GET", f"/api/sessions/{A}"), ("GET", "/api/leads"),
                         ("POST", f"/api/sessions/{A}/restart"), ("POST", f"/api/sessions/{A}/logout"),
                         ("POST", f"/api/sessions/{A}/pair-code"), ("GET", f"/pair/{A}/qr.png"),
                         ("GET", f"/pair/{A}/qr.svg"), ("GET", f"/pair/{A}/qr.json"), ("GET", "/metrics"),
                         ("GET", "/readyz"), ("POST", f"/sim/{A}/scan"), ("POST", f"/sim/{A}/messages"),
                         ("POST", f"/sim/{A}/crash")]:
        status, _ = daemon.request(method, path, {} if method == "POST" else None, auth=False)
        assert status == 401, (method, path, status)
        wrong_guesses += 1
        status, _ = daemon.request(method, path, {} if method == "POST" else None, auth=False,
                                   headers={"Authorization": "Bearer wrong-token-wrong-token"})
        # Wrong tokens are throttled per client address like wrong logins (10 per 5 minutes).
        assert status == (401 if wrong_guesses <= LOGIN_FAILURES_ALLOWED else 429), (method, path, status)
    assert wrong_guesses > LOGIN_FAILURES_ALLOWED
    status, _ = daemon.request("GET", f"/pair/{A}", auth=False)
    assert status in (200, 401)  # a browser page redirects to the login form
    token_file = daemon.data / "api-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert daemon.token not in daemon.logs()


def test_sigterm_stops_cleanly_and_a_restart_resumes_the_pairing(daemon: RunningDaemon) -> None:
    daemon.pair(A)
    assert daemon.send(A, sender=CUSTOMER, text="halo")[0] == 201
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 20
    session_file = daemon.data / "sessions" / f"{A}.sqlite3"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((daemon.data / "wabridge.db").stat().st_mode) == 0o600
    daemon.start()
    daemon.wait_state(A, "CONNECTED")  # no new scan
    assert daemon.send(A, sender=CUSTOMER, text="lagi")[0] == 201
    daemon.wait(lambda: daemon.leads(phone=CUSTOMER)[0]["chat_count"] == 2, what="second message")
    status, ready = daemon.request("GET", "/readyz")
    assert status in (200, 503) and ready["checks"]["store"]["ok"] is True


def test_an_unscanned_qr_round_ends_and_can_be_restarted(tmp_path: Path) -> None:
    running = RunningDaemon(tmp_path, numbers=(A,))
    running.start(WABRIDGE_QR_ROUND_SECONDS="3")
    try:
        session = running.wait_state(A, "FAILED", timeout=20)
        assert session["reason"] == "qr_exhausted"
        assert running.request("GET", f"/pair/{A}/qr.png")[0] == 409
        assert running.request("POST", f"/api/sessions/{A}/restart", {})[0] in (200, 202, 204)
        running.wait_state(A, "SCAN_QR")
        running.pair(A)
    finally:
        running.stop(signal.SIGTERM)


def test_rules_reload_by_api_and_sighup_without_reconnecting(daemon: RunningDaemon, tmp_path: Path) -> None:
    daemon.pair(A)
    pid = daemon.session(A)["worker_pid"]
    rules = tmp_path / "vip.toml"
    rules.write_text('[[rules]]\nname = "VIP"\nconditions = [{ field = "message.text", op = "contains", '
                     'value = "vip" }]\nactions = [{ type = "add_tag", tag = "vip" }]\n')
    assert daemon.cli("rules", "import", str(rules)).returncode == 0
    status, body = daemon.request("POST", "/api/rules/reload", {})
    assert status == 200 and body["rules"] == 4 and body["invalid"] == []
    assert daemon.send(A, sender=CUSTOMER, text="saya member VIP")[0] == 201
    daemon.wait(lambda: "vip" in daemon.leads(phone=CUSTOMER)[0]["tags"], what="the new rule fired")
    rules.write_text(rules.read_text().replace('"vip" }]\nactions', '"gold" }]\nactions')
                     .replace('tag = "vip"', 'tag = "gold"'))
    assert daemon.cli("rules", "import", str(rules)).returncode == 0
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait(lambda: "rules_loaded" in daemon.logs().split("vip")[-1], what="SIGHUP reload")
    assert daemon.send(A, sender=CUSTOMER, text="gold member")[0] == 201
    daemon.wait(lambda: "gold" in daemon.leads(phone=CUSTOMER)[0]["tags"], what="the edited rule fired")
    session = daemon.session(A)
    assert session["state"] == "CONNECTED" and session["worker_pid"] == pid
