"""The outbox in SQLite: lanes, reply cooldown, conversions once per lead, claims and
leases, restart recovery, retry and purge, and the m002 upgrade of an existing database."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from sqlite_utils import Database

from engine.actions import OutboxRequest
from engine.model import Lead, Message
from store.db import open_db
from store.errors import NotFoundError
from store.migrations import MIGRATIONS
from store.outbox import ConversionPolicy, OutboxPolicy, OutboxWriter, get_entry, list_outbox
from store.outbox_delivery import (
    INTERRUPTED,
    DeliveryResult,
    claim_due,
    mark_sending,
    purge,
    record_results,
    release_on_start,
    retry_dead,
    retry_entry,
)
from tests.outbox.conftest import ADMIN, lead, message, queue, webhook

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CLICKED = lead(ctwa_clid="ARAkLkA8rml", value_actual=1500000.0)
CONVERSIONS = OutboxPolicy(ConversionPolicy(on_status="purchase"))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_db(tmp_path / "wabridge.db")


def reply(text: str = "Halo", **extra: object) -> dict[str, object]:
    return {"session": ADMIN, "to": "6281234567890@s.whatsapp.net", "text": text, "in_reply_to": "M1", **extra}


def claim(db: Database, now: datetime = NOW, **kw: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {"limit": 10, "exclude": (), "lane_limits": {}, "default_lane_limit": 4,
                                  "lease": timedelta(minutes=1)}
    options.update(kw)
    return claim_due(db, now, **options)  # type: ignore[arg-type]


def test_lanes_per_endpoint_url_origin_reply_number_and_conversions(db: Database) -> None:
    queue(db, "webhook", webhook(endpoint="crm"), now=NOW)
    queue(db, "webhook", webhook("https://user:pw@Hooks.Example.com/a/b?x=1"), now=NOW)
    queue(db, "webhook", webhook("http://127.0.0.1:8080/h"), now=NOW)
    queue(db, "reply", reply(), now=NOW)
    queue(db, "conversion", {"event_name": "Purchase"}, the_lead=CLICKED, now=NOW, policy=CONVERSIONS)
    targets = [row["target"] for row in reversed(list_outbox(db))]
    assert targets == ["endpoint:crm", "url:https://hooks.example.com:443", "url:http://127.0.0.1:8080",
                       f"reply:{ADMIN}", "conversions"]


def test_reply_cooldown_is_per_lead_and_rule_and_ignores_dead_replies(db: Database) -> None:
    payload = reply(cooldown_hours=24)
    assert queue(db, "reply", payload, now=NOW)
    assert queue(db, "reply", payload, now=NOW + timedelta(hours=23)) == []  # within 24 h
    assert queue(db, "reply", payload, now=NOW + timedelta(hours=1), rule_id=8)  # another rule
    assert queue(db, "reply", payload, now=NOW + timedelta(hours=2), the_lead=lead(phone="6281999"))
    assert queue(db, "reply", payload, now=NOW + timedelta(hours=25))  # cooled down
    db.conn.execute("UPDATE outbox SET state = 'dead'")
    assert queue(db, "reply", payload, now=NOW + timedelta(hours=26))  # a dead reply was never sent


def test_conversions_need_config_and_an_ad_click_and_go_once_per_lead_and_event(db: Database) -> None:
    event = {"event_name": "Purchase"}
    assert queue(db, "conversion", event, the_lead=CLICKED) == []  # no [conversions]
    assert queue(db, "conversion", event, the_lead=lead(), policy=CONVERSIONS) == []  # no ctwa_clid
    assert len(queue(db, "conversion", event, the_lead=CLICKED, policy=CONVERSIONS)) == 1
    assert queue(db, "conversion", event, the_lead=CLICKED, policy=CONVERSIONS, inbox_id=99) == []
    assert len(queue(db, "conversion", {"event_name": "AddToCart"}, the_lead=CLICKED, policy=CONVERSIONS)) == 1
    (purchase,) = list_outbox(db, kind="conversion", limit=10)[1:]
    body = purchase["payload"]["body"]["data"][0]
    assert body["custom_data"] == {"currency": "IDR", "value": 1500000}


def test_reaching_on_status_queues_the_configured_event_once(db: Database) -> None:
    assert queue(db, "reply", reply(), the_lead=CLICKED, status_changes=(("hot", "purchase"),),
                 policy=CONVERSIONS)[1:]  # the reply and the automatic conversion
    assert queue(db, "reply", reply(), the_lead=CLICKED, status_changes=(("won", "purchase"),),
                 policy=CONVERSIONS, inbox_id=5)[1:] == []  # once per lead
    (conversion,) = list_outbox(db, kind="conversion")
    assert conversion["rule_id"] is None and conversion["idempotency_key"] == "conversion:6281234567890:Purchase"
    assert queue(db, "reply", reply(), the_lead=lead(phone="6281777", ctwa_clid="x"),
                 status_changes=(("new", "hot"),), policy=CONVERSIONS, inbox_id=6)[1:] == []


def test_claim_bounds_lanes_skips_excluded_and_leases(db: Database) -> None:
    for _ in range(5):
        queue(db, "webhook", webhook(endpoint="a"), now=NOW)
    queue(db, "webhook", webhook(endpoint="b"), now=NOW)
    queue(db, "webhook", webhook(endpoint="c"), now=NOW)
    queue(db, "webhook", webhook(endpoint="later"), now=NOW + timedelta(minutes=5))
    first = claim(db, lane_limits={"endpoint:a": 2}, exclude=["endpoint:c"])
    assert sorted(e.target for e in first.entries) == ["endpoint:a", "endpoint:a", "endpoint:b"]
    assert all(e.attempts == 1 for e in first.entries)
    assert first.next_due is not None and first.next_due > NOW
    again = claim(db, lane_limits={"endpoint:a": 2}, exclude=["endpoint:c"])
    assert sorted(e.target for e in again.entries) == ["endpoint:a", "endpoint:a"]  # leased ones skipped
    assert not {e.id for e in again.entries} & {e.id for e in first.entries}


def test_results_and_restart_recovery(db: Database) -> None:
    (hook,) = queue(db, "webhook", webhook(endpoint="a"), now=NOW)
    (sent_reply,) = queue(db, "reply", reply(), now=NOW)
    (waiting_reply,) = queue(db, "reply", reply("second"), now=NOW, inbox_id=2)
    claim(db)
    mark_sending(db, sent_reply, NOW)
    released, interrupted = release_on_start(db, NOW + timedelta(seconds=1))
    assert (released, interrupted) == (3, 1)
    assert get_entry(db, sent_reply)["state"] == "dead"  # type: ignore[index]
    assert get_entry(db, sent_reply)["last_error"] == INTERRUPTED  # type: ignore[index]
    assert {e.id for e in claim(db, NOW + timedelta(seconds=2)).entries} == {hook, waiting_reply}
    record_results(db, [DeliveryResult(hook, "failed", NOW, 500, "HTTP 500", "oops", NOW + timedelta(seconds=10)),
                        DeliveryResult(waiting_reply, "delivered", NOW, external_id="3EB0AA")])
    entry = get_entry(db, hook)
    assert entry is not None
    assert (entry["state"], entry["last_status"], entry["response_snippet"], entry["lease_until"]) == (
        "failed", 500, "oops", None)
    assert get_entry(db, waiting_reply)["external_id"] == "3EB0AA"  # type: ignore[index]


def test_retry_and_purge(db: Database) -> None:
    ids = [queue(db, "webhook", webhook(endpoint="a"), now=NOW, inbox_id=i)[0] for i in range(3)]
    claim(db)
    record_results(db, [DeliveryResult(ids[0], "dead", NOW, 404, "HTTP 404"),
                        DeliveryResult(ids[1], "delivered", NOW),
                        DeliveryResult(ids[2], "dead", NOW, 410, "HTTP 410")])
    with pytest.raises(NotFoundError):
        retry_entry(db, 999, NOW)
    with pytest.raises(ValueError, match="already delivered"):
        retry_entry(db, ids[1], NOW)
    later = NOW + timedelta(days=2)
    again = retry_entry(db, ids[0], later)
    assert (again["state"], again["attempts"], again["next_attempt_at"]) == ("pending", 0, later.isoformat(
        timespec="microseconds"))
    assert retry_dead(db, later) == 1
    assert purge(db, NOW + timedelta(days=1), ("delivered", "dead")) == 1  # only the delivered one is old
    assert purge(db, later + timedelta(days=9), ("pending",)) == 0  # waiting entries are never purged
    assert len(list_outbox(db)) == 2


def test_m002_upgrades_an_existing_outbox_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    old = Database(conn)
    MIGRATIONS.apply(old, stop_before="m002_outbox_delivery")
    rows = [("webhook", "k1", json.dumps({"endpoint": "crm"})), ("webhook", "k2", json.dumps({"url": "http://x/h"})),
            ("reply", "k3", json.dumps({"session": ADMIN}))]
    for kind, key, payload in rows:
        conn.execute("INSERT INTO outbox (kind, idempotency_key, payload, next_attempt_at, created_at, updated_at) "
                     "VALUES (?, ?, ?, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', "
                     "'2026-01-01T00:00:00+00:00')", (kind, key, payload))
    conn.commit()
    conn.close()
    db = open_db(path)
    assert [r["target"] for r in reversed(list_outbox(db))] == ["endpoint:crm", "url:http://x/h", f"reply:{ADMIN}"]
    assert len(claim(db).entries) == 3


def _expected_payload(fields: dict[str, object], event_id: str, *, the_lead: Lead, the_message: Message | None,
                      now: datetime, workspace: str, rule_id: int, rule_name: str) -> bytes:
    """The documented webhook payload (README "Webhook payload"), serialised whole."""
    body = {"id": event_id, "type": fields.get("event") or "rule.fired", "occurred_at": now.isoformat(),
            "workspace": workspace, "lead": the_lead.to_dict(),
            "message": the_message.to_dict() if the_message is not None else None,
            "rule": {"id": rule_id, "name": rule_name}}
    return orjson.dumps({**fields, "event_id": event_id, "body": body})


def test_webhook_payloads_are_byte_for_byte_the_documented_envelope() -> None:
    # Payloads are joined from pieces each rule's webhooks share (store.webhook_bodies.WebhookPieces):
    # every one must be exactly the envelope serialised whole, whatever its strings hold.
    odd = 'Sari "Kak" \\ \n\t\u0001 Ñoño 🙂 \u2028'
    jakarta = timezone(timedelta(hours=7))
    cases: list[tuple[dict[str, object], Lead, Message | None, datetime, str, str, bool]] = [
        (webhook("https://crm.example.com/hook"), lead(), message(), NOW, "Toko Test", "Test rule", True),
        (webhook("https://crm.example.com/hook"), lead(name=odd, tags=frozenset({"vip", "b"}), score=2.0,
                                                       value_actual=1500000.0), message(text=odd), NOW,
         "Toko Test", "Test rule", True),
        (webhook(endpoint="crm", secret="s3cret", event="lead.status_changed"), lead(), message(), NOW,
         odd, odd, False),
        (webhook("http://127.0.0.1:9/h"), lead(), None, NOW.astimezone(jakarta), "Toko Test", "Test rule", False),
        (webhook("http://127.0.0.1:9/h"), lead(), message(), NOW.astimezone(jakarta), "Toko Test", "Test rule", True),
        ({"url": "http://127.0.0.1:9/h", "event_id": "mine", "event": "rule.fired"}, lead(), message(), NOW,
         "Toko Test", "Test rule", True),  # a field the envelope sets: built the long way, same result
        ({}, lead(), message(), NOW, "Toko Test", "Test rule", False),
        # Equal values of other types, for the same rule in one batch: each its own JSON.
        ({"url": "http://127.0.0.1:9/h", "attempt": True}, lead(), message(), NOW, "Toko Test", "Same rule", False),
        ({"url": "http://127.0.0.1:9/h", "attempt": 1}, lead(), message(), NOW, "Toko Test", "Same rule", False),
        ({"url": "http://127.0.0.1:9/h", "attempt": 1.0}, lead(), message(), NOW, "Toko Test", "Same rule", False),
        ({"url": "http://127.0.0.1:9/h", "tags": ["a", "b"]}, lead(), message(), NOW, "Toko Test", "Same rule", False),
    ]
    writer = OutboxWriter(None)  # type: ignore[arg-type]  # webhooks read nothing
    for index, (fields, the_lead, the_message, now, workspace, rule_name, embed) in enumerate(cases):
        message_json = orjson.dumps(the_message.to_dict()).decode() if embed and the_message else None
        for repeat in range(2):  # the second one from the rule's pieces as kept
            rule_id = 99 if rule_name == "Same rule" else 7 + index
            writer.add([OutboxRequest("webhook", rule_id, rule_name, fields)], lead=the_lead, message=the_message,
                       inbox_id=100 * index + repeat, workspace=workspace, now=now, message_json=message_json)
            payload = writer.rows[-1][5]
            event_id = orjson.loads(payload)["body"]["id"]
            assert event_id.startswith("evt_") and len(event_id) == 36
            assert payload == _expected_payload(fields, event_id, the_lead=the_lead, the_message=the_message,
                                                now=now, workspace=workspace, rule_id=rule_id, rule_name=rule_name)
    assert len({row[5] for row in writer.rows}) == len(writer.rows)  # each its own event id


def test_one_request_queued_again_carries_each_events_own_time_and_workspace() -> None:
    # Send Webhook hands its rule's one request to every message (engine.actions.outbound) and
    # the writer knows it again; each payload must still say its own time (an equal instant in
    # another zone included) and workspace.
    request = OutboxRequest("webhook", 7, "Test rule", webhook("https://crm.example.com/hook"))
    jakarta = timezone(timedelta(hours=7))
    writer = OutboxWriter(None)  # type: ignore[arg-type]  # webhooks read nothing
    times = [(NOW, "Toko Test"), (NOW, "Toko Test"), (NOW.astimezone(jakarta), "Toko Test"),
             (NOW + timedelta(seconds=1), "Toko Test"), (NOW, "Toko Lain"), (NOW, "Toko Test")]
    for index, (now, workspace) in enumerate(times):
        writer.add([request], lead=lead(), message=message(), inbox_id=index + 1, workspace=workspace, now=now)
        payload = writer.rows[-1][5]
        event_id = orjson.loads(payload)["body"]["id"]
        assert payload == _expected_payload(request.payload, event_id, the_lead=lead(), the_message=message(),
                                            now=now, workspace=workspace, rule_id=7, rule_name="Test rule")
