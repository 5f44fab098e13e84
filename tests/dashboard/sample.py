"""A little shop's worth of leads, messages, rule runs and outbox entries for the fake control."""

from __future__ import annotations

from typing import Any

from tests.http.fake_control import FakeControl

HOT = "6281200000002"
NEW = "6281200000003"


def lead(phone: str, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"phone": phone, "jid": f"{phone}@s.whatsapp.net", "status": "new", "name": None,
                            "source": None, "utm_campaign": None, "value_actual": None, "tags": [],
                            "chat_count": 1, "created_at": "2026-11-23T03:00:00+00:00",
                            "updated_at": "2026-11-23T03:00:00+00:00"}
    return base | values


def run(run_id: int, phone: str, rule: str, *, fired: bool, error: str | None = None,
        notes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": run_id, "at": "2026-11-23T03:05:00+00:00", "rule_id": run_id, "rule_name": rule,
            "trigger": "message.received", "inbox_id": run_id, "lead_phone": phone, "fired": fired,
            "error": error, "notes": list(notes), "lead_jid": f"{phone}@s.whatsapp.net"}


def fill(control: FakeControl) -> FakeControl:
    control.leads = [
        lead(HOT, name="Sari Dewi", status="hot", source="meta_ads", utm_campaign="promo-desember",
             value_actual=250000, chat_count=4, tags=["vip"], updated_at="2026-11-23T03:05:00+00:00"),
        lead(NEW, status="new", source="organic"),
    ]
    control.runs = [
        run(3, HOT, "Auto-Closing & Capture Value (Regex)", fired=False,
            error="update_value: no amount found in the message"),
        run(2, HOT, "Identify Hot Lead (Keyword)", fired=True,
            notes=("set_status: new -> hot", "add_tag: +vip", "adjust_score: score 0 -> 10")),
        run(1, NEW, "Mark Active Lead (CTWA)", fired=False),
    ]
    control.lead_history[HOT] = {
        "messages": [
            {"id": "M2", "from_me": False, "type": "text", "text": "mau order 2 ya kak",
             "timestamp": "2026-11-23T03:05:00+00:00", "state": "done", "error": None, "fired": 1},
            {"id": "M1", "from_me": True, "type": "text", "text": "Halo kak, ada yang bisa dibantu?",
             "timestamp": "2026-11-23T03:01:00+00:00", "state": "done", "error": None, "fired": 0},
        ],
        "changes": [
            {"at": "2026-11-23T03:05:00+00:00", "inbox_id": 2, "changes": {"status": ["responded", "hot"]}},
            {"at": "2026-11-23T03:00:00+00:00", "inbox_id": 1, "changes": {"created": [None, "new"]}},
        ],
    }
    return control
