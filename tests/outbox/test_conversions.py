"""Conversion events (Sync CTWA): the action, automatic queueing on a status, the documented
Conversions API body (checked field for field against the README), delivery with the token."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.errors import RuleSetError
from engine.model import DEFAULT_STATUSES, Workspace
from engine.rules import default_env, parse_rules
from store.db import open_db
from store.inbox import ingest
from store.outbox import ConversionPolicy, OutboxPolicy, list_outbox
from store.processor import Processor
from store.rules import save_rules
from tests.conftest import JAKARTA, ROOT
from tests.conftest import message as raw_message
from tests.outbox.conftest import FAST, Services, Store, make_config, settled
from tests.outbox.receiver import Receiver

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CLID = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0"
RULES = [
    {"name": "Capture payment", "sender": "all", "priority": 10,
     "conditions": [{"field": "message.text", "op": "contains", "value": "payment received"}],
     "actions": [{"type": "update_value", "preset": "rupiah_flexible"}, {"type": "set_status", "status": "purchase"},
                 {"type": "conversion_event", "event_name": "Purchase"}]},
]


def documented_body() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"business_messaging"' in b)
    return json.loads(block)  # type: ignore[no-any-return]


def run_conversation(tmp_path: Path, policy: OutboxPolicy, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A CTWA customer writes, CS confirms the payment; returns the queued conversion entries."""
    db = open_db(tmp_path / "w.db")
    save_rules(db, parse_rules({"rules": rules}, default_env(DEFAULT_STATUSES)), NOW)
    processor = Processor(db, _ruleset(db), Workspace("Toko", JAKARTA, DEFAULT_STATUSES), lambda: NOW)
    processor.outbox_policy = policy
    referral = {"ctwa_clid": CLID, "source_id": "120210000000", "source_type": "ad",
                "source_url": "https://fb.me/ad"}
    ingest(db, _parse(raw_message(id="M1", text="halo kak", referral=referral)), NOW)
    ingest(db, _parse(raw_message(id="M2", from_me=True, text="Payment received Rp 1.500.000")), NOW)
    ingest(db, _parse(raw_message(id="M3", from_me=True, text="payment received, thank you")), NOW)
    processor.run()
    return list_outbox(db, kind="conversion")


def _parse(raw: dict[str, Any]):  # type: ignore[no-untyped-def]
    from engine.model import parse_message

    return parse_message(raw)


def _ruleset(db: Any):  # type: ignore[no-untyped-def]
    from engine.ruleset import RuleSet
    from store.rules import load_rules

    return RuleSet(load_rules(db, default_env(DEFAULT_STATUSES)).rules, DEFAULT_STATUSES)


def _same_shape(actual: Any, documented: Any, path: str = "body") -> None:
    assert type(actual) is type(documented), path
    if isinstance(documented, dict):
        assert set(actual) == set(documented), f"{path}: {sorted(actual)} vs {sorted(documented)}"
        for key in documented:
            _same_shape(actual[key], documented[key], f"{path}.{key}")
    elif isinstance(documented, list):
        assert len(actual) == len(documented), path
        for index, (a, d) in enumerate(zip(actual, documented, strict=True)):
            _same_shape(a, d, f"{path}[{index}]")


def test_the_conversion_body_matches_the_documented_shape_field_for_field(tmp_path: Path) -> None:
    (entry,) = run_conversation(tmp_path, OutboxPolicy(ConversionPolicy()), RULES)  # the 2nd payment: once
    body, documented = entry["payload"]["body"], documented_body()
    _same_shape(body, documented)
    event, doc_event = body["data"][0], documented["data"][0]
    assert re.fullmatch(r"conv_[0-9a-f]{32}", event["event_id"]) and event["event_id"] == entry["event_id"]
    event["event_id"] = doc_event["event_id"]
    assert body == documented  # every value: time, click id, hashed phone, value, currency
    assert entry["idempotency_key"] == "conversion:6281234567890:Purchase" and entry["target"] == "conversions"


def test_on_status_queues_automatically_and_nothing_without_config(tmp_path: Path) -> None:
    set_status_only = [{**RULES[0], "actions": RULES[0]["actions"][:2]}]
    auto = OutboxPolicy(ConversionPolicy(on_status="purchase", event_name="Purchase"))
    (entry,) = run_conversation(tmp_path / "a", auto, set_status_only)
    assert entry["payload"]["body"]["data"][0]["custom_data"] == {"currency": "IDR", "value": 1500000}
    assert run_conversation(tmp_path / "b", OutboxPolicy(), RULES) == []  # no [conversions]: nothing


def test_the_action_is_validated_and_round_trips() -> None:
    env = default_env(DEFAULT_STATUSES)
    (rule,) = parse_rules({"rules": [{"name": "c", "actions": [
        {"type": "conversion_event", "event_name": "Purchase", "value_from": "value_potential"}]}]}, env)
    assert rule.to_dict()["actions"] == [
        {"type": "conversion_event", "event_name": "Purchase", "value_from": "lead.value_potential"}]
    for bad, path in [({"type": "conversion_event"}, "rules[0].actions[0].event_name"),
                      ({"type": "conversion_event", "event_name": "Purchase", "value_from": "name"},
                       "rules[0].actions[0].value_from")]:
        with pytest.raises(RuleSetError) as info:
            parse_rules({"rules": [{"name": "c", "actions": [bad]}]}, env)
        assert info.value.errors[0].path == path


async def test_delivered_with_the_bearer_token_which_is_never_stored(tmp_path: Path, store: Store,
                                                                     services: Services, receiver: Receiver) -> None:
    token = "EAAGtokenvalue" * 4
    from tests.outbox.conftest import lead, queue

    policy = OutboxPolicy(ConversionPolicy())
    (entry_id,) = await store.call(queue, "conversion", {"event_name": "Purchase"},
                                   the_lead=lead(ctwa_clid=CLID, value_actual=250000.0), policy=policy)
    config = make_config(tmp_path, webhooks=FAST, conversions={"url": receiver.url, "access_token": token})
    await services(config)
    entry = await settled(store, entry_id)
    assert entry["state"] == "delivered"
    (request,) = receiver.requests
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert "X-Wabridge-Signature" not in request.headers
    assert json.loads(request.body) == entry["payload"]["body"]
    await store.call(lambda db: db.conn.execute("PRAGMA wal_checkpoint(FULL)"))
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("wabridge.db*"))
    assert token.encode() not in stored
