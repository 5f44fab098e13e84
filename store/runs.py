"""Rule runs: which rule fired (or failed) on which message; kept for a retention period."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from engine.evaluate import RuleRunRecord
from store.leads import LEAD_MESSAGE_IDS
from store.write_behind import row_insert

# The event's columns first, then a RuleRunRecord's in its own order: a row is one tuple sum.
RUNS = row_insert("rule_runs", ("at", "inbox_id", "lead_phone", "rule_id", "rule_name", "trigger", "fired",
                                "error", "notes"), json_columns=("notes",))


def record_runs(db: Database, runs: Sequence[RuleRunRecord], *, at: datetime,
                inbox_id: int | None, lead_phone: str | None) -> None:
    """Write the rule runs of one event (inside the event's transaction)."""
    RUNS.executemany(db.conn, run_rows(runs, at=at.isoformat(), inbox_id=inbox_id, lead_phone=lead_phone))


def run_rows(runs: Sequence[RuleRunRecord], *, at: str, inbox_id: int | None,
             lead_phone: str | None) -> list[tuple[Any, ...]]:
    """Rows for RUNS, notes still a tuple (RUNS.executemany or a write-behind encodes them)."""
    event = (at, inbox_id, lead_phone)
    return [event + run for run in runs]  # a heavy rule set fires five or more rules a message


def prune_runs(db: Database, now: datetime, keep_days: int) -> int:
    """Delete rule runs older than `keep_days`; return how many went."""
    cutoff = (now - timedelta(days=keep_days)).isoformat()
    with db.atomic():
        # Runs are appended in time order, so "older than" is "below the first recent id"
        # (no index on `at` to maintain on every insert).
        cursor = db.conn.execute(
            "DELETE FROM rule_runs WHERE id < COALESCE((SELECT MIN(id) FROM rule_runs WHERE at >= ?), "
            "(SELECT MAX(id) + 1 FROM rule_runs))", (cutoff,))
    return cursor.rowcount


def recent_runs(db: Database, *, limit: int = 100, lead_phone: str | None = None,
                errors_only: bool = False) -> list[dict[str, Any]]:
    """Newest rule runs first, optionally for one lead or only the failed ones; each with its
    lead's jid (`lead_jid`, None once the lead is gone)."""
    columns = "id, at, rule_id, rule_name, trigger, inbox_id, lead_phone, fired, error, notes"
    errors = " AND error IS NOT NULL" if errors_only else ""
    params: list[str | int] = []
    if lead_phone:
        # Through the lead's messages (index on inbox_id, see m005), plus runs without a message.
        sql = (f"SELECT {columns} FROM (SELECT {columns} FROM rule_runs WHERE inbox_id IN ({LEAD_MESSAGE_IDS}){errors} "
               f"UNION ALL SELECT {columns} FROM rule_runs WHERE inbox_id IS NULL AND lead_phone = ?{errors})")
        params.extend([lead_phone, lead_phone])
    else:
        sql = f"SELECT {columns} FROM rule_runs" + (" WHERE error IS NOT NULL" if errors_only else "")
    # The lead's jid beside its key: a lead known only by a LID reads "WhatsApp LID …", not "+…".
    sql = (f"SELECT r.*, (SELECT jid FROM leads WHERE leads.phone = r.lead_phone) "
           f"FROM ({sql} ORDER BY id DESC LIMIT ?) AS r ORDER BY r.id DESC")
    params.append(limit)
    keys = ("id", "at", "rule_id", "rule_name", "trigger", "inbox_id", "lead_phone", "fired", "error", "notes",
            "lead_jid")
    out = []
    for row in db.conn.execute(sql, params):
        item = dict(zip(keys, row, strict=True))
        item["fired"] = bool(item["fired"])
        item["notes"] = json.loads(str(item["notes"]))
        out.append(item)
    return out
