"""`wabridge outbox list|retry|purge` and the same through the HTTP API (token-protected)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bridge.commands.common import utc_now
from bridge.http import create_app
from store.db import open_db
from store.outbox_delivery import DeliveryResult, claim_due, record_results
from tests.conftest import CliResult
from tests.http.conftest import BEARER, TOKEN
from tests.http.fake_control import FakeControl
from tests.outbox.conftest import FAST, Services, Store, make_config, queue, webhook

Cli = Callable[..., CliResult]


def seed(path: Path, when: datetime) -> list[int]:
    """A dead webhook (unsigned endpoint), a delivered signed one, a pending reply."""
    db = open_db(path)
    dead = queue(db, "webhook", webhook(endpoint="crm"), now=when, inbox_id=1)[0]
    done = queue(db, "webhook", webhook("https://hooks.example/x", secret="s3cr3t-value"), now=when, inbox_id=2)[0]
    waiting = queue(db, "reply", {"session": "6281100000001", "to": "62812@s.whatsapp.net", "text": "hi"},
                    now=when + timedelta(days=30), inbox_id=3)[0]
    claim_due(db, when, limit=2, exclude=("reply:6281100000001",), lane_limits={}, default_lane_limit=4,
              lease=timedelta(minutes=1))
    record_results(db, [DeliveryResult(dead, "dead", when, 404, "HTTP 404: the receiver refused it; not retried",
                                       "no such hook"),
                        DeliveryResult(done, "delivered", when, 200)])
    db.conn.close()
    return [dead, done, waiting]


def test_cli_list_retry_purge(wabridge: Cli, data_dir: Path) -> None:
    assert wabridge("outbox", "list").out.strip() == "the outbox is empty"
    dead, done, waiting = seed(data_dir / "wabridge.db", utc_now() - timedelta(days=10))
    listing = wabridge("outbox", "list")
    assert listing.code == 0 and listing.out.splitlines()[0].split()[:4] == ["ID", "KIND", "STATE", "TRY"]
    assert "HTTP 404" in listing.out and "unsigned" in listing.out and "signed" in listing.out
    assert "s3cr3t" not in listing.out
    rows = wabridge("outbox", "list", "--json").json()
    assert {r["id"]: r["signing"] for r in rows} == {dead: "unsigned", done: "signed", waiting: None}
    assert "s3cr3t" not in wabridge("outbox", "list", "--json").out
    assert [r["id"] for r in wabridge("outbox", "list", "--state", "dead", "--json").json()] == [dead]
    assert [r["id"] for r in wabridge("outbox", "list", "--kind", "reply", "--json").json()] == [waiting]

    missing = wabridge("outbox", "retry", "999")
    assert missing.code == 1 and "no outbox entry 999" in missing.err
    delivered = wabridge("outbox", "retry", str(done))
    assert delivered.code == 1 and "already delivered" in delivered.err
    assert wabridge("outbox", "retry").code == 2
    again = wabridge("outbox", "retry", str(dead))
    assert again.code == 0 and f"entry {dead} (webhook to endpoint:crm) queued again" in again.out
    assert wabridge("outbox", "list", "--state", "pending", "--json").json()[-1]["attempts"] == 0
    assert "0 dead entries queued again" in wabridge("outbox", "retry", "--all-dead").out

    assert wabridge("outbox", "purge", "--older-than", "soon").code == 2
    purged = wabridge("outbox", "purge", "--older-than", "7d")
    assert purged.code == 0 and "purged 1 entry (delivered, dead)" in purged.out
    assert {r["id"] for r in wabridge("outbox", "list", "--json").json()} == {dead, waiting}


async def test_http_api(tmp_path: Path, store: Store, services: Services) -> None:
    when = datetime.now(UTC) - timedelta(days=10)
    dead, done, waiting = seed(tmp_path / "wabridge.db", when)  # the store fixture's database file
    service = await services(make_config(tmp_path, webhooks={**FAST, "endpoints": {
        "crm": {"url": "http://127.0.0.1:9/unused"}}}), tick_seconds=60)
    service.stopping = True  # list/retry/purge only: keep the loop from delivering meanwhile
    control = FakeControl()
    control.outbox = service  # type: ignore[assignment]
    client = TestClient(TestServer(create_app(control, token=TOKEN, workspace_name="Toko"), host="127.0.0.1"))
    await client.start_server()
    try:
        await _exercise(client, dead, done, waiting)
    finally:
        await client.close()


async def _exercise(client: TestClient, dead: int, done: int, waiting: int) -> None:

    listed = await (await client.get("/api/outbox", headers=BEARER)).json()
    assert [e["id"] for e in listed] == [waiting, done, dead]
    assert {e["id"]: e["signing"] for e in listed}[dead] == "unsigned"
    dead_only = await (await client.get("/api/outbox?state=dead&kind=webhook", headers=BEARER)).json()
    assert [e["id"] for e in dead_only] == [dead] and dead_only[0]["response_snippet"] == "no such hook"
    for query, field in (("state=lost", "state"), ("kind=fax", "kind"), ("limit=0", "limit"), ("x=1", "x")):
        response = await client.get(f"/api/outbox?{query}", headers=BEARER)
        assert response.status == 400 and (await response.json())["error"]["field"] == field

    retried = await client.post(f"/api/outbox/{dead}/retry", headers=BEARER)
    assert retried.status == 200 and (await retried.json())["state"] == "pending"
    assert (await client.post("/api/outbox/999/retry", headers=BEARER)).status == 404
    conflict = await client.post(f"/api/outbox/{done}/retry", headers=BEARER)
    assert conflict.status == 409 and "already delivered" in (await conflict.json())["error"]["message"]
    assert await (await client.post("/api/outbox/retry-dead", headers=BEARER)).json() == {"retried": 0}

    bad = await client.post("/api/outbox/purge", headers=BEARER, json={"older_than": "a week"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "older_than"
    bad = await client.post("/api/outbox/purge", headers=BEARER, json={"older_than": "7d", "states": ["pending"]})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "states"
    purged = await client.post("/api/outbox/purge", headers=BEARER, json={"older_than": "7d"})
    assert await purged.json() == {"purged": 1}

