"""JSON API, simulator routes, probes, and the one error shape."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import SessionState
from tests.http.conftest import BEARER, Serve
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

CUSTOMER_JID = "6281200000002@s.whatsapp.net"


async def test_sessions_list_has_the_design_fields(client: TestClient,
                                                   control: FakeControl) -> None:
    control.connect(ADMIN)
    response = await client.get("/api/sessions", headers=BEARER)
    assert response.status == 200
    sessions = await response.json()
    assert [s["number"] for s in sessions] == [ADMIN, OTHER_ADMIN]
    for item in sessions:
        assert {"number", "label", "state", "reason", "linked_jid", "last_message_at"} <= set(item)
    assert sessions[0]["state"] == "CONNECTED" and sessions[0]["label"] == "CS Budi"


async def test_one_session_and_unknown_number(client: TestClient) -> None:
    one = await client.get(f"/api/sessions/{ADMIN}", headers=BEARER)
    assert (await one.json())["number"] == ADMIN
    missing = await client.get("/api/sessions/6289999999999", headers=BEARER)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "unknown_number"
    for action in ("logout", "restart", "pair-code"):
        response = await client.post(f"/api/sessions/6289999999999/{action}", headers=BEARER)
        assert response.status == 404


async def test_session_actions(client: TestClient, control: FakeControl) -> None:
    response = await client.post(f"/api/sessions/{ADMIN}/pair-code", headers=BEARER)
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert (await response.json()) == {"code": "ABCD-0001"}
    assert control.session(ADMIN).state is SessionState.PAIRING_CODE

    response = await client.post(f"/api/sessions/{ADMIN}/restart", headers=BEARER)
    assert (await response.json())["state"] == "SCAN_QR"

    refused = await client.post(f"/api/sessions/{ADMIN}/logout", headers=BEARER)
    assert refused.status == 409
    assert (await refused.json())["error"] == {"code": "not_available",
                                               "message": "this number is not linked"}
    control.connect(ADMIN)
    response = await client.post(f"/api/sessions/{ADMIN}/logout", headers=BEARER)
    assert (await response.json())["state"] == "LOGGED_OUT"
    assert [c[0] for c in control.calls] == ["pair_code", "restart", "logout", "logout"]


async def test_leads_pass_filters_and_paging(client: TestClient, control: FakeControl) -> None:
    control.leads = [{"phone": "6281200000002", "status": "hot", "tags": []},
                     {"phone": "6281200000003", "status": "new", "tags": []}]
    response = await client.get("/api/leads?status=hot&city=Bandung", headers=BEARER)
    assert response.status == 200
    assert control.calls[-1] == ("list_leads", ({"status": "hot", "city": "Bandung"}, 100, 0))
    response = await client.get("/api/leads?status=hot&limit=1000&offset=5", headers=BEARER)
    assert control.calls[-1] == ("list_leads", ({"status": "hot"}, 1000, 5))
    response = await client.get("/api/leads?status=hot", headers=BEARER)
    assert [lead["phone"] for lead in await response.json()] == ["6281200000002"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
    ("offset=-1", "offset"), ("colour=red", "colour"), ("tag=a&tag=b", "tag"),
    ("status=bogus", "status"), ("updated_since=yesterday", "updated_since"),
])
async def test_leads_bad_query_is_400_naming_the_field(client: TestClient, query: str,
                                                       field: str) -> None:
    response = await client.get(f"/api/leads?{query}", headers=BEARER)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_request" and error["field"] == field
    assert field in error["message"]


@pytest.mark.parametrize("path", ["scan", "messages", "backlog", "crash"])
async def test_sim_routes_absent_without_simulate(serve: Serve, path: str) -> None:
    client = await serve(FakeControl(simulate=False))
    response = await client.post(f"/sim/{ADMIN}/{path}", headers=BEARER, json={})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_sim_scan_pairs_or_trips_the_wrong_number_guard(client: TestClient,
                                                              control: FakeControl) -> None:
    control.show_qr(ADMIN)
    response = await client.post(f"/sim/{ADMIN}/scan", headers=BEARER)
    assert (await response.json())["state"] == "CONNECTED"

    control.show_qr(OTHER_ADMIN)
    response = await client.post(f"/sim/{OTHER_ADMIN}/scan", headers=BEARER,
                                 json={"as": "6281299999999"})
    body = await response.json()
    assert body["state"] == "FAILED" and body["reason"] == "wrong_number"


@pytest.mark.parametrize(("body", "field"), [
    ({"as": 6281299999999}, "as"), ({"as": "+62 812"}, "as"),
    ("{not json", "(body)"), ([1, 2], "(body)"),
])
async def test_sim_scan_bad_body(client: TestClient, control: FakeControl, body: Any,
                                 field: str) -> None:
    control.show_qr(ADMIN)
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    response = await client.post(f"/sim/{ADMIN}/scan", headers=BEARER, **kwargs)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_request" and error["field"] == field


async def test_sim_message_is_injected(client: TestClient, control: FakeControl) -> None:
    response = await client.post(f"/sim/{ADMIN}/messages", headers=BEARER,
                                 json={"chat": CUSTOMER_JID, "sender": CUSTOMER_JID,
                                       "text": "halo"})
    assert response.status == 201
    assert (await response.json())["id"].startswith("SIM")
    name, (number, message) = control.calls[-1]
    assert name == "sim_inject" and number == ADMIN and message["text"] == "halo"


@pytest.mark.parametrize(("body", "field"), [
    ({"sender": CUSTOMER_JID}, "chat"),
    ({"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "type": "hologram"}, "type"),
    ({"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "from_me": "yes"}, "from_me"),
    ({"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "colour": "red"}, "colour"),
    ({"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "timestamp": "soon"}, "timestamp"),
    ("[]", "(body)"), ("", "(body)"), ("{oops", "(body)"),
])
async def test_sim_message_validation_names_the_field(client: TestClient, body: Any,
                                                      field: str) -> None:
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    response = await client.post(f"/sim/{ADMIN}/messages", headers=BEARER, **kwargs)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_request" and error["field"] == field


async def test_sim_backlog_hands_over_up_to_500_messages_at_once(client: TestClient,
                                                                  control: FakeControl) -> None:
    messages = [{"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "text": f"halo {n}"} for n in range(500)]
    response = await client.post(f"/sim/{ADMIN}/backlog", headers=BEARER, json={"messages": messages})
    assert response.status == 202 and await response.json() == {"accepted": 500}
    assert control.calls[-1] == ("sim_backlog", (ADMIN, 500))


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"chat": CUSTOMER_JID, "text": "x"}] * 501}, "messages"),
    ({"messages": ["halo"]}, "messages"),
    ({}, "messages"),
    ({"messages": [{"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "type": "hologram"}]}, "type"),
])
async def test_sim_backlog_refuses_what_it_cannot_take(client: TestClient, body: Any, field: str) -> None:
    response = await client.post(f"/sim/{ADMIN}/backlog", headers=BEARER, json=body)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_request" and error["field"] == field


async def test_sim_crash(client: TestClient, control: FakeControl) -> None:
    response = await client.post(f"/sim/{ADMIN}/crash", headers=BEARER)
    assert response.status == 202
    assert control.session(ADMIN).reason == "crashed"


async def test_readyz_follows_readiness(client: TestClient, control: FakeControl) -> None:
    ok = await client.get("/readyz", headers=BEARER)
    assert ok.status == 200 and (await ok.json())["ready"] is True
    control.ready = False
    bad = await client.get("/readyz", headers=BEARER)
    assert bad.status == 503
    assert (await bad.json())["checks"]["store"]["detail"] == "database is locked"


async def test_metrics_is_prometheus_text(client: TestClient) -> None:
    response = await client.get("/metrics", headers=BEARER)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'wabridge_session_state{number="6281100000001",state="STARTING"} 1' in (
        await response.text())


async def test_unexpected_errors_are_500_internal_and_logged(
    client: TestClient, control: FakeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(control, "sessions", broken)
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/api/sessions?x=1", headers=BEARER)
    assert response.status == 500
    assert (await response.json())["error"]["code"] == "internal"
    assert "disk on fire" not in await response.text()
    event = next(e for e in logs if e["event"] == "http_unhandled_error")
    assert event["path"] == "/api/sessions" and event["log_level"] == "error"


async def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = await client.delete("/api/sessions", headers=BEARER)
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
