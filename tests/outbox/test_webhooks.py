"""Webhook delivery against a loopback receiver: signing, retries, dead letters, timeouts,
address safety. Retry delays are shortened through [webhooks] (retry_base 50 ms)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bridge.outbox.guard import AddressGuard
from bridge.outbox.sender import HttpSender
from bridge.outbox.settings import WebhookSettings
from tests.conftest import ROOT
from tests.outbox.conftest import FAST, Services, Store, make_config, queue, settled, webhook
from tests.outbox.receiver import Receiver, Reply

SECRET = "whsec_test_3b1f9c"


def readme_verifier() -> Any:
    """The verification snippet exactly as the README documents it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify_wabridge_signature" in b)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the documented snippet itself
    return namespace["verify_wabridge_signature"]


async def test_signed_webhook_verifies_with_the_documented_snippet(
        tmp_path: Path, store: Store, services: Services, receiver: Receiver) -> None:
    config = make_config(tmp_path, webhooks={**FAST, "endpoints": {"crm": {"url": receiver.url, "secret": SECRET}}})
    (entry_id,) = await store.call(queue, "webhook", webhook(endpoint="crm", event="lead.status_changed"))
    await services(config)
    entry = await settled(store, entry_id)
    assert entry["state"] == "delivered" and entry["attempts"] == 1 and entry["last_status"] == 200
    (request,) = receiver.requests
    verify = readme_verifier()
    assert verify(SECRET, request.headers, request.body)
    assert not verify("another-secret", request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body + b" ")
    body = json.loads(request.body)
    assert request.headers["X-Wabridge-Event-Id"] == body["id"] == entry["event_id"]
    assert request.headers["X-Wabridge-Event"] == body["type"] == "lead.status_changed"
    assert set(body) == {"id", "type", "occurred_at", "workspace", "lead", "message", "rule"}
    assert body["lead"]["phone"] == "6281234567890" and body["rule"] == {"id": 7, "name": "Test rule"}


async def test_unsigned_endpoint_sends_no_signature_and_says_so(
        tmp_path: Path, store: Store, services: Services, receiver: Receiver) -> None:
    config = make_config(tmp_path, webhooks={**FAST, "endpoints": {"crm": {"url": receiver.url}}})
    (entry_id,) = await store.call(queue, "webhook", webhook(endpoint="crm"))
    service = await services(config)
    await settled(store, entry_id)
    assert "X-Wabridge-Signature" not in receiver.requests[0].headers
    (listed,) = await service.list_entries(None, "webhook", 10)
    assert listed["signing"] == "unsigned" and '"secret"' not in json.dumps(listed)


async def test_three_500s_then_200_is_one_delivery_with_one_event_id(
        tmp_path: Path, store: Store, services: Services, receiver: Receiver) -> None:
    receiver.then(Reply(500), Reply(500), Reply(500), Reply(200))
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url, secret=SECRET))
    await services(make_config(tmp_path, webhooks=FAST))
    entry = await settled(store, entry_id)
    await settled(store, entry_id)
    assert entry["state"] == "delivered" and entry["attempts"] == 4
    assert [r.status for r in receiver.requests] == [500, 500, 500, 200]
    assert len({r.event_id for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    assert [r.headers["X-Wabridge-Attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
    assert len(receiver.ok()) == 1


async def test_404_is_dead_at_once_with_status_and_snippet(
        tmp_path: Path, store: Store, services: Services, receiver: Receiver) -> None:
    receiver.then(Reply(404, text="no such hook " + "x" * 5000))
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks=FAST))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and entry["attempts"] == 1 and entry["last_status"] == 404
    assert "not retried" in entry["last_error"]
    assert entry["response_snippet"].startswith("no such hook") and len(entry["response_snippet"]) == 1024
    assert len(receiver.requests) == 1


async def test_429_retry_after_is_honoured(tmp_path: Path, store: Store, services: Services,
                                           receiver: Receiver) -> None:
    receiver.then(Reply(429, headers={"Retry-After": "1"}), Reply(200))
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks=FAST))  # the backoff alone would retry after ~50 ms
    entry = await settled(store, entry_id)
    first, second = receiver.requests
    assert entry["state"] == "delivered" and second.at - first.at >= 0.95


async def test_a_hanging_receiver_hits_the_timeout(tmp_path: Path, store: Store, services: Services,
                                                   receiver: Receiver) -> None:
    receiver.then(Reply(hang=True))
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks={**FAST, "timeout": "300ms", "max_attempts": 1}))
    entry = await settled(store, entry_id, timeout=5)
    assert entry["state"] == "dead" and entry["last_status"] is None
    assert "timed out after 0.3 s" in entry["last_error"] and "gave up after 1 attempts" in entry["last_error"]


async def test_gives_up_after_max_attempts(tmp_path: Path, store: Store, services: Services,
                                           receiver: Receiver) -> None:
    receiver.default = Reply(503)
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks={**FAST, "max_attempts": 3}))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and entry["attempts"] == 3 and entry["last_status"] == 503
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
                                 "http://[::ffff:169.254.169.254]/hook", "http://[fd00:ec2::254]/"])
async def test_link_local_and_metadata_urls_are_refused(tmp_path: Path, store: Store, services: Services,
                                                        url: str) -> None:
    (entry_id,) = await store.call(queue, "webhook", webhook(url))
    await services(make_config(tmp_path, webhooks=FAST))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and entry["attempts"] == 1
    assert "link-local/metadata" in entry["last_error"] and "allow_link_local" in entry["last_error"]


class FakeDns(AbstractResolver):
    """Every name resolves to one address (as a rebinding attacker's DNS would)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=self.address, port=port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_metadata_is_refused_at_delivery(receiver: Receiver) -> None:
    guard = AddressGuard(WebhookSettings())
    refused = HttpSender(guard, inner_resolver=FakeDns("169.254.169.254"))
    allowed = HttpSender(guard, inner_resolver=FakeDns("127.0.0.1"))
    for sender in (refused, allowed):
        await sender.start()
    try:
        outcome = await refused.post(f"http://hooks.example:{receiver.port}/x", b"{}", {}, timeout=2)
        assert outcome.refused and outcome.status is None
        assert "hooks.example resolves to 169.254.169.254" in str(outcome.error)
        assert receiver.requests == []
        ok = await allowed.post(f"http://hooks.example:{receiver.port}/x", b"{}", {}, timeout=2)
        assert ok.status == 200 and not ok.refused
    finally:
        for sender in (refused, allowed):
            await sender.close()


async def test_link_local_can_be_allowed_and_loopback_refused_by_config(tmp_path: Path, store: Store,
                                                                        services: Services,
                                                                        receiver: Receiver) -> None:
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks={**FAST, "allow_loopback": False}))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and "loopback" in entry["last_error"] and receiver.requests == []
    guard = AddressGuard(WebhookSettings(allow_link_local=True))
    assert guard.check_url("http://169.254.169.254/") is None
    assert guard.check_url("ftp://example.com/") == "only http:// and https:// URLs are delivered"
    assert guard.check_url("http://[::1") == "only http:// and https:// URLs are delivered"  # not a ValueError
    assert guard.check_url("http://0.0.0.0:8080/") is not None


async def test_oversized_bodies_are_dead_lettered_unsent(tmp_path: Path, store: Store, services: Services,
                                                         receiver: Receiver) -> None:
    (entry_id,) = await store.call(queue, "webhook", webhook(receiver.url))
    await services(make_config(tmp_path, webhooks={**FAST, "max_body_bytes": 200}))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and "max_body_bytes = 200" in entry["last_error"]
    assert receiver.requests == []


async def test_an_endpoint_removed_from_config_is_dead_lettered(tmp_path: Path, store: Store,
                                                                services: Services) -> None:
    (entry_id,) = await store.call(queue, "webhook", webhook(endpoint="gone"))
    await services(make_config(tmp_path, webhooks=FAST))
    entry = await settled(store, entry_id)
    assert entry["state"] == "dead" and "no webhook endpoint named 'gone'" in entry["last_error"]


async def test_endpoints_are_delivered_concurrently_and_bounded_per_endpoint(
        tmp_path: Path, store: Store, services: Services) -> None:
    slow, fast = Receiver(Reply(delay=0.3)), Receiver()
    for server in (slow, fast):
        await server.start()
    try:
        config = make_config(tmp_path, webhooks={**FAST, "concurrency": 2, "endpoints": {
            "slow": {"url": slow.url}, "fast": {"url": fast.url}}})
        slow_ids = [(await store.call(queue, "webhook", webhook(endpoint="slow")))[0] for _ in range(6)]
        fast_id = (await store.call(queue, "webhook", webhook(endpoint="fast")))[0]
        service = await services(config)
        peak = 0
        for _ in range(40):
            peak = max(peak, service.inflight.get("endpoint:slow", 0))
            if (await store.entry(fast_id))["state"] == "delivered":
                break
            await _sleep(0.02)
        fast_entry = await store.entry(fast_id)
        assert fast_entry["state"] == "delivered"  # not stuck behind the slow endpoint's backlog
        for entry_id in slow_ids:
            await settled(store, entry_id)
        assert peak <= 2 and len(slow.ok()) == 6
        starts = sorted(r.at for r in slow.requests)
        assert starts[-1] - starts[0] >= 0.5  # 6 requests, 2 at a time, 0.3 s each: three waves
    finally:
        for server in (slow, fast):
            await server.stop()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
