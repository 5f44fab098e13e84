"""Sending from the API and the command line on a real `wabridge run --simulate`: the
simulated customer's phone receives it, the lead shows it as a Team message, a Team rule
fires once whether or not WhatsApp echoes it; idempotency keys; a disconnected number;
pacing between two quick sends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
A, B = "6281100000001", "6281100000002"
SARI = "6281234567890"
UNPACED = '\n[replies]\nmin_gap = "0s"\njitter = "0s"\n'

TEAM_RULE = """
[[rules]]
name = "Closing (Team)"
trigger = "message.received"
sender = "team"
priority = 10
conditions = [{ field = "message.text", op = "contains", value = "payment received" }]
actions = [
  { type = "update_value", target = "lead.value_actual", preset = "rupiah_flexible" },
  { type = "set_status", status = "purchase" },
  { type = "adjust_score", by = 1 },
]
"""


def daemon(tmp_path: Path, extra: str = UNPACED, numbers: tuple[str, ...] = (A,), rules: str = TEAM_RULE,
           **env: str) -> RunningDaemon:
    running = RunningDaemon(tmp_path, numbers=numbers, extra_config=extra)
    (tmp_path / "rules.toml").write_text(rules, encoding="utf-8")
    imported = running.cli("rules", "import", str(tmp_path / "rules.toml"))
    assert imported.returncode == 0, imported.stderr
    running.start(**env)
    for number in numbers:
        running.pair(number)
    return running


def message(d: RunningDaemon, entry_id: int) -> dict[str, Any]:
    status, body = d.request("GET", f"/api/messages/{entry_id}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def wait_done(d: RunningDaemon, entry_id: int, timeout: float = 30) -> dict[str, Any]:
    d.wait(lambda: message(d, entry_id)["state"] != "queued", timeout, f"message {entry_id} sent or failed")
    return message(d, entry_id)


def received(d: RunningDaemon, number: str = A, to: str = SARI) -> list[dict[str, Any]]:
    status, body = d.request("GET", f"/sim/{number}/received?to={to}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def lead_detail(d: RunningDaemon, phone: str = SARI) -> dict[str, Any]:
    status, body = d.request("GET", f"/api/leads/{phone}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("echo", ["1", "0"], ids=["whatsapp-echoes", "no-echo"])
def test_api_send_reaches_the_phone_shows_on_the_lead_and_fires_the_team_rule_once(tmp_path: Path,
                                                                                  echo: str) -> None:
    d = daemon(tmp_path, WABRIDGE_SIM_ECHO=echo)
    try:
        assert d.send(A, sender=SARI, sender_name="Sari", text="halo kak, sudah transfer ya")[0] == 201
        d.wait(lambda: bool(d.leads()), what="Sari's lead")
        status, queued = d.request("POST", "/api/messages", {"to": "+62 812-3456-7890",
                                                            "text": "Payment received Rp 1.500.000"})
        assert status == 202, queued
        assert queued["state"] == "queued" and queued["number"] == A and queued["to"] == SARI
        sent = wait_done(d, queued["id"])
        assert sent["state"] == "sent" and sent["whatsapp_id"], sent
        assert [(m["id"], m["text"]) for m in received(d)] == [(sent["whatsapp_id"], "Payment received Rp 1.500.000")]

        def closed() -> bool:
            lead = d.leads()[0]
            return bool(lead["status"] == "purchase")
        d.wait(closed, what="the Team rule closing the lead")
        time.sleep(1.0)  # an echo processed a second time would show by now
        (lead,) = d.leads()
        assert (lead["status"], lead["value_actual"], lead["score"]) == ("purchase", 1500000, 1)
        team = [m for m in lead_detail(d)["messages"] if m["from_me"]]
        assert [(m["id"], m["text"], m["session"]) for m in team] == [
            (sent["whatsapp_id"], "Payment received Rp 1.500.000", A)]
        skipped = "message_echo_skipped" in d.logs()
        assert skipped is (echo == "1")
    finally:
        d.stop()


def test_cli_send_and_sim_received(tmp_path: Path) -> None:
    d = daemon(tmp_path)
    try:
        done = d.cli("send", "0812-3456-7890", "Halo kak Sari, pesanan sudah dikirim", "--number", A, "--wait", "20")
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["state"] == "sent" and answer["origin"] == "cli"
        shown = d.cli("sim", "received", A, "--to", SARI)
        assert shown.returncode == 0, shown.stderr
        assert [m["text"] for m in json.loads(shown.stdout)] == ["Halo kak Sari, pesanan sudah dikirim"]
        refused = d.cli("send", SARI, "halo", "--number", "6289999999999")
        assert refused.returncode == 1 and "number" in refused.stderr
    finally:
        d.stop()


def test_idempotency_key_sends_once_even_across_a_restart(tmp_path: Path) -> None:
    d = daemon(tmp_path)
    try:
        key = {"Idempotency-Key": "order-7731-shipped"}
        body = {"to": SARI, "text": "Pesanan #7731 sudah dikirim"}
        status, first = d.request("POST", "/api/messages", body, headers=key)
        assert status == 202, first
        again_status, again = d.request("POST", "/api/messages", body, headers=key)
        assert again_status == 202 and again["id"] == first["id"]
        other_status, other = d.request("POST", "/api/messages", {**body, "text": "lain"}, headers=key)
        assert other_status == 409 and other["error"]["field"] == "Idempotency-Key"
        wait_done(d, first["id"])
        d.stop()
        d.start()
        d.wait_state(A, "CONNECTED")
        status, after = d.request("POST", "/api/messages", body, headers=key)
        assert status == 202 and after["id"] == first["id"] and after["state"] == "sent"
        time.sleep(0.5)
        assert [m["text"] for m in received(d)] == ["Pesanan #7731 sudah dikirim"]
    finally:
        d.stop()


def test_a_disconnected_number_waits_then_fails_with_the_reason(tmp_path: Path) -> None:
    d = daemon(tmp_path, UNPACED.replace('jitter = "0s"', 'jitter = "0s"\nmax_wait = "2s"'))
    try:
        status, _ = d.request("POST", f"/api/sessions/{A}/logout")
        assert status == 200
        d.wait_state(A, "LOGGED_OUT")
        status, queued = d.request("POST", "/api/messages", {"to": SARI, "text": "halo", "number": A})
        assert status == 202 and queued["state"] == "queued"
        failed = wait_done(d, queued["id"], timeout=30)
        assert failed["state"] == "failed"
        assert "max_wait" in failed["reason"] and f"{A} was LOGGED_OUT, not CONNECTED" in failed["reason"]
    finally:
        d.stop()


def test_two_quick_sends_are_paced(tmp_path: Path) -> None:
    d = daemon(tmp_path, '\n[replies]\nmin_gap = "2s"\njitter = "0s"\n')
    try:
        ids = []
        for text in ("satu", "dua"):
            status, queued = d.request("POST", "/api/messages", {"to": SARI, "text": text, "number": A})
            assert status == 202
            ids.append(queued["id"])
        first, second = (wait_done(d, i) for i in ids)
        assert first["state"] == second["state"] == "sent"
        gap = (_at(second["sent_at"]) - _at(first["sent_at"]))
        assert gap >= 1.9, gap
        assert [m["text"] for m in received(d)] == ["satu", "dua"]
    finally:
        d.stop()


def _at(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def test_routes_need_the_token_and_name_the_bad_field(tmp_path: Path) -> None:
    d = daemon(tmp_path, UNPACED + '\n[[numbers]]\nphone = "6281100000002"\nlabel = "CS 2"\n')
    try:
        for method, path, body in (("POST", "/api/messages", {"to": SARI, "text": "x"}),
                                   ("GET", "/api/messages/1", None), ("GET", f"/sim/{A}/received", None)):
            status, answer = d.request(method, path, body, auth=False)
            assert status == 401, (path, answer)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"text": "halo"}, "to"),
            ({"to": "not a phone", "text": "halo"}, "to"),
            ({"to": "120363000000000001@g.us", "text": "halo"}, "to"),  # groups are off by default
            ({"to": SARI}, "text"),
            ({"to": SARI, "text": "   "}, "text"),
            ({"to": SARI, "text": "x" * 65537}, "text"),
            ({"to": SARI, "text": "halo", "number": "6289999999999"}, "number"),
            ({"to": SARI, "text": "halo"}, "number"),  # two numbers, none has talked with Sari
            ({"to": SARI, "text": "halo", "number": A, "reply_to": "NOPE"}, "reply_to"),
            ({"to": SARI, "text": "halo", "colour": "red"}, "colour"),
        ]
        for body, field in cases:
            status, answer = d.request("POST", "/api/messages", body)
            assert status == 400 and answer["error"]["field"] == field, (body, answer)
        status, answer = d.request("POST", "/api/messages", {"to": SARI, "text": "halo", "number": A},
                                   headers={"Idempotency-Key": "x" * 256})
        assert status == 400 and answer["error"]["field"] == "Idempotency-Key"
        status, answer = d.request("GET", "/api/messages/999999")
        assert status == 404
    finally:
        d.stop()


def test_a_partner_channel_lead_is_answered_through_the_partner(tmp_path: Path) -> None:
    partner = '\n[partners.qontak]\nsecret = "qontak-secret-0123456789"\n'
    d = daemon(tmp_path, UNPACED + partner)
    try:
        import hashlib
        import hmac
        import urllib.request

        raw = json.dumps({"id": "q-1", "customer": SARI, "name": "Sari", "text": "halo"}).encode()
        signature = "sha256=" + hmac.new(b"qontak-secret-0123456789", raw, hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"http://127.0.0.1:{d.port}/hooks/qontak/acc-1", data=raw, method="POST",
                                         headers={"Content-Type": "application/json", "X-Signature-256": signature})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 202)
        d.wait(lambda: bool(d.leads()), what="the partner lead")
        status, answer = d.request("POST", "/api/messages", {"to": SARI, "text": "halo"})
        assert status == 409 and answer["error"]["code"] == "partner_channel", answer
        assert "qontak" in answer["error"]["message"]
    finally:
        d.stop()
