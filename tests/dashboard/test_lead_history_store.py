"""The lead page's data on a real SQLite file: messages, rule runs and the value/status history."""

from __future__ import annotations

from pathlib import Path

from engine.model import parse_message
from store.db import open_db
from store.inbox import ingest, messages_of_lead
from store.leads import lead_changes
from store.runs import recent_runs
from tests.conftest import Clock, message
from tests.store.test_guarantees import processor, seed_rules

PHONE = "6281234567890"


def test_payment_message_shows_in_the_lead_history(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    ingest(db, parse_message(message(id="H1", text="halo kak")), clock())
    ingest(db, parse_message(message(id="P1", text="Payment received Rp 250.000, terima kasih")), clock())
    processor(db, ruleset, clock).run()

    changes = lead_changes(db, PHONE)
    assert changes, "the payment changed the lead"
    merged = {field: pair for change in changes for field, pair in change["changes"].items()}
    assert merged["status"][1] == "purchase"
    assert merged["value_actual"][1] == 250000
    assert lead_changes(db, "6289999999999") == []

    messages = messages_of_lead(db, PHONE)
    assert [m["id"] for m in messages] == ["P1", "H1"]  # newest first
    assert changes[-1]["changes"] == {"created": [None, "new"]}
    runs = recent_runs(db, lead_phone=PHONE)
    assert any(run["fired"] and run["rule_name"].startswith("Auto-Closing") for run in runs)
