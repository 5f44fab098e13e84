"""End to end: a rotator click through the real daemon's HTTP server, the pre-filled message
through the simulator, the attributed lead and the campaign rule firing on that very message;
then a partner webhook from the same phone joining the same lead."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from bridge.partners.signatures import CLOUD_HEADER, sign
from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
A, B = NUMBERS
CUSTOMER = "6281234567890"
APP_SECRET = "e2e-app-secret-0123456789abcdef"
PHONE = "Mozilla/5.0 (Linux; Android 13; SM-A045F) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
CONFIG = f"""
[attribution]
rate_limit_per_minute = 20

[rotators.default]
greeting = "Halo kak, saya mau tanya promo {{code}}"

[partners.whatsapp_cloud]
app_secret = "{APP_SECRET}"
verify_token = "e2e-verify-token"
"""
RULES = {"rules": [
    {"name": "Ramadan lead", "trigger": "lead.created",
     "conditions": [{"field": "lead.utm_campaign", "op": "equal", "value": "ramadan-promo"}],
     "actions": [{"type": "add_tag", "tag": "ramadan"}]},
    {"name": "Campaign first message", "trigger": "message.received",
     "conditions": [{"field": "lead.utm_campaign", "op": "equal", "value": "ramadan-promo"},
                    {"field": "message.first_contact", "op": "equal", "value": True}],
     "actions": [{"type": "set_field", "field": "priority", "value": "high"}]},
]}


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    running = RunningDaemon(tmp_path, extra_config=CONFIG)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    imported = running.cli("rules", "import", str(rules))
    assert imported.returncode == 0, imported.stderr
    running.start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop(signal.SIGKILL)


def test_click_to_lead_with_campaign_and_partner_on_the_same_lead(daemon: RunningDaemon) -> None:
    daemon.pair(A)  # B stays unpaired: never chosen
    query = urlencode({"utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "ramadan-promo",
                       "utm_term": "sepatu", "utm_content": "video-1", "fbclid": "IwAR0e2e"})
    status, headers, _ = daemon.get_unfollowed(f"/r/default?{query}", {
        "User-Agent": PHONE, "Referer": "https://toko.example/ramadan"})
    assert status == 302, headers
    link = urlsplit(headers["Location"])
    assert (link.scheme, link.netloc, link.path) == ("https", "wa.me", f"/{A}")
    text = parse_qs(link.query)["text"][0]
    assert text.startswith("Halo kak, saya mau tanya promo [K-")
    code = text[-7:-1]

    # The customer presses send in WhatsApp: the pre-filled text reaches the admin number.
    status, body = daemon.send(A, sender=CUSTOMER, text=text, sender_name="Sari")
    assert status == 201, body
    daemon.wait(lambda: bool(daemon.leads(phone=CUSTOMER)) and daemon.leads(phone=CUSTOMER)[0]["priority"] == "high",
                what="the attributed lead")
    (lead,) = daemon.leads(phone=CUSTOMER)
    assert (lead["source"], lead["utm_source"], lead["utm_medium"], lead["utm_campaign"], lead["utm_term"],
            lead["utm_content"], lead["fbclid"]) == (
        "ads", "facebook", "cpc", "ramadan-promo", "sepatu", "video-1", "IwAR0e2e")
    assert lead["tags"] == ["ramadan"] and lead["chat_count"] == 1

    status, visitors = daemon.request("GET", f"/api/visitors?code={code}")
    assert status == 200 and visitors[0]["state"] == "upgraded" and visitors[0]["lead_phone"] == CUSTOMER
    status, rotators = daemon.request("GET", "/api/rotators")
    numbers = {n["number"]: n for n in rotators[0]["numbers"]}
    assert (numbers[A]["clicks"], numbers[A]["visitors"], numbers[A]["upgraded"]) == (1, 1, 1)
    assert numbers[B]["clicks"] == 0 and numbers[B]["connected"] is False

    # The same phone writes through the official API: one lead, every rule applies.
    payload = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN-E2E"},
            "contacts": [{"profile": {"name": "Sari"}, "wa_id": CUSTOMER}],
            "messages": [{"from": CUSTOMER, "id": "wamid.E2E1", "timestamp": "1763866800", "type": "text",
                          "text": {"body": "sudah transfer kak"}}]}}]}]}).encode()
    status, refused = daemon.request("POST", "/hooks/whatsapp_cloud/main", auth=False,
                                     body=None, headers={CLOUD_HEADER: "sha256=bad"})
    assert status == 401, refused
    request = urllib.request.Request(
        f"http://127.0.0.1:{daemon.port}/hooks/whatsapp_cloud/main", data=payload, method="POST",
        headers={CLOUD_HEADER: sign(APP_SECRET, payload), "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read())["accepted"] == 1
    daemon.wait(lambda: daemon.leads(phone=CUSTOMER)[0]["chat_count"] == 2, what="partner message on the lead")
    assert len(daemon.leads()) == 1

    status, partners = daemon.request("GET", "/api/partners")
    assert status == 200 and partners[0]["active"] is True and partners[0]["refused"] == 1
    listed = daemon.cli("rotators", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["upgraded"] == 1
    assert "whatsapp_cloud/main: active" in daemon.cli("partners", "list").stdout
