"""The dashboard's read routes against the real daemon (`wabridge run --simulate`)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
CUSTOMER = "6281234567890"
A = NUMBERS[0]


def test_lead_page_and_activity_show_what_the_rules_did(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path)
    installed = daemon.cli("templates", "install", "identify-hot-lead")
    assert installed.returncode == 0, installed.stderr
    daemon.start()
    try:
        # A template installed through the dashboard's API is live at once (the daemon reloads).
        status, body = daemon.request("POST", "/api/rules/templates/install", {"slugs": ["auto-closing"]})
        assert status == 201 and body["reloaded"] == {"rules": 2, "invalid": []}, body
        status, body = daemon.request("POST", "/api/rules", {"name": "x", "actions": [
            {"type": "set_status", "status": "famous"}]})
        assert status == 400 and body["error"]["field"] == "actions[0].status", body
        daemon.wait_state(A, "SCAN_QR")
        daemon.pair(A)
        assert daemon.send(A, sender=CUSTOMER, text="halo kak", sender_name="Sari")[0] == 201
        assert daemon.send(A, chat=CUSTOMER, from_me=True, text="Payment received Rp 1.500.000")[0] == 201
        daemon.wait(lambda: [lead["status"] for lead in daemon.leads(phone=CUSTOMER)] == ["purchase"],
                    what="purchase")

        status, detail = daemon.request("GET", f"/api/leads/{CUSTOMER}")
        assert status == 200, detail
        assert detail["lead"]["value_actual"] == 1500000
        assert [m["text"] for m in detail["messages"]] == ["Payment received Rp 1.500.000", "halo kak"]
        assert any(run["fired"] and run["rule_name"].startswith("Auto-Closing") for run in detail["runs"])
        changes = {field: pair for change in detail["changes"] for field, pair in change["changes"].items()}
        assert changes["status"] == ["new", "purchase"] and changes["value_actual"][1] == 1500000

        status, runs = daemon.request("GET", "/api/runs?limit=5")
        assert status == 200 and runs and runs[0]["lead_phone"] == CUSTOMER
        assert daemon.request("GET", "/api/runs?errors=true")[1] == []
        assert daemon.request("GET", "/api/leads/6289999999999")[0] == 404

        status, page = daemon.request("GET", f"/leads/{CUSTOMER}")
        assert status == 200 and b"new \xe2\x86\x92 purchase" in page
        status, csv = daemon.request("GET", "/api/leads.csv?status=purchase")
        assert status == 200 and CUSTOMER.encode() in csv
        for path in ("/numbers", "/leads", "/activity"):
            assert daemon.request("GET", path)[0] == 200, path
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)
