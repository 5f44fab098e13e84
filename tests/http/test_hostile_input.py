"""Input an attacker (or a broken script) sends never earns a 500: bytes that are not UTF-8,
numbers out of range, bodies nested too deeply, bodies of the wrong shape, formula cells.

Raw bytes go over a plain socket to the real server, because HTTP client libraries refuse
to send them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bridge.http import create_app
from bridge.http.auth import COOKIE_NAME, LOGIN_FAILURES_ALLOWED
from tests.http.conftest import BEARER, TOKEN, WORKSPACE, login
from tests.http.fake_control import FakeControl
from tests.http.fake_events import EVENT

BAD_BYTES = b"\xff\xfe\xc3\x28\x80"
HUGE = str(2**63)
THOUSANDS = "9" * 5000


async def raw_request(client: TestClient, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send `head` (request line + headers, no final CRLF) and `body`; return (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(head + b"Host: 127.0.0.1\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("head", [
    b"GET /api/sessions HTTP/1.1\r\nAuthorization: Bearer " + BAD_BYTES + b"\r\n",
    b"GET /api/sessions HTTP/1.1\r\nAuthorization: " + BAD_BYTES + b"\r\n",
    b"GET /api/sessions HTTP/1.1\r\nCookie: " + COOKIE_NAME.encode() + b"=v1.1." + BAD_BYTES + b".ab\r\n",
    b"GET /api/sessions HTTP/1.1\r\nCookie: " + COOKIE_NAME.encode() + b"=" + BAD_BYTES + b"\r\n",
])
async def test_undecodable_credentials_are_401(client: TestClient, head: bytes,
                                               caplog: pytest.LogCaptureFixture) -> None:
    status, body = await raw_request(client, head)
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    assert "http_unhandled_error" not in caplog.text


async def test_undecodable_login_form_is_400_not_500(client: TestClient) -> None:
    head = (b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n")
    status, _ = await raw_request(client, head, b"token=" + BAD_BYTES + b"&next=/")
    assert status in (400, 401)
    status, _ = await raw_request(client, head, b"token=%FF%FE%C3%28&next=/")
    assert status in (400, 401)


async def test_undecodable_partner_token_is_refused_not_500(client: TestClient) -> None:
    head = (b"POST /hooks/pancake/6281100000001 HTTP/1.1\r\nContent-Type: application/json\r\n"
            b"X-Pancake-Token: " + BAD_BYTES + b"\r\n")
    status, _ = await raw_request(client, head, b"{}")
    assert 400 <= status < 500


@pytest.mark.parametrize("path", [
    f"/api/leads?offset={HUGE}", f"/api/leads?limit={HUGE}", f"/api/leads?offset={THOUSANDS}",
    "/api/leads?offset=%C2%B2", "/api/leads?limit=-1", f"/api/runs?limit={HUGE}",
    f"/api/outbox?limit={THOUSANDS}",
    f"/api/events/{EVENT}/checkins?limit={HUGE}",
])
async def test_numbers_out_of_range_in_the_query_are_400_naming_the_parameter(client: TestClient,
                                                                             path: str) -> None:
    response = await client.get(path, headers=BEARER)
    assert response.status == 400, (path, await response.text())
    body = await response.json()
    assert body["error"]["field"] in ("limit", "offset"), body


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"/api/events/{HUGE}"), ("GET", f"/api/events/{THOUSANDS}"),
    ("PUT", f"/api/rules/{HUGE}"), ("DELETE", f"/api/rules/{HUGE}"), ("DELETE", f"/api/rules/{THOUSANDS}"),
    ("POST", f"/api/outbox/{HUGE}/retry"), ("POST", f"/api/outbox/{THOUSANDS}/retry"),
    ("POST", f"/api/events/{EVENT}/checkins/{HUGE}/undo"), ("POST", f"/api/events/{HUGE}/checkins/1/undo"),
    ("GET", f"/rules/{HUGE}/edit"), ("GET", f"/rules/{THOUSANDS}/edit"), ("GET", "/rules/%C2%B2/edit"),
    ("GET", f"/api/events/{HUGE}/export.csv"),
])
async def test_ids_out_of_range_are_400_or_404(client: TestClient, method: str, path: str) -> None:
    await login(client)  # the editor page is a page route
    response = await client.request(method, path, headers={**BEARER, "X-Requested-With": "test"},
                                    json={"name": "x", "actions": [{"type": "add_tag", "tag": "a"}]}
                                    if method == "PUT" else None)
    assert response.status in (400, 404), (method, path, response.status, await response.text())


async def test_deeply_nested_json_bodies_are_400(client: TestClient) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/api/rules", "/api/rules/validate", "/api/rules/test", "/api/events", "/api/outbox/purge"):
        response = await client.post(path, data=nested, headers={**BEARER, "Content-Type": "application/json"})
        assert response.status == 400, (path, await response.text())
    deep_object = b'{"a":' * 30_000 + b"1" + b"}" * 30_000
    response = await client.post("/api/rules", data=deep_object, headers={**BEARER,
                                                                           "Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize(("path", "template"), [
    ("/api/leads", '{"phone": "6281234567890", "name": %s}'),
    ("/api/rules", '{"name": %s, "actions": [{"type": "add_tag", "tag": "x"}]}'),
    ("/api/rules/validate", '{"name": "x", "actions": [{"type": "send_reply", "text": %s}]}'),
    ("/api/messages", '{"to": "6281234567890", "text": %s}'),
])
async def test_a_lone_surrogate_in_a_json_body_is_400_not_500(client: TestClient, path: str, template: str) -> None:
    """JSON may escape half of a UTF-16 pair ("\\ud800"): not text, so it cannot be stored or sent on.
    A whole pair (an emoji written "\\ud83d\\ude00") is text and passes this check."""
    lone = (template % '"halo \\ud800 kak"').encode()
    response = await client.post(path, data=lone, headers={**BEARER, "Content-Type": "application/json"})
    body = await response.json()
    assert response.status == 400 and body["error"]["field"] == "(body)", body
    assert "lone UTF-16 surrogate (\\ud800)" in body["error"]["message"]
    pair = (template % '"halo \\ud83d\\ude00 kak"').encode()
    response = await client.post(path, data=pair, headers={**BEARER, "Content-Type": "application/json"})
    assert response.status < 500 and "surrogate" not in await response.text()


async def test_numbers_past_sqlite_and_urls_urlsplit_refuses_are_400_not_500(client: TestClient) -> None:
    """JSON whole numbers have no size limit (SQLite's INTEGER ends at 2^63 - 1), and urlsplit raises
    on an unclosed IPv6 host ("http://[::1"): each is a 400 naming the field."""
    for rule, field in (({"name": "r", "priority": 2**70, "actions": [{"type": "add_tag", "tag": "x"}]}, "priority"),
                        ({"name": "r", "actions": [{"type": "adjust_score", "by": 2**70}]}, "actions[0].by"),
                        ({"name": "r", "actions": [{"type": "send_webhook", "url": "http://[::1"}]}, "actions[0].url")):
        response = await client.post("/api/rules", data=json.dumps(rule).encode(),
                                     headers={**BEARER, "Content-Type": "application/json"})
        body = await response.json()
        assert response.status == 400 and body["error"]["field"] == field, body


async def test_event_export_neutralises_formula_cells(client: TestClient) -> None:
    attendees = [{"name": "=HYPERLINK(\"http://evil.example\",\"x\")", "phone": "6281234500001"},
                 {"name": "@SUM(A1)", "phone": "6281234500002"}, {"name": "-1+2", "phone": "6281234500003"}]
    response = await client.post(f"/api/events/{EVENT}/codes", json={"attendees": attendees}, headers=BEARER)
    assert response.status == 201, await response.text()
    exported = await client.get(f"/api/events/{EVENT}/export.csv", headers=BEARER)
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    names = {r["name"] for r in rows if r["name"]}
    assert {"'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(A1)", "'-1+2"} <= names
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values() if value)


async def _app(control: FakeControl, state_dir: Path) -> TestClient:
    client = TestClient(TestServer(create_app(control, token=TOKEN, workspace_name=WORKSPACE,
                                              state_dir=state_dir), host="127.0.0.1", port=0))
    await client.start_server()
    return client


async def test_a_logged_out_cookie_stays_revoked_after_a_restart(tmp_path: Path) -> None:
    control = FakeControl()
    first = await _app(control, tmp_path)
    try:
        cookies = []
        for _ in range(2):  # two browsers
            await login(first)
            cookies.append(first.session.cookie_jar.filter_cookies(first.make_url("/"))[COOKIE_NAME].value)
            first.session.cookie_jar.clear()
        cookie, kept = cookies
        as_first = {"Cookie": f"{COOKIE_NAME}={cookie}"}
        assert (await first.get("/api/sessions", headers=as_first)).status == 200
        assert (await first.post("/logout", headers=as_first, allow_redirects=False)).status == 303
        assert (await first.get("/api/sessions", headers=as_first)).status == 401
    finally:
        await first.close()
    assert oct((tmp_path / "http-revoked-sessions").stat().st_mode & 0o777) == "0o600"
    second = await _app(control, tmp_path)  # a restart: a new Auth reading the data dir
    try:
        revoked = await second.get("/api/sessions", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
        assert revoked.status == 401
        still = await second.get("/api/sessions", headers={"Cookie": f"{COOKIE_NAME}={kept}"})
        assert still.status == 200
    finally:
        await second.close()


async def test_bearer_guesses_are_throttled_per_client_address(tmp_path: Path) -> None:
    control = FakeControl()
    control.attribution.proxies = (ipaddress.ip_network("127.0.0.1/32"),)  # the test client is "the proxy"
    client = await _app(control, tmp_path)
    try:
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(LOGIN_FAILURES_ALLOWED):
            wrong = await client.get("/api/sessions", headers={**guesser, "Authorization": "Bearer nope"})
            assert wrong.status == 401
        blocked = await client.get("/api/sessions", headers={**guesser, **BEARER})
        assert blocked.status == 429 and "Retry-After" in blocked.headers  # even the right token waits
        other = await client.get("/api/sessions", headers={"X-Forwarded-For": "198.51.100.9", **BEARER})
        assert other.status == 200  # another client behind the same proxy is not punished
        # The login form counts against the same address.
        form = await client.post("/login", data={"token": TOKEN, "next": "/"}, headers=guesser,
                                 allow_redirects=False)
        assert form.status == 429
    finally:
        await client.close()
