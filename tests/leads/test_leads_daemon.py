"""Lead changes against the real daemon (`wabridge run --simulate` subprocesses): a PATCH
answered 200 survives kill -9 with its rule effects exactly once; the CLI works with the
daemon running (the daemon applies the change) and stopped (the CLI does); a change and a
message for the same lead both apply."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
CUSTOMER = "6281234567890"
A = NUMBERS[0]
CLOSED_BY_PERSON = {
    "name": "Closed by a person", "trigger": "lead.status_changed",
    "conditions": [{"field": "change.by", "op": "in_list", "value": "api, cli"},
                   {"field": "status.to", "op": "equal", "value": "purchase"}],
    "actions": [{"type": "add_tag", "tag": "closed-by-person"},
                {"type": "send_webhook", "url": "https://crm.example/hook", "event": "lead.purchase"}],
}


def _count(daemon: RunningDaemon, sql: str, *params: object) -> int:
    with sqlite3.connect(daemon.data / "wabridge.db") as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def test_a_patch_answered_200_survives_kill_9_once(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path).start()
    try:
        status, body = daemon.request("POST", "/api/rules", CLOSED_BY_PERSON)
        assert status == 201, body
        status, body = daemon.request("POST", "/api/leads", {"phone": "0812-3456-7890", "name": "Sari"})
        assert status == 201, body
        status, body = daemon.request("PATCH", f"/api/leads/{CUSTOMER}", {"status": "purchase", "notes": "lunas"})
        assert status == 200, body
        daemon.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        daemon.proc.wait(30)  # type: ignore[union-attr]
        daemon.log.close()
        daemon.start()
        lead = daemon.leads(phone=CUSTOMER)[0]
        assert lead["status"] == "purchase" and lead["notes"] == "lunas" and "closed-by-person" in lead["tags"]
        assert _count(daemon, "SELECT COUNT(*) FROM rule_runs WHERE rule_name = ? AND fired = 1",
                      CLOSED_BY_PERSON["name"]) == 1
        assert _count(daemon, "SELECT COUNT(*) FROM outbox WHERE lead_phone = ? AND kind = 'webhook'", CUSTOMER) == 1
        assert _count(daemon, "SELECT COUNT(*) FROM inbox WHERE state = 'pending'") == 0
        status, detail = daemon.request("GET", f"/api/leads/{CUSTOMER}")
        assert [c["who"] for c in detail["changes"]] == ["by rule Closed by a person", "by the API", "by the API"]

        # A message and a change for the same lead, back to back: both apply.
        daemon.pair(A)
        assert daemon.send(A, sender=CUSTOMER, text="halo lagi", sender_name="Sari")[0] == 201
        status, body = daemon.request("PATCH", f"/api/leads/{CUSTOMER}", {"city": "Bandung"})
        assert status == 200 and body["lead"]["city"] == "Bandung" and body["lead"]["chat_count"] == 1, body
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)


def test_cli_changes_leads_with_the_daemon_running_and_stopped(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path).start()
    try:
        assert daemon.request("POST", "/api/rules", CLOSED_BY_PERSON)[0] == 201
        created = daemon.cli("leads", "create", "+62 812 3456 7890", "--name", "Budi", "--city", "Solo")
        assert created.returncode == 0, created.stderr
        lead = daemon.leads(phone=CUSTOMER)[0]  # the running daemon applied it
        assert lead["name"] == "Budi" and lead["city"] == "Solo"
        changed = daemon.cli("leads", "set", CUSTOMER, "--status", "purchase", "--add-tag", "vip")
        assert changed.returncode == 0, changed.stderr
        assert "'Closed by a person' (lead.status_changed): fired" in changed.stderr
        assert {"vip", "closed-by-person"} <= set(daemon.leads(phone=CUSTOMER)[0]["tags"])
        bad = daemon.cli("leads", "set", CUSTOMER, "--status", "famous")
        assert bad.returncode == 2 and "status: 'famous' is not one of" in bad.stderr
        assert daemon.stop() == 0

        # Stopped: the command applies the change itself.
        changed = daemon.cli("leads", "set", CUSTOMER, "--note", "datang ke toko", "--field", "priority=urgent")
        assert changed.returncode == 0, changed.stderr
        csv_file = tmp_path / "leads.csv"
        csv_file.write_text("nama,whatsapp,kota\nDewi,0813-1111-2222,Medan\n", encoding="utf-8")
        imported = daemon.cli("leads", "import", str(csv_file))
        assert imported.returncode == 0 and "created 1, updated 0, unchanged 0" in imported.stdout, imported
        deleted = daemon.cli("leads", "delete", "6281311112222", "--yes")
        assert deleted.returncode == 0, deleted.stderr
        daemon.start()
        lead = daemon.leads(phone=CUSTOMER)[0]
        assert lead["notes"] == "datang ke toko" and lead["priority"] == "urgent"
        assert daemon.leads(phone="6281311112222") == []
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)
