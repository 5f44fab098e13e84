"""Event webhook subscriptions on a real `wabridge run --simulate`: a loopback receiver gets
every event kind exactly as docs/events.md documents it (same keys, same JSON types),
signed like rule webhooks; deliveries survive a kill -9 with the same event ids and none
missing; the Send test event path; a subscription added over the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.daemon import RunningDaemon
from tests.outbox.receiver import Receiver, Reply

pytestmark = pytest.mark.slow
A = "6281100000001"
SARI = "6281234567890"
SECRET = "whsec_subscription_e2e"
ALL_EVENTS = ["message.received", "message.sent", "lead.created", "lead.updated", "lead.status_changed",
              "checkin.recorded", "session.state_changed"]
RULES = """
[[rules]]
name = "Hot on order"
trigger = "message.received"
priority = 20
conditions = [{ field = "message.text", op = "contains", value = "order" }]
actions = [{ type = "set_status", status = "hot" }]
"""


def subscription(url: str, name: str = "crm", events: list[str] = ALL_EVENTS) -> str:
    return (f'\n[[webhooks.subscriptions]]\nname = "{name}"\nurl = "{url}"\nsecret = "{SECRET}"\n'
            f'events = {json.dumps(events)}\n')


def documented() -> dict[str, Any]:
    """Each event's example from docs/events.md, by type."""
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    examples = {}
    for heading, block in re.findall(r"^## ([a-z._]+)\n.*?```json\n(.*?)```", text, flags=re.S | re.M):
        examples[heading] = json.loads(block)
    return examples


def shape(value: Any, path: str = "") -> dict[str, str]:
    """Every key path with its JSON type; null and a value count alike (fields may be unset)."""
    if isinstance(value, dict):
        out = {path or ".": "object"}
        for key, item in value.items():
            out.update(shape(item, f"{path}.{key}"))
        return out
    if isinstance(value, list):
        return {path: "array"}
    if value is None:
        return {path: "nullable"}
    if isinstance(value, bool):
        return {path: "boolean"}
    if isinstance(value, int | float):
        return {path: "number"}
    return {path: "string"}


def same_shape(sent: dict[str, Any], example: dict[str, Any]) -> list[str]:
    got, want = shape(sent), shape(example)
    unset = [path for path, kind in got.items() if kind == "nullable"]  # e.g. a check-in without a lead
    want = {k: v for k, v in want.items() if not any(k.startswith(f"{path}.") for path in unset)}
    problems = [f"{k}: sent but not documented" for k in sorted(set(got) - set(want))]
    problems += [f"{k}: documented but not sent" for k in sorted(set(want) - set(got))]
    problems += [f"{k}: sent {got[k]}, documented {want[k]}" for k in sorted(set(got) & set(want))
                 if "nullable" not in (got[k], want[k]) and got[k] != want[k]]
    return problems


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.ok()]


def start(tmp_path: Path, extra: str) -> RunningDaemon:
    d = RunningDaemon(tmp_path, numbers=(A,), extra_config=extra)
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    assert d.cli("rules", "import", str(tmp_path / "rules.toml")).returncode == 0
    assert d.cli("templates", "install", "event-check-in").returncode == 0
    now = datetime.now(UTC)
    made = d.cli("events", "create", "--name", "Grand Opening", "--number", A, "--slug", "grand-opening",
                 "--start", (now - timedelta(hours=1)).isoformat(), "--end", (now + timedelta(hours=5)).isoformat())
    assert made.returncode == 0, made.stderr
    d.start()
    d.pair(A)
    return d


def test_every_event_kind_arrives_as_documented_and_signed(tmp_path: Path) -> None:
    receiver = Receiver()
    url = receiver.start_in_thread()
    d = start(tmp_path, '\n[replies]\nmin_gap = "0s"\njitter = "0s"\n' + subscription(url))
    try:
        codes = d.cli("events", "codes", "grand-opening", "--generate", "2", "--json")
        code, by_hand = (row["code"] for row in json.loads(codes.stdout))
        assert d.send(A, sender=SARI, sender_name="Sari", text="halo kak")[0] == 201
        assert d.send(A, sender=SARI, sender_name="Sari", text="saya mau order")[0] == 201
        status, queued = d.request("POST", "/api/messages", {"to": SARI, "text": "Payment received Rp 1.500.000"})
        assert status == 202, queued
        assert d.send(A, sender=SARI, sender_name="Sari", text=f"CHECKIN {code}")[0] == 201
        status, manual = d.request("POST", "/api/events/grand-opening/checkins", {"code": by_hand})
        assert status == 201, manual
        status, _ = d.request("POST", f"/api/sessions/{A}/restart")
        d.wait_state(A, "CONNECTED")

        def seen() -> set[str]:
            return {b["type"] for b in bodies(receiver)}
        d.wait(lambda: set(ALL_EVENTS) <= seen(), timeout=40, what=f"every event kind (have {seen()})")
        d.wait(lambda: sum(b["type"] == "checkin.recorded" for b in bodies(receiver)) == 2, what="both check-ins")
        examples = documented()
        assert set(examples) == {*ALL_EVENTS, "webhook.test"}
        for body in bodies(receiver):
            problems = same_shape(body, examples[body["type"]])
            assert not problems, (body["type"], problems)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for body in bodies(receiver):
            by_type.setdefault(body["type"], []).append(body)
        assert len(by_type["lead.created"]) == 1 and by_type["lead.created"][0]["lead"]["phone"] == SARI
        assert [(b["from"], b["to"]) for b in by_type["lead.status_changed"]][0] == ("new", "hot")
        assert [b["message"]["text"] for b in by_type["message.sent"]] == ["Payment received Rp 1.500.000"]
        checkins = {(b["checkin"]["code"], b["checkin"]["source"]) for b in by_type["checkin.recorded"]}
        assert checkins == {(code, "whatsapp"), (by_hand, "manual")}
        assert {b["session"]["state"] for b in by_type["session.state_changed"]} >= {"CONNECTED"}
        for request in receiver.ok():  # the rule webhooks' signing scheme
            signed = request.headers["X-Wabridge-Timestamp"].encode() + b"." + request.body
            expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert request.headers["X-Wabridge-Signature"] == expected
            assert request.headers["X-Wabridge-Event-Id"] == json.loads(request.body)["id"]
        # Send test event, from the command line, to this subscription only.
        tested = d.cli("webhooks", "test", "crm", "--wait", "20")
        assert tested.returncode == 0, tested.stderr
        (test,) = [b for b in bodies(receiver) if b["type"] == "webhook.test"]
        assert not same_shape(test, examples["webhook.test"]) and test["subscription"] == "crm"
        # Activity lists the deliveries.
        status, entries = d.request("GET", "/api/outbox?kind=webhook&limit=1000")
        assert {e["target"] for e in entries} == {"subscription:crm"}
        assert all(e["signing"] == "signed" for e in entries)
    finally:
        d.stop()


def test_deliveries_survive_kill_9_with_the_same_event_ids(tmp_path: Path) -> None:
    receiver = Receiver(default=Reply(500))  # down: every attempt fails
    url = receiver.start_in_thread()
    extra = '\n[webhooks]\nretry_base = "300ms"\nretry_max = "600ms"\n' + subscription(
        url, events=["message.received", "lead.created"])
    d = start(tmp_path, extra)
    try:
        for n, text in enumerate(("halo", "ada ukuran 39?", "saya mau order")):
            assert d.send(A, sender=SARI, sender_name="Sari", text=text, id=f"KILL{n}")[0] == 201

        def attempted() -> set[str]:
            return {r.event_id for r in list(receiver.requests)}
        d.wait(lambda: len(attempted()) == 4, what="4 events attempted (3 messages, 1 lead created)")
        before = attempted()
        d.stop(signal.SIGKILL)
        receiver.default = Reply(200)
        d.start()
        d.wait(lambda: {r.event_id for r in receiver.ok()} == before, timeout=30, what="all delivered after restart")
        time.sleep(1.0)
        delivered = [r.event_id for r in receiver.ok()]
        assert sorted(delivered) == sorted(before)  # each once, the ids from before the kill
        texts = sorted(json.loads(r.body)["message"]["text"] for r in receiver.ok()
                       if json.loads(r.body)["type"] == "message.received")
        assert texts == sorted(["halo", "ada ukuran 39?", "saya mau order"])
    finally:
        d.stop()


def test_a_subscription_added_over_the_api_receives_and_can_be_removed(tmp_path: Path) -> None:
    receiver = Receiver()
    url = receiver.start_in_thread()
    d = start(tmp_path, "")
    try:
        status, made = d.request("POST", "/api/subscriptions", {"name": "sheet", "url": url,
                                                                "events": ["message.received"]})
        assert status == 201 and made["signed"] is False, made
        status, bad = d.request("POST", "/api/subscriptions", {"name": "x", "url": url, "events": ["nope"]})
        assert status == 400 and bad["error"]["field"] == "events"
        assert d.send(A, sender=SARI, text="halo")[0] == 201
        d.wait(lambda: [b["type"] for b in bodies(receiver)] == ["message.received"], what="the message event")
        d.stop()
        d.start()  # kept in SQLite
        status, listed = d.request("GET", "/api/subscriptions")
        assert [s["name"] for s in listed] == ["sheet"]
        status, _ = d.request("DELETE", "/api/subscriptions/sheet")
        assert status == 200
        assert d.request("GET", "/api/subscriptions")[1] == []
    finally:
        d.stop()
