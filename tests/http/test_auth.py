"""Every route needs the token (except /healthz and the login itself); cookie login; CSRF."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog
from aiohttp.test_utils import TestClient
from yarl import URL

from bridge.http import create_app
from bridge.http.auth import COOKIE_NAME, Auth, route_protection, safe_next
from engine.model import Lead
from store.leads import upsert_lead
from tests.http.conftest import BEARER, TOKEN, Serve, login
from tests.http.fake_control import ADMIN, FakeControl
from tests.http.fake_events import EVENT, FREE_CODE, USED_CODE

# The whole route table, as (method, path) with {number} filled in. A new route must be
# added here, so nobody adds one without deciding how it is protected.
OPEN_ROUTES = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
                ("GET", "/language")}  # the header language switch (a cookie, no data)
# Public routes (issue #6): no token, because customers click them and partners post to them;
# each declares the protection it has instead, and tests/attribution checks that it holds.
PUBLIC_ROUTES = {("GET", "/r/default"): "rate_limit", ("GET", "/hooks/whatsapp_cloud/1"): "verify_token",
                 ("POST", "/hooks/whatsapp_cloud/1"): "signature"}
LEAD = "6281200000002"  # the lead the dashboard routes are called with
PAGE_ROUTES = {("GET", "/"), ("GET", f"/pair/{ADMIN}"),
               ("GET", "/events"), ("GET", f"/events/{EVENT}"), ("GET", f"/events/{EVENT}/badges"),
               # Dashboard (issue #7)
               ("GET", "/numbers"), ("GET", "/leads"), ("GET", f"/leads/{LEAD}"), ("GET", "/activity"),
               ("GET", "/rules"), ("GET", "/rules/new"), ("GET", "/rules/1/edit"), ("GET", "/links"),
               ("GET", "/webhooks")}
API_ROUTES = {
    ("GET", f"/pair/{ADMIN}/qr.png"), ("GET", f"/pair/{ADMIN}/qr.svg"),
    ("GET", f"/pair/{ADMIN}/qr.json"), ("GET", f"/pair/{ADMIN}/events"),
    ("GET", "/api/sessions"), ("GET", f"/api/sessions/{ADMIN}"),
    ("POST", f"/api/sessions/{ADMIN}/logout"), ("POST", f"/api/sessions/{ADMIN}/restart"),
    ("POST", f"/api/sessions/{ADMIN}/pair-code"), ("GET", "/api/leads"), ("POST", "/api/rules/reload"),
    ("GET", "/readyz"), ("GET", "/metrics"),
    ("POST", f"/sim/{ADMIN}/scan"), ("POST", f"/sim/{ADMIN}/messages"),
    ("POST", f"/sim/{ADMIN}/history"), ("POST", f"/sim/{ADMIN}/backlog"),
    ("POST", f"/sim/{ADMIN}/crash"), ("GET", f"/sim/{ADMIN}/received"),
    ("POST", "/api/messages"), ("GET", "/api/messages/1"),
    ("GET", "/api/subscriptions"), ("POST", "/api/subscriptions"), ("DELETE", "/api/subscriptions/crm"),
    ("POST", "/api/subscriptions/crm/test"), ("GET", "/api/subscriptions/crm/deliveries"),
    ("GET", "/api/outbox"), ("POST", "/api/outbox/1/retry"), ("POST", "/api/outbox/retry-dead"),
    ("POST", "/api/outbox/purge"),
    ("GET", "/api/rotators"), ("GET", "/api/visitors"), ("GET", "/api/attribution/log"), ("GET", "/api/partners"),
    # Events (issue #5)
    ("GET", f"/events/{EVENT}/stream"), ("GET", f"/events/{EVENT}/codes/{USED_CODE}/qr.png"),
    ("GET", f"/events/{EVENT}/codes/{USED_CODE}/qr.svg"), ("GET", "/api/events"), ("POST", "/api/events"),
    ("GET", f"/api/events/{EVENT}"), ("PATCH", f"/api/events/{EVENT}"),
    ("GET", f"/api/events/{EVENT}/codes"), ("POST", f"/api/events/{EVENT}/codes"),
    ("GET", f"/api/events/{EVENT}/checkins"), ("POST", f"/api/events/{EVENT}/checkins"),
    ("POST", f"/api/events/{EVENT}/checkins/1/undo"), ("GET", f"/api/events/{EVENT}/export.csv"),
    # Dashboard (issue #7)
    ("GET", "/api/leads.csv"), ("GET", f"/api/leads/{LEAD}"), ("GET", "/api/runs"), ("GET", "/api/inbox"),
    ("GET", "/api/rules"), ("POST", "/api/rules"), ("PUT", "/api/rules/1"), ("DELETE", "/api/rules/1"),
    ("POST", "/api/rules/validate"), ("POST", "/api/rules/order"), ("GET", "/api/rules/templates"),
    ("POST", "/api/rules/templates/install"), ("GET", "/api/rules/export.toml"), ("POST", "/api/rules/import"),
    ("GET", "/api/rules/vocabulary"), ("POST", "/api/rules/test"), ("POST", "/api/rules/suggest"),
    # Leads people change (issue #13)
    ("POST", "/api/leads"), ("PATCH", f"/api/leads/{LEAD}"), ("DELETE", f"/api/leads/{LEAD}"),
    ("POST", "/api/leads/import"),
    # Chat exports (issue #16)
    ("POST", f"/api/leads/{LEAD}/import-chat"),
}
EXPORT = f"01/20/19, 11:25 - +{LEAD}: halo\n".encode()  # a one-line chat export (issue #16)
# A rule in the rule-file form, for the rules routes (issue #7).
RULE = {"name": "Tag buyers", "conditions": [{"field": "message.text", "op": "contains", "value": "beli"}],
        "actions": [{"type": "add_tag", "tag": "buyer"}]}
# Bodies of the POSTs that need one to succeed.
BODIES = {
    "/api/events": {"name": "Test", "number": ADMIN, "start": "2026-11-23 08:00", "end": "2026-11-23 17:00"},
    f"/api/events/{EVENT}": {"name": "Renamed"},
    f"/api/events/{EVENT}/codes": {"count": 2}, f"/api/events/{EVENT}/checkins": {"code": FREE_CODE},
    "/api/rules": "RULE", "/api/rules/1": "RULE", "/api/rules/validate": "RULE", "/api/rules/order": {"ids": [1]},
    "/api/rules/templates/install": {"slugs": ["identify-hot-lead"]}, "/api/rules/test": {"text": "mau order"},
    "/api/rules/suggest": {"text": "if customer says order, change to hot"},
    "/api/leads": {"phone": "6281299990000"}, f"/api/leads/{LEAD}": {"notes": "call back"},
    f"/sim/{ADMIN}/history": {"messages": [{"sender": "6281200000002", "text": "lama"}]},
    f"/sim/{ADMIN}/backlog": {"messages": [{"sender": "6281200000002", "text": "halo"}]},
    "/api/messages": {"to": "6281200000002", "text": "halo", "number": ADMIN},
    "/api/subscriptions": {"name": "sheet", "url": "http://127.0.0.1:9/hook", "events": ["message.received"]},
}
PROTECTED = sorted(PAGE_ROUTES | API_ROUTES)


def _route_table() -> set[tuple[str, str]]:
    app = create_app(FakeControl(simulate=True), token=TOKEN, workspace_name="x")
    table = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter") or info.get("prefix"))
        if route.method == "HEAD" or path == "/static":
            continue
        table.add((route.method, _filled(path)))
    return table


def _filled(path: str) -> str:
    return (path.replace("{number}", ADMIN).replace("{id}", "1").replace("{slug}", "default")
            .replace("{source}", "whatsapp_cloud").replace("{channel}", "1")
            .replace("{event}", EVENT).replace("{code}", USED_CODE).replace("{checkin}", "1")
            .replace("{phone}", LEAD).replace("{name}", "crm"))


def test_route_table_is_fully_classified() -> None:
    assert _route_table() == OPEN_ROUTES | set(PUBLIC_ROUTES) | PAGE_ROUTES | API_ROUTES


def test_every_public_route_names_its_own_protection() -> None:
    app = create_app(FakeControl(simulate=True), token=TOKEN, workspace_name="x")
    declared = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter") or "")
        if route.method != "HEAD" and route_protection(route.handler) is not None:
            declared[(route.method, _filled(path))] = route_protection(route.handler)
    assert declared == PUBLIC_ROUTES


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_route_needs_the_token(client: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        response = await client.request(method, path, headers=headers, allow_redirects=False)
        if (method, path) in PAGE_ROUTES:
            assert response.status == 302
            assert response.headers["Location"].startswith("/login?next=/")
        else:
            assert response.status == 401, (method, path, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            body = await response.json()
            assert body["error"]["code"] == "unauthorized"
        response.close()


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_route_works_with_the_bearer(
    client: TestClient, control: FakeControl, method: str, path: str
) -> None:
    if path.endswith("/logout"):
        control.connect(ADMIN)
    else:
        control.show_qr(ADMIN)
    control.leads.append({"phone": LEAD, "status": "hot", "tags": []})
    now = datetime.now(UTC)
    upsert_lead(control.db, Lead(phone=LEAD, jid=f"{LEAD}@s.whatsapp.net", status="hot", created_at=now,
                                 updated_at=now))  # the stored lead the changing routes act on
    control.db.conn.commit()
    installed = await client.post("/api/rules/templates/install", headers=BEARER,
                                  json={"slugs": ["identify-hot-lead"]})  # rule 1, for /api/rules/1
    assert installed.status == 201
    body = {"chat": "6281200000002@s.whatsapp.net", "sender": "6281200000002@s.whatsapp.net"}
    if path == "/api/leads/import":
        response = await client.post(path, headers={**BEARER, "Content-Type": "text/csv"},
                                     data=b"phone,name\n6281299990001,Dewi\n")
        assert response.status == 200, await response.read()
        return
    response = await client.request(method, path, headers=BEARER, allow_redirects=False,
                                    data=EXPORT if path.endswith("/import-chat") else None,
                                    params={"number": ADMIN} if path.endswith("/import-chat") else None,
                                    json=body if path.endswith("/messages") and path.startswith("/sim/") else
                                    {"older_than": "7d"} if path.endswith("/purge") else
                                    RULE if BODIES.get(path) == "RULE" else
                                    BODIES.get(path) if method in ("POST", "PATCH") else None)
    assert response.status in (200, 201, 202, 204), (method, path, await response.read())
    response.close()


async def test_healthz_is_open(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"ok": True}


async def test_unknown_path_needs_the_token_too(client: TestClient) -> None:
    assert (await client.get("/nope")).status == 401
    response = await client.get("/nope", headers=BEARER)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_static_assets_of_the_login_page_are_open(client: TestClient) -> None:
    response = await client.get("/static/wabridge.css")
    assert response.status == 200
    assert "text/css" in response.headers["Content-Type"]


async def test_page_redirects_to_login_with_next(client: TestClient) -> None:
    response = await client.get(f"/pair/{ADMIN}?x=1", allow_redirects=False)
    assert response.status == 302
    location = URL(response.headers["Location"])
    assert location.path == "/login" and location.query["next"] == f"/pair/{ADMIN}?x=1"


async def test_login_form_wrong_then_right_token(client: TestClient) -> None:
    page = await client.get(f"/login?next=/pair/{ADMIN}")
    html = await page.text()
    assert page.status == 200 and 'name="token"' in html and f'value="/pair/{ADMIN}"' in html

    wrong = await client.post("/login", data={"token": "nope", "next": f"/pair/{ADMIN}"},
                              allow_redirects=False)
    assert wrong.status == 401
    assert "not right" in await wrong.text()
    assert COOKIE_NAME not in wrong.cookies

    right = await client.post("/login", data={"token": TOKEN, "next": f"/pair/{ADMIN}"},
                              allow_redirects=False)
    assert right.status == 303
    assert right.headers["Location"] == f"/pair/{ADMIN}"
    set_cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie  # plain http on loopback
    assert TOKEN not in set_cookie

    page = await client.get(f"/pair/{ADMIN}", allow_redirects=False)
    assert page.status == 200
    assert "Link WhatsApp" in await page.text()
    # The cookie also authenticates API reads from the page.
    assert (await client.get("/api/sessions")).status == 200


async def test_cookie_is_secure_behind_https_proxy(client: TestClient) -> None:
    response = await client.post("/login", data={"token": TOKEN, "next": "/"},
                                 headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
    "http:/evil.example", "/%0d%0aSet-Cookie:x", " /pair", "",
])
async def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    response = await client.post("/login", data={"token": TOKEN, "next": target},
                                 allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert location == "/" or (location.startswith("/") and not location.startswith("//"))
    assert safe_next(target) in ("/", "/%0d%0aSet-Cookie:x")


async def test_login_page_skips_form_when_logged_in(client: TestClient) -> None:
    await login(client)
    response = await client.get("/login?next=https://evil.example", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"


async def test_tampered_or_foreign_cookies_are_refused(serve: Serve, control: FakeControl) -> None:
    client = await serve(control)
    other = Auth("another-token-entirely")
    good = Auth(TOKEN).new_cookie()
    for value in (other.new_cookie(), good[:-1] + ("0" if good[-1] != "0" else "1"),
                  "v1.1.x.deadbeef", TOKEN, Auth(TOKEN).new_cookie(now=1.0)):
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({COOKIE_NAME: value})
        response = await client.get("/api/sessions")
        assert response.status == 401, value


async def test_logout_clears_and_revokes_the_cookie(client: TestClient) -> None:
    await login(client)
    value = next(c.value for c in client.session.cookie_jar if c.key == COOKIE_NAME)
    response = await client.post("/logout", headers={"Origin": str(client.make_url(""))},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/api/sessions")).status == 401
    client.session.cookie_jar.update_cookies({COOKIE_NAME: value})  # replaying the old value
    assert (await client.get("/api/sessions")).status == 401


async def test_wrong_bearer_is_refused_even_with_a_cookie(client: TestClient) -> None:
    await login(client)
    response = await client.get("/api/sessions", headers={"Authorization": "Bearer nope"})
    assert response.status == 401


async def test_csrf_cookie_post_needs_proof_of_origin(client: TestClient,
                                                      control: FakeControl) -> None:
    await login(client)
    path = f"/api/sessions/{ADMIN}/restart"
    bare = await client.post(path)
    assert bare.status == 403
    assert (await bare.json())["error"]["code"] == "csrf"
    assert ("restart", ADMIN) not in control.calls

    cross = await client.post(path, headers={"X-Requested-With": "x",
                                             "Origin": "https://evil.example"})
    assert cross.status == 403
    assert (await client.post(path, headers={"X-Requested-With": "wabridge"})).status == 200
    own = client.make_url("/").human_repr().rstrip("/")
    assert (await client.post(path, headers={"Origin": own})).status == 200
    assert (await client.post(path, headers={"Referer": own + f"/pair/{ADMIN}"})).status == 200


async def test_bearer_post_needs_no_csrf_header(client: TestClient) -> None:
    response = await client.post(f"/api/sessions/{ADMIN}/restart", headers=BEARER)
    assert response.status == 200


async def test_cross_site_login_post_is_refused(client: TestClient) -> None:
    response = await client.post("/login", data={"token": TOKEN},
                                 headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert response.status == 403


async def test_login_is_throttled_after_many_wrong_tokens(client: TestClient) -> None:
    for _ in range(10):
        assert (await client.post("/login", data={"token": "guess"})).status == 401
    blocked = await client.post("/login", data={"token": TOKEN}, allow_redirects=False)
    assert blocked.status == 429


async def test_tokens_and_qr_payloads_never_reach_the_log(client: TestClient,
                                                          control: FakeControl) -> None:
    qr = control.show_qr(ADMIN)
    with structlog.testing.capture_logs() as logs:
        await client.post("/login", data={"token": TOKEN + "x"})
        await login(client)
        await client.get(f"/pair/{ADMIN}/qr.json", headers=BEARER)
        await client.get("/api/sessions", headers={"Authorization": "Bearer " + TOKEN + "y"})
        await client.post(f"/api/sessions/{ADMIN}/restart")  # CSRF refusal is logged
    assert logs, "expected some log events"
    text = repr(logs)
    assert TOKEN not in text and qr.code not in text

