"""History sync through a real `wabridge run --simulate`: stored behind live messages, no rules,
deduplicated with live by message id, progress in /api/sessions, and a worker crash mid-sync
that loses nothing and counts nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
A = "6281100000001"
SARI, BUDI, OLD = "6281200000001", "6281200000002", "6281200000003"


def msg(msg_id: str, phone: str, at: datetime, text: str, *, from_me: bool = False,
        name: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": msg_id, "chat": phone, "timestamp": at.isoformat(), "text": text, "from_me": from_me}
    if not from_me:
        item["sender"] = phone
        item["sender_name"] = name
    return item


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    running = RunningDaemon(tmp_path, numbers=(A,))
    assert running.cli("templates", "install", "identify-hot-lead", "auto-closing").returncode == 0
    running.start()
    running.pair(A)
    yield running
    running.stop()


def test_history_fills_leads_without_firing_a_rule_and_counts_once(daemon: RunningDaemon) -> None:
    now = datetime.now(UTC)
    status, _ = daemon.send(A, id="LIVE1", sender=SARI, text="halo kak", sender_name="Sari")
    assert status == 201
    week = now - timedelta(days=7)
    chunk = [
        msg("H1", SARI, week, "mau order paket A", name="Sari"),  # "order": Identify Hot Lead, were it live
        msg("H2", SARI, week + timedelta(minutes=5), "Payment received Rp 1.500.000", from_me=True),
        msg("LIVE1", SARI, now, "halo kak", name="Sari"),  # seen live already
        msg("H3", BUDI, week + timedelta(days=1), "harga berapa?", name="Budi"),
        msg("H4", OLD, now - timedelta(days=200), "very old"),  # past max_age_days = 90
    ]
    status, body = daemon.request("POST", f"/sim/{A}/history", {"messages": chunk, "sync_type": "initial_bootstrap"})
    assert status == 202, body
    daemon.wait(lambda: (daemon.session(A)["history"] or {}).get("messages") == 3, what="history stored")
    history = daemon.session(A)["history"]
    assert (history["messages"], history["chats"], history["too_old"]) == (3, 2, 1)
    assert history["sync_type"] == "initial_bootstrap" and history["words"] == "3 messages from 2 chats"
    status, page = daemon.request("GET", "/numbers")
    assert status == 200 and b"3 messages from 2 chats" in page
    leads = {lead["phone"]: lead for lead in daemon.leads()}
    sari = leads[SARI]
    # No rule fired on history: still New, no value captured, no webhook or reply queued.
    assert sari["status"] == "new" and sari["value_actual"] is None
    assert sari["chat_count"] == 2  # live "halo kak" + history "mau order" (LIVE1 counted once)
    assert datetime.fromisoformat(sari["created_at"]) == week  # first seen: the oldest message
    assert leads[BUDI]["name"] == "Budi" and leads[BUDI]["chat_count"] == 1
    assert OLD not in leads
    status, detail = daemon.request("GET", f"/api/leads/{SARI}")
    assert status == 200
    kinds = sorted((m["id"], bool(m.get("history")), m["from_me"]) for m in detail["messages"])
    assert kinds == [("H1", True, False), ("H2", True, True), ("LIVE1", False, False)]
    assert [r for r in detail["runs"] if r["fired"]] == []


def test_a_worker_crash_mid_sync_loses_nothing_and_repeats_nothing(daemon: RunningDaemon) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    chunks = [[msg(f"C{c}-{i}", f"62812300{c:05d}", start + timedelta(minutes=i), f"pesan {i}", name=f"Pelanggan {c}")
               for i in range(50)] for c in range(30)]
    for chunk in chunks[:20]:  # 1,000 messages from 20 chats
        assert daemon.request("POST", f"/sim/{A}/history", {"messages": chunk, "sync_type": "recent"})[0] == 202
    status, _ = daemon.request("POST", f"/sim/{A}/crash")
    assert status == 202
    daemon.wait(lambda: daemon.session(A)["restarts"] >= 1, what="worker restarted")
    daemon.wait_state(A, "CONNECTED")
    for chunk in chunks[10:]:  # the phone sends part of it again, and more
        assert daemon.request("POST", f"/sim/{A}/history", {"messages": chunk, "sync_type": "recent"})[0] == 202
    daemon.wait(lambda: (daemon.session(A)["history"] or {}).get("messages") == 1500, timeout=60,
                what="all history stored")
    history = daemon.session(A)["history"]
    assert (history["messages"], history["chats"]) == (1500, 30)
    leads = daemon.leads()
    assert len(leads) == 30 and {lead["chat_count"] for lead in leads} == {50}


@pytest.mark.parametrize(("config", "stored", "status"), [
    ("[history]\nrun_rules = true\n", 2, "purchase"),  # through the rules, in time order
    ("[history]\nenabled = false\n", 0, None),  # dropped (and acked): no lead, no count
])
def test_history_settings_run_rules_or_switch_it_off(tmp_path: Path, config: str, stored: int,
                                                      status: str | None) -> None:
    daemon = RunningDaemon(tmp_path, numbers=(A,), extra_config=config)
    assert daemon.cli("templates", "install", "auto-closing").returncode == 0
    daemon.start()
    try:
        daemon.pair(A)
        week = datetime.now(UTC) - timedelta(days=7)
        chunk = [msg("R2", SARI, week + timedelta(minutes=5), "Payment received Rp 1.500.000", from_me=True),
                 msg("R1", SARI, week, "mau order", name="Sari")]  # out of order: stored in time order
        assert daemon.request("POST", f"/sim/{A}/history", {"messages": chunk})[0] == 202
        if stored:
            daemon.wait(lambda: (daemon.session(A)["history"] or {}).get("messages") == stored, what="stored")
            (sari,) = daemon.leads()
            assert sari["status"] == status and sari["value_actual"] == 1500000
            assert datetime.fromisoformat(sari["created_at"]) == week
        else:
            daemon.wait(lambda: "history_sync_ignored" in daemon.logs(), what="history ignored")
            assert daemon.session(A)["history"] is None and daemon.leads() == []
    finally:
        daemon.stop()
