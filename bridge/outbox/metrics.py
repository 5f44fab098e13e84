"""Outbox metrics for /metrics: backlog and dead-letter gauges, delivery counters, and a
histogram of delivery latency (queued → delivered), in Prometheus text format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from store.outbox import OUTBOX_KINDS

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(slots=True)
class Histogram:
    """Cumulative-bucket histogram (Prometheus semantics)."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        index = next((i for i, bound in enumerate(self.buckets) if value <= bound), len(self.buckets))
        self.counts[index] += 1
        self.total += value
        self.count += 1


@dataclass(slots=True)
class OutboxMetrics:
    """Counters since the daemon started, gauges refreshed from the database."""

    delivered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    dead: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    backlog: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    dead_letters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    latency: dict[str, Histogram] = field(default_factory=lambda: {k: Histogram() for k in OUTBOX_KINDS})

    def count(self, state: str, kind: str, latency: float | None = None) -> None:
        """Count one attempt's result."""
        table = {"delivered": self.delivered, "failed": self.failed, "dead": self.dead}[state]
        table[kind] = table.get(kind, 0) + 1
        if latency is not None:
            self.latency.setdefault(kind, Histogram()).observe(latency)

    def set_gauges(self, backlog: Mapping[str, int], dead_letters: Mapping[str, int]) -> None:
        """Replace the gauges with fresh counts (kinds without entries read 0)."""
        self.backlog = {k: int(backlog.get(k, 0)) for k in {*OUTBOX_KINDS, *backlog}}
        self.dead_letters = {k: int(dead_letters.get(k, 0)) for k in {*OUTBOX_KINDS, *dead_letters}}

    def lines(self) -> list[str]:
        """The exposition lines."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str, values: Mapping[str, float]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f'{name}{{kind="{k}"}} {v:g}' for k, v in sorted(values.items()))

        family("wabridge_outbox_backlog", "gauge", "Outbox entries waiting for delivery (pending or retrying).",
               self.backlog)
        family("wabridge_outbox_dead", "gauge", "Outbox entries in the dead-letter state.", self.dead_letters)
        family("wabridge_outbox_delivered_total", "counter", "Outbox deliveries that succeeded.", self.delivered)
        family("wabridge_outbox_failed_total", "counter", "Outbox attempts that failed and will be retried.",
               self.failed)
        family("wabridge_outbox_dead_total", "counter", "Outbox entries dead-lettered (gave up).", self.dead)
        name = "wabridge_outbox_delivery_seconds"
        out.append(f"# HELP {name} Time from queueing to successful delivery.")
        out.append(f"# TYPE {name} histogram")
        for kind, hist in sorted(self.latency.items()):
            running = 0
            for bound, n in zip((*hist.buckets, float("inf")), hist.counts, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                out.append(f'{name}_bucket{{kind="{kind}",le="{le}"}} {running}')
            out.append(f'{name}_sum{{kind="{kind}"}} {hist.total:g}')
            out.append(f'{name}_count{{kind="{kind}"}} {hist.count}')
        return out
