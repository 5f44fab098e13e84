"""Importing a chat export: text → plan (who is who, ids) → inbox + leads, as history.

Shared by `wabridge import-chat` and the lead page's "Import chat history". The import is
history: no rule fires unless asked (`run_rules`), and then in time order like a replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from engine.chat_export import ParsedExport, parse_export
from engine.chat_import import ImportPlan, Sides, plan_import
from engine.model import Message
from store.processor import Processor, ProcessStats

CHUNK = 1_000  # messages per transaction


@dataclass(frozen=True, slots=True)
class Preview:
    """What an import would do (the dry run)."""

    parsed: ParsedExport
    plan: ImportPlan

    def to_dict(self) -> dict[str, Any]:
        """JSON form (CLI `--json`, the dashboard's preview)."""
        plan, parsed = self.plan, self.parsed
        return {
            "layout": parsed.layout,
            "date_order": parsed.date_order,
            "customer_phone": plan.customer_phone,
            "customer_name": plan.customer_name,
            "business_authors": list(plan.business_authors),
            "messages": len(plan.messages),
            "customer_messages": plan.count(from_me=False),
            "team_messages": plan.count(from_me=True),
            "first": plan.first.isoformat() if plan.first else None,
            "last": plan.last.isoformat() if plan.last else None,
            "system_lines_skipped": parsed.system_lines,
            "lines_not_understood": parsed.unparsed_count,
            "not_understood": [{"line": n, "text": t} for n, t in parsed.unparsed],
        }


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did."""

    new: int
    duplicates: int
    processing: ProcessStats

    def to_dict(self) -> dict[str, Any]:
        """JSON form (added to the preview's)."""
        return {"new": self.new, "duplicates_skipped": self.duplicates, "rules_fired": self.processing.fired,
                "outbox_queued": self.processing.queued, "errors": len(self.processing.errors)}


def preview(text: str, sides: Sides, *, tz: tzinfo, date_order: str | None = None) -> Preview:
    """Parse and plan (raises `engine.chat_export.ExportError` with the reason)."""
    parsed = parse_export(text, date_order=date_order)
    return Preview(parsed, plan_import(parsed, sides, tz=tz))


def store_history(processor: Processor, messages: Sequence[Message], received_at: datetime, *,
                  rules: bool | None = None) -> Imported:
    """Ingest history messages chunk by chunk (each chunk and its effects in one transaction);
    `rules` says whether they go through the rules (default: the processor's `history_rules`)."""
    new = duplicates = 0
    total = ProcessStats()
    for start in range(0, len(messages), CHUNK):
        results, stats = processor.ingest_history(messages[start:start + CHUNK], received_at, rules=rules)
        new += sum(1 for r in results if not r.duplicate)
        duplicates += sum(1 for r in results if r.duplicate)
        total.processed += stats.processed
        total.fired += stats.fired
        total.status_changes += stats.status_changes
        total.queued += stats.queued
        total.errors.extend(stats.errors)
    return Imported(new, duplicates, total)
