"""The daemon's values read at scrape time (per-number state and traffic, backlogs, rules
that no longer parse, outbox gauges), as a prometheus_client collector in the daemon's
registry (bridge/metrics.py). The traffic counters live in that registry itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from bridge.daemon.sessions import SessionState, SessionView


class OutboxGauges(Protocol):
    backlog: dict[str, int]
    dead_letters: dict[str, int]


class OutboxView(Protocol):
    @property
    def metrics(self) -> OutboxGauges: ...


class ReplicatorView(Protocol):
    restarts: int

    @property
    def running(self) -> bool: ...


class MetricsSource(Protocol):
    """The read-only view of the daemon that /metrics needs (the Daemon satisfies it; no import loop)."""

    backlog: int
    broken_rules: Sized

    @property
    def replicator(self) -> ReplicatorView | None: ...

    @property
    def outbox(self) -> OutboxView: ...

    def sessions(self) -> list[SessionView]: ...


def _by_kind(name: str, help_text: str, values: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=["kind"])
    for kind, value in sorted(values.items()):
        family.add_metric([kind], value)
    return family


class DaemonCollector:
    """Reads the daemon's state on every scrape (`registry.register(DaemonCollector(daemon))`)."""

    def __init__(self, source: MetricsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        """The families, freshly read."""
        views = self.source.sessions()
        state = GaugeMetricFamily("wabridge_session_state", "1 for the state each admin number is in.",
                                  labels=["number", "state"])
        received = CounterMetricFamily("wabridge_messages_received", "Messages received from each number's worker.",
                                       labels=["number"])
        restarts = CounterMetricFamily("wabridge_worker_restarts", "Worker process restarts per number.",
                                       labels=["number"])
        refused = CounterMetricFamily("wabridge_worker_frames_refused",
                                      "Frames from a number's worker the reader skipped (it reads on).",
                                      labels=["number", "reason"])
        for view in views:
            for each in SessionState:
                state.add_metric([view.number, each.value], 1.0 if view.state is each else 0.0)
            received.add_metric([view.number], view.messages_received)
            restarts.add_metric([view.number], view.restarts)
            refused.add_metric([view.number, "oversized"], view.frames_oversized)
            refused.add_metric([view.number, "unreadable"], view.frames_unreadable)
        yield from (state, received, restarts, refused)
        yield GaugeMetricFamily("wabridge_inbox_backlog", "Messages committed but not yet processed.",
                                value=self.source.backlog)
        yield GaugeMetricFamily("wabridge_rules_invalid", "Stored rules skipped because they no longer parse.",
                                value=len(self.source.broken_rules))
        replicator = self.source.replicator
        if replicator is not None:  # [backup] replica: is Litestream running beside the daemon?
            yield GaugeMetricFamily("wabridge_backup_replicator_up", "1 while Litestream replicates the database.",
                                    value=1.0 if replicator.running else 0.0)
            yield CounterMetricFamily("wabridge_backup_replicator_restarts",
                                      "Times Litestream exited and was started again.", value=replicator.restarts)
        gauges = self.source.outbox.metrics
        yield _by_kind("wabridge_outbox_backlog", "Outbox entries waiting for delivery (pending or retrying).",
                       gauges.backlog)
        # Named _dead_letters: `wabridge_outbox_dead` is the family of the wabridge_outbox_dead_total counter.
        yield _by_kind("wabridge_outbox_dead_letters", "Outbox entries in the dead-letter state now.",
                       gauges.dead_letters)
