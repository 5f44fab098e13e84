"""The daemon's Prometheus metrics: one `CollectorRegistry` per daemon (never the library's
global one, so two daemons in one test process do not share counters), the traffic counters
the features increment, and the exposition rendered by `prometheus_client` itself (every
digit of a large counter survives: 1234567 is written `1.234567e+06`, not `1.23457e+06`).

Adding a counter is one line in `Metrics.__init__`; values that live elsewhere (session
states, backlogs read from SQLite) come from a collector registered with `add_collector`
and are read at scrape time.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.registry import Collector

# The `_created` companion series double every counter and no dashboard reads them.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
UNKNOWN_SOURCE = "_unknown"  # a refused partner request for a source not in config.toml (bounded labels)


_WORD = re.compile(r"[^a-z0-9_]+")


def reason_code(reason: str) -> str:
    """A bounded label for a reason: "malformed message: timestamp: …" → "malformed:timestamp",
    "unsupported edit: Meta sent no content" → "unsupported:edit"."""
    head, _, rest = reason.partition(":")
    words = head.strip().lower().split()
    if not words:
        return "unknown"
    if words[0] == "malformed":
        field = rest.strip().split(":", 1)[0].split()[0] if rest.strip() else ""
        return f"malformed:{_WORD.sub('_', field.lower())[:40]}" if field else "malformed"
    code = _WORD.sub("_", words[0])[:40]
    return f"{code}:{_WORD.sub('_', words[1])[:40]}" if len(words) > 1 and len(words) <= 3 else code



class Metrics:
    """Counters since this daemon started, in this daemon's own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=False)
        # Message processing (store/processor.py runs, counted by the daemon).
        self.messages_processed = Counter("wabridge_messages_processed", "Inbox messages processed by the rules.",
                                          registry=r)
        self.rules_fired = Counter("wabridge_rules_fired", "Rules that fired.", registry=r)
        self.status_changes = Counter("wabridge_status_changes", "Lead status changes made by rules.", registry=r)
        self.outbox_queued = Counter("wabridge_outbox_queued", "Webhooks and replies queued by rules.", registry=r)
        # Live messages' inbox transactions (bridge/daemon/intake.py): messages arriving together share one.
        self.inbox_commits = Counter("wabridge_inbox_commits", "Inbox transactions committing live messages.",
                                     registry=r)
        # Messages kept as unreadable instead of processed; source: `whatsapp` or a partner source.
        self.messages_unreadable = Counter("wabridge_messages_unreadable", "Messages recorded as unreadable.",
                                           ["source", "reason"], registry=r)
        # Partner webhooks (bridge/partners/): signed requests, refusals, messages committed.
        self.partner_requests = Counter("wabridge_partner_requests", "Signed partner webhook requests accepted.",
                                        ["source"], registry=r)
        self.partner_refused = Counter("wabridge_partner_refused", "Partner webhook requests refused, by reason.",
                                       ["source", "reason"], registry=r)
        self.partner_messages = Counter("wabridge_partner_messages",
                                        "Partner messages committed to the inbox (duplicates not counted).",
                                        ["source"], registry=r)
        # Outbox delivery (bridge/outbox/service.py).
        self.outbox_delivered = Counter("wabridge_outbox_delivered", "Outbox deliveries that succeeded.",
                                        ["kind"], registry=r)
        self.outbox_failed = Counter("wabridge_outbox_failed", "Outbox attempts that failed and will be retried.",
                                     ["kind"], registry=r)
        self.outbox_dead = Counter("wabridge_outbox_dead", "Outbox entries dead-lettered (gave up).",
                                   ["kind"], registry=r)
        self.outbox_latency = Histogram("wabridge_outbox_delivery_seconds",
                                        "Time from queueing to successful delivery.", ["kind"],
                                        buckets=LATENCY_BUCKETS, registry=r)

    def add_collector(self, collector: Collector) -> None:
        """Register a collector whose values are read at scrape time."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything in this registry."""
        return generate_latest(self.registry)
