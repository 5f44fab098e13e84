"""Outbox metrics: delivery counters and the latency histogram (prometheus_client objects in
the daemon's registry), and the backlog and dead-letter gauges, refreshed from the database
and read at scrape time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.metrics import Metrics
from store.outbox import OUTBOX_KINDS


@dataclass(slots=True)
class OutboxMetrics:
    """Counters since the daemon started (in `registry`), gauges refreshed from the database."""

    registry: Metrics = field(default_factory=Metrics)
    backlog: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    dead_letters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))

    def __post_init__(self) -> None:
        for kind in OUTBOX_KINDS:  # every kind is exposed from the start, at 0
            for counter in (self.registry.outbox_delivered, self.registry.outbox_failed, self.registry.outbox_dead):
                counter.labels(kind=kind)
            self.registry.outbox_latency.labels(kind=kind)

    def count(self, state: str, kind: str, latency: float | None = None) -> None:
        """Count one attempt's result."""
        counter = {"delivered": self.registry.outbox_delivered, "failed": self.registry.outbox_failed,
                   "dead": self.registry.outbox_dead}[state]
        counter.labels(kind=kind).inc()
        if latency is not None:
            self.registry.outbox_latency.labels(kind=kind).observe(latency)

    def count_dead(self, kind: str, count: int) -> None:
        """Entries dead-lettered without an attempt (replies that waited past max_wait)."""
        self.registry.outbox_dead.labels(kind=kind).inc(count)

    def set_gauges(self, backlog: Mapping[str, int], dead_letters: Mapping[str, int]) -> None:
        """Replace the gauges with fresh counts (kinds without entries read 0)."""
        self.backlog = {k: int(backlog.get(k, 0)) for k in {*OUTBOX_KINDS, *backlog}}
        self.dead_letters = {k: int(dead_letters.get(k, 0)) for k in {*OUTBOX_KINDS, *dead_letters}}
