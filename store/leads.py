"""Leads: rows ↔ `engine.model.Lead`, lookups, filtered listing for export and the API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
from sqlite_utils import Database

from engine.model import Lead

LEAD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Lead))
LEAD_SELECT = f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads"
LEAD_UPSERT = (
    f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' for _ in LEAD_COLUMNS)}) "
    f"ON CONFLICT(phone) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LEAD_COLUMNS if c != "phone")
)
# Filters the export and the API accept: column → SQL.
FILTERS: dict[str, str] = {
    "status": "status = ?",
    "source": "source = ?",
    "utm_source": "utm_source = ?",
    "utm_medium": "utm_medium = ?",
    "utm_campaign": "utm_campaign = ?",
    "city": "city = ?",
    "phone": "phone = ?",
    "tag": "EXISTS (SELECT 1 FROM json_each(leads.tags) WHERE value = ?)",
    "q": "(phone LIKE ? OR name LIKE ? OR notes LIKE ?)",
    "updated_since": "updated_at >= ?",
}


def lead_from_row(row: tuple[Any, ...]) -> Lead:
    """Build a Lead from a row in LEAD_COLUMNS order."""
    values = dict(zip(LEAD_COLUMNS, row, strict=True))
    values["tags"] = frozenset(orjson.loads(values["tags"] or "[]"))
    for key in ("created_at", "updated_at"):
        if values[key] is not None:
            values[key] = datetime.fromisoformat(values[key])
    return Lead(**values)


def lead_to_row(lead: Lead) -> tuple[Any, ...]:
    """Return the row values in LEAD_COLUMNS order (tags as a sorted JSON list)."""
    out: list[Any] = []
    for name in LEAD_COLUMNS:
        value = getattr(lead, name)
        if name == "tags":
            value = orjson.dumps(sorted(value)).decode()
        elif isinstance(value, datetime):
            value = value.isoformat()
        out.append(value)
    return tuple(out)


def get_lead(db: Database, phone: str) -> Lead | None:
    """Return the lead with this phone (digits), or None."""
    row = db.conn.execute(f"{LEAD_SELECT} WHERE phone = ?", (phone,)).fetchone()
    return lead_from_row(row) if row else None


def upsert_lead(db: Database, lead: Lead) -> None:
    """Insert or replace the lead's row (call inside `db.atomic()`)."""
    db.conn.execute(LEAD_UPSERT, lead_to_row(lead))


@dataclass(frozen=True, slots=True)
class LeadQuery:
    """Filters for listing leads; every key of FILTERS, plus paging."""

    filters: Mapping[str, str]
    limit: int | None = None
    offset: int = 0


def unknown_filters(filters: Mapping[str, str]) -> list[str]:
    """Names in `filters` that are not lead filters (to report them to the user)."""
    return sorted(set(filters) - set(FILTERS))


def iter_leads(db: Database, query: LeadQuery | None = None) -> Iterator[Lead]:
    """Yield leads matching the filters, most recently updated first."""
    query = query or LeadQuery({})
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in query.filters.items():
        clause = FILTERS[key]
        clauses.append(clause)
        if key == "q":
            like = f"%{value}%"
            params.extend([like, like, like])
        else:
            params.append(value)
    sql = LEAD_SELECT + (" WHERE " + " AND ".join(clauses) if clauses else "")
    sql += " ORDER BY updated_at DESC, phone"
    if query.limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([query.limit, query.offset])
    for row in db.conn.execute(sql, params):
        yield lead_from_row(row)


def count_leads_by_status(db: Database) -> dict[str, int]:
    """How many leads are in each status."""
    return {s: n for s, n in db.conn.execute("SELECT status, COUNT(*) FROM leads GROUP BY status")}


def lead_changes(db: Database, phone: str, limit: int = 200) -> list[dict[str, Any]]:
    """The lead's value/status history, newest first: {"at", "inbox_id", "changes": {field: [old, new]}}."""
    rows = db.conn.execute(
        "SELECT at, inbox_id, changes FROM lead_changes WHERE lead_phone = ? ORDER BY id DESC LIMIT ?",
        (phone, limit))
    return [{"at": at, "inbox_id": inbox_id, "changes": orjson.loads(changes)} for at, inbox_id, changes in rows]
