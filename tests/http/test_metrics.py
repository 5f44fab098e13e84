"""GET /metrics as Prometheus reads it: prometheus_client's own parser, every digit kept,
one family per name, partner hook and unreadable-message counters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bridge.daemon.metrics import DaemonCollector
from bridge.daemon.sessions import SessionState, SessionView
from bridge.metrics import Metrics
from bridge.outbox.metrics import OutboxMetrics
from bridge.partners.signatures import CLOUD_HEADER, sign
from tests.attribution.services import CLOUD_SECRET
from tests.http.fake_control import FakeControl


@dataclass
class Outbox:
    metrics: OutboxMetrics


@dataclass
class Source:
    """What the daemon exposes to its collector (bridge.daemon.metrics.MetricsSource)."""

    outbox: Outbox
    views: list[SessionView]
    backlog: int = 0
    broken_rules: list[str] = field(default_factory=list)
    replicator: None = None

    def sessions(self) -> list[SessionView]:
        return self.views


def families(text: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """name → {(sample name, sorted labels): value}; the parser raises on anything malformed."""
    parsed: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in parsed, f"family {family.name} exposed twice"
        parsed[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return parsed


def make_source(metrics: Metrics) -> Source:
    view = SessionView(number="6281100000001", label="CS", rotator="default", state=SessionState.CONNECTED,
                       messages_received=1_234_567,
                       restarts=2, frames_oversized=1)
    return Source(outbox=Outbox(OutboxMetrics(metrics)), views=[view], backlog=3, broken_rules=["r1"])


def test_large_counters_keep_every_digit_and_every_family_parses() -> None:
    metrics = Metrics()
    source = make_source(metrics)
    metrics.add_collector(DaemonCollector(source))
    metrics.messages_processed.inc(1_234_568)
    metrics.rules_fired.inc(987_654_321)
    source.outbox.metrics.count("delivered", "webhook", latency=0.3)
    source.outbox.metrics.count("dead", "webhook")
    source.outbox.metrics.set_gauges({"webhook": 5}, {"webhook": 1})
    text = metrics.render().decode()
    assert "e+06" in text  # Go float formatting, but with all seven digits
    parsed = families(text)
    assert parsed["wabridge_messages_processed"][("wabridge_messages_processed_total", ())] == 1_234_568
    assert parsed["wabridge_rules_fired"][("wabridge_rules_fired_total", ())] == 987_654_321
    assert parsed["wabridge_messages_received"][
        ("wabridge_messages_received_total", (("number", "6281100000001"),))] == 1_234_567
    states = parsed["wabridge_session_state"]
    assert states[("wabridge_session_state", (("number", "6281100000001"), ("state", "CONNECTED")))] == 1
    assert sum(states.values()) == 1
    refused = {labels[1][1]: value for (_, labels), value in parsed["wabridge_worker_frames_refused"].items()
               if labels[0] == ("number", "6281100000001")}
    assert refused == {"oversized": 1, "unreadable": 0}
    assert parsed["wabridge_inbox_backlog"][("wabridge_inbox_backlog", ())] == 3
    assert parsed["wabridge_rules_invalid"][("wabridge_rules_invalid", ())] == 1
    # The dead-letter gauge and the dead-lettered counter are two families, not one clash.
    assert parsed["wabridge_outbox_dead_letters"][("wabridge_outbox_dead_letters", (("kind", "webhook"),))] == 1
    assert parsed["wabridge_outbox_dead"][("wabridge_outbox_dead_total", (("kind", "webhook"),))] == 1
    assert parsed["wabridge_outbox_backlog"][("wabridge_outbox_backlog", (("kind", "webhook"),))] == 5
    latency = parsed["wabridge_outbox_delivery_seconds"]
    assert latency[("wabridge_outbox_delivery_seconds_bucket", (("kind", "webhook"), ("le", "0.5")))] == 1
    assert latency[("wabridge_outbox_delivery_seconds_bucket", (("kind", "webhook"), ("le", "0.25")))] == 0


def test_each_daemon_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.messages_processed.inc(5)
    assert "wabridge_messages_processed_total 0.0" in second.render().decode()


def test_a_label_value_with_quotes_and_newlines_still_parses() -> None:
    metrics = Metrics()
    metrics.partner_refused.labels(source='we"ird\nname\\', reason="signature").inc()
    parsed = families(metrics.render().decode())
    assert parsed["wabridge_partner_refused"][
        ("wabridge_partner_refused_total", (("reason", "signature"), ("source", 'we"ird\nname\\')))] == 1


async def test_partner_hook_requests_refusals_and_messages_are_counted(client: TestClient,
                                                                        control: FakeControl) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"metadata": {"phone_number_id": "PN1"},
                                       "messages": [{"from": "6281234567890", "id": "wamid.1",
                                                     "timestamp": "1763866800", "type": "text",
                                                     "text": {"body": "halo"}},
                                                    {"from": "not-a-phone", "id": "wamid.2",
                                                     "timestamp": "1763866800", "type": "text",
                                                     "text": {"body": "?"}}]}}]}]}).encode()
    signed = {CLOUD_HEADER: sign(CLOUD_SECRET, body), "Content-Type": "application/json"}
    unsigned = {CLOUD_HEADER: "sha256=00"}
    assert (await client.post("/hooks/whatsapp_cloud/main", data=body, headers=unsigned)).status == 401
    assert (await client.post("/hooks/nobody/main", data=body, headers=signed)).status == 404
    assert (await client.post("/hooks/whatsapp_cloud/main", data=body, headers=signed)).status == 200
    assert (await client.post("/hooks/whatsapp_cloud/main", data=body, headers=signed)).status == 200  # duplicate
    registry = control.partners.metrics.registry
    assert registry.get_sample_value("wabridge_partner_requests_total", {"source": "whatsapp_cloud"}) == 2
    assert registry.get_sample_value("wabridge_partner_messages_total", {"source": "whatsapp_cloud"}) == 1
    assert registry.get_sample_value("wabridge_partner_refused_total",
                                     {"source": "whatsapp_cloud", "reason": "signature"}) == 1
    assert registry.get_sample_value("wabridge_partner_refused_total",
                                     {"source": "_unknown", "reason": "unknown_source"}) == 1
    assert registry.get_sample_value("wabridge_messages_unreadable_total",
                                     {"source": "whatsapp_cloud", "reason": "malformed:chat"}) == 2
