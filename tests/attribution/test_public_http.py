"""The public routes through a real aiohttp server: no token, their own protections instead."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from bridge.partners.signatures import CLOUD_HEADER, sign
from tests.attribution.services import CLOUD_SECRET, VERIFY_TOKEN, make_services
from tests.http.conftest import BEARER, Serve
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"}


async def test_rotator_link_redirects_to_a_connected_number_with_the_code(client: TestClient,
                                                                          control: FakeControl) -> None:
    control.connect(OTHER_ADMIN)
    response = await client.get("/r/default?utm_source=google&utm_campaign=brand&gclid=Cj0KCQ",
                                headers={**PHONE, "Authorization": "Bearer wrong"}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Cache-Control"] == "no-store"
    link = urlsplit(response.headers["Location"])
    assert (link.netloc, link.path) == ("wa.me", f"/{OTHER_ADMIN}")
    text = parse_qs(link.query)["text"][0]
    assert text.startswith("Halo kak, saya mau tanya [K-") and text.endswith("]")
    visitors = await (await client.get("/api/visitors", headers=BEARER)).json()
    assert [(v["code"], v["source"], v["utm_campaign"], v["gclid"], v["number"]) for v in visitors] == [
        (text[-7:-1], "ads", "brand", "Cj0KCQ", OTHER_ADMIN)]
    rotators = await (await client.get("/api/rotators", headers=BEARER)).json()
    default = next(r for r in rotators if r["rotator"] == "default")
    numbers = {n["number"]: n for n in default["numbers"]}
    assert numbers[OTHER_ADMIN]["clicks"] == 1 and numbers[OTHER_ADMIN]["visitors"] == 1
    assert numbers[OTHER_ADMIN]["connected"] is True and numbers[ADMIN]["connected"] is False


async def test_nobody_connected_is_a_clear_503_page(client: TestClient) -> None:
    response = await client.get("/r/default", headers=PHONE, allow_redirects=False)
    assert response.status == 503 and response.headers["Retry-After"] == "30"
    assert "text/html" in response.headers["Content-Type"]
    assert "try again" in await response.text()


async def test_unknown_rotator_is_404(client: TestClient) -> None:
    response = await client.get("/r/nope", headers=PHONE, allow_redirects=False)
    assert response.status == 404 and "text/html" in response.headers["Content-Type"]


async def test_bots_and_link_checkers_are_redirected_without_a_visitor(client: TestClient,
                                                                      control: FakeControl) -> None:
    control.connect(ADMIN)
    bot = await client.get("/r/default", headers={"User-Agent": "WhatsApp/2.23.20.0"}, allow_redirects=False)
    assert bot.status == 302 and "K-" not in bot.headers["Location"]
    head = await client.head("/r/default", headers=PHONE, allow_redirects=False)
    assert head.status == 302 and "K-" not in head.headers["Location"]
    assert await (await client.get("/api/visitors", headers=BEARER)).json() == []


async def test_rate_limit_per_client_address(serve: Serve) -> None:
    control = FakeControl(simulate=True)
    control.connect(ADMIN)
    control.attribution = make_services(
        overrides={"attribution": {"rate_limit_per_minute": 3, "trusted_proxies": ["127.0.0.1"]}},
        connected=lambda phone: phone == ADMIN).attribution
    client = await serve(control)
    statuses = [(await client.get("/r/default", headers=PHONE, allow_redirects=False)).status for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    limited = await client.get("/r/default", headers=PHONE, allow_redirects=False)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    # Behind the trusted proxy (127.0.0.1 here), each forwarded client has its own budget.
    other = await client.get("/r/default", headers={**PHONE, "X-Forwarded-For": "198.51.100.7"},
                             allow_redirects=False)
    assert other.status == 302


async def test_partner_hook_refuses_bad_signatures_and_accepts_good_ones(client: TestClient) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"metadata": {"phone_number_id": "PN1"},
                                       "messages": [{"from": "6281234567890", "id": "wamid.1",
                                                     "timestamp": "1763866800", "type": "text",
                                                     "text": {"body": "halo"}}]}}]}]}).encode()
    bad = await client.post("/hooks/whatsapp_cloud/main", data=body, headers={CLOUD_HEADER: "sha256=00"})
    assert bad.status == 401 and (await bad.json())["error"]["code"] == "unauthorized"
    token_is_no_signature = await client.post("/hooks/whatsapp_cloud/main", data=body, headers=BEARER)
    assert token_is_no_signature.status == 401
    partners = await (await client.get("/api/partners", headers=BEARER)).json()
    assert partners[0]["active"] is False and partners[0]["refused"] == 2
    good = await client.post("/hooks/whatsapp_cloud/main", data=body,
                             headers={CLOUD_HEADER: sign(CLOUD_SECRET, body), "Content-Type": "application/json"})
    assert good.status == 200 and (await good.json())["accepted"] == 1
    partners = await (await client.get("/api/partners", headers=BEARER)).json()
    assert partners[0]["active"] is True and partners[0]["last_signed_at"]


async def test_a_signed_body_nested_too_deeply_is_400_not_500(client: TestClient) -> None:
    """A signed partner body that nests past the JSON parser's depth is refused as unreadable."""
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 30_000 + b"1" + b"}" * 30_000):
        answer = await client.post("/hooks/whatsapp_cloud/main", data=body,
                                   headers={CLOUD_HEADER: sign(CLOUD_SECRET, body), "Content-Type": "application/json"})
        assert answer.status == 400, await answer.text()
        assert (await answer.json())["error"]["message"] == "the body is nested too deeply to read"


async def test_cloud_handshake_over_http(client: TestClient) -> None:
    ok = await client.get("/hooks/whatsapp_cloud/main", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status == 200 and await ok.text() == "1158201444"
    wrong = await client.get("/hooks/whatsapp_cloud/main", params={
        "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status == 403


async def test_attribution_api_validates_its_filters(client: TestClient) -> None:
    response = await client.get("/api/visitors?state=nope", headers=BEARER)
    assert response.status == 400 and (await response.json())["error"]["field"] == "state"
    assert (await client.get("/api/attribution/log?code=k-7qx4", headers=BEARER)).status == 200
