"""Prometheus text exposition of the daemon's state (per-number state, traffic, backlog)."""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol

from bridge.daemon.sessions import SessionState, SessionView
from store.processor import ProcessStats


class OutboxMetrics(Protocol):
    def lines(self) -> list[str]: ...


class OutboxView(Protocol):
    @property
    def metrics(self) -> OutboxMetrics: ...


class MetricsSource(Protocol):
    """The read-only view of the daemon that /metrics needs (the Daemon satisfies it; no import loop)."""

    totals: ProcessStats
    backlog: int
    broken_rules: Sized

    @property
    def outbox(self) -> OutboxView: ...

    def sessions(self) -> list[SessionView]: ...


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics(daemon: MetricsSource) -> str:
    """The /metrics body."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lines.append(f"{name}{{{labels}}} {value:g}" if labels else f"{name} {value:g}")

    views = daemon.sessions()
    metric("wabridge_session_state", "gauge", "1 for the state each admin number is in.",
           [(f'number="{_label(v.number)}",state="{state.value}"', 1.0 if v.state is state else 0.0)
            for v in views for state in SessionState])
    metric("wabridge_messages_received_total", "counter", "Messages received from each number's worker.",
           [(f'number="{_label(v.number)}"', float(v.messages_received)) for v in views])
    metric("wabridge_worker_restarts_total", "counter", "Worker process restarts per number.",
           [(f'number="{_label(v.number)}"', float(v.restarts)) for v in views])
    totals = daemon.totals
    metric("wabridge_messages_processed_total", "counter", "Inbox messages processed by the rules.",
           [("", float(totals.processed))])
    metric("wabridge_rules_fired_total", "counter", "Rules that fired.", [("", float(totals.fired))])
    metric("wabridge_status_changes_total", "counter", "Lead status changes made by rules.",
           [("", float(totals.status_changes))])
    metric("wabridge_outbox_queued_total", "counter", "Webhooks and replies queued by rules.",
           [("", float(totals.queued))])
    metric("wabridge_inbox_backlog", "gauge", "Messages committed but not yet processed.",
           [("", float(daemon.backlog))])
    metric("wabridge_rules_invalid", "gauge", "Stored rules skipped because they no longer parse.",
           [("", float(len(daemon.broken_rules)))])
    lines.extend(daemon.outbox.metrics.lines())  # backlog, delivered, failed, dead, latency
    return "\n".join(lines) + "\n"
