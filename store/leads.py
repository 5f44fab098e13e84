"""Leads: rows ↔ `engine.model.Lead`, lookups, filtered listing for export and the API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import compress
from operator import is_not, itemgetter, ne
from typing import Any

import orjson
from sqlite_utils import Database

from engine.memo import iso_text, sorted_tags
from engine.model import LEAD_FIELDS, Lead

LEAD_COLUMNS: tuple[str, ...] = LEAD_FIELDS
# Fields whose changes are kept as the lead's history (chat_count/updated_at change every time).
_TRACKED = tuple(name for name in LEAD_FIELDS if name not in ("chat_count", "updated_at", "created_at"))
_tracked_values = itemgetter(*(LEAD_FIELDS.index(name) for name in _TRACKED))  # in C, on the tuple
_TRACKED_POSITIONS = tuple(range(len(_TRACKED)))
_TRACKED_TAGS = _TRACKED.index("tags")
_TAGS = LEAD_COLUMNS.index("tags")
_DATES = (LEAD_COLUMNS.index("created_at"), LEAD_COLUMNS.index("updated_at"))
LEAD_SELECT = f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads"
_ALWAYS = object()  # compared with `is not`: never the value, so the column is always named
# Per column: None when an unset value may be left to the column's default, which is NULL for
# every optional field (tests/store/test_group_commit.py checks it against the schema).
_LEFT_OUT_WHEN = tuple(None if Lead._field_defaults.get(name, _ALWAYS) is None else _ALWAYS for name in LEAD_FIELDS)
_UPDATABLE = tuple(range(1, len(LEAD_COLUMNS)))  # every column but phone (the key)
LEAD_UPSERT = (
    f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' for _ in LEAD_COLUMNS)}) "
    f"ON CONFLICT(phone) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LEAD_COLUMNS if c != "phone")
)
# The inbox ids of one lead's messages: rule runs and lead changes are found through them
# (see migration m005), plus the rows written without a message (inbox_id NULL).
LEAD_MESSAGE_IDS = "SELECT id FROM inbox WHERE lead_phone = ?"
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


def lead_diff(before: Lead | None, after: Lead) -> dict[str, list[Any]]:
    """Tracked fields that changed, as {field: [old, new]} (JSON-ready)."""
    if before is None:
        return {"created": [None, after.status]}
    old_values, new_values = _tracked_values(before), _tracked_values(after)
    if old_values == new_values:
        return {}
    diff: dict[str, list[Any]] = {}
    # The changed positions found in C (map, compress): this runs for nearly every message.
    for position in compress(_TRACKED_POSITIONS, map(ne, old_values, new_values)):
        old, new = old_values[position], new_values[position]
        if position == _TRACKED_TAGS:
            old, new = sorted_tags(old), sorted_tags(new)
        diff[_TRACKED[position]] = [old, new]
    return diff


def lead_from_row(row: tuple[Any, ...]) -> Lead:
    """Build a Lead from a row in LEAD_COLUMNS order."""
    values = list(row)
    values[_TAGS] = frozenset(orjson.loads(values[_TAGS] or "[]"))
    for index in _DATES:
        if values[index] is not None:
            values[index] = datetime.fromisoformat(values[index])
    lead: Lead = tuple.__new__(Lead, values)  # all its values, in order: no Python-level __new__
    return lead


def lead_to_row(lead: Lead) -> tuple[Any, ...]:
    """Return the row values in LEAD_COLUMNS order (tags as a sorted JSON list)."""
    values: list[Any] = list(lead)
    values[_TAGS] = orjson.dumps(sorted_tags(values[_TAGS])).decode()
    for index in _DATES:
        if values[index] is not None:
            values[index] = iso_text(values[index])
    return tuple(values)


def lead_inserts(leads: Iterable[Lead]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """INSERT statements for new leads, naming only the columns each one has set, grouped by
    which ones. A first message sets 11 of the 27 (phone, name, status, times, ...), and each
    NULL bound costs Python's sqlite3 module a failed adapter lookup: an insert took 3.4
    against 8.0 µs (scripts/bench.py's heavy profile creates a lead every third message).
    Returns (sql, parameter rows) pairs."""
    groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for lead in leads:
        row = lead_to_row(lead)
        named = tuple(map(is_not, row, _LEFT_OUT_WHEN))  # in C: this runs for every new lead
        groups.setdefault(named, []).append(tuple(compress(row, named)))
    return [(_insert_sql(named), rows) for named, rows in groups.items()]


@lru_cache(maxsize=256)
def _insert_sql(named: tuple[bool, ...]) -> str:
    columns = list(compress(LEAD_COLUMNS, named))
    return f"INSERT INTO leads ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def lead_updates(pairs: Iterable[tuple[Lead, Lead]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """UPDATE statements taking each lead from its stored row (`before`) to `after`.

    Only the columns that changed are written, grouped by which ones (most messages change
    chat_count and updated_at only): binding 3 values instead of 28 is most of an update's
    cost. Returns (sql, parameter rows) pairs; leads that did not change are left out.
    """
    groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for before, after in pairs:
        # Compared in C (map, compress): this runs for every lead a batch touched.
        changed = tuple(compress(_UPDATABLE, map(ne, before[1:], after[1:])))
        if changed:
            values = [after[i] for i in changed]
            for position, index in _stored_as_text(changed):  # tags and dates
                values[position] = _column_value(index, values[position])
            values.append(after.phone)
            groups.setdefault(changed, []).append(tuple(values))
    return [(_update_sql(columns), rows) for columns, rows in groups.items()]


@lru_cache(maxsize=256)
def _stored_as_text(columns: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(position, column) of the columns among these that are stored as text: tags, dates."""
    return tuple((position, index) for position, index in enumerate(columns) if index == _TAGS or index in _DATES)


def _column_value(index: int, value: Any) -> Any:
    if index == _TAGS:
        return orjson.dumps(sorted_tags(value)).decode()
    if index in _DATES and value is not None:
        return iso_text(value)
    return value


@lru_cache(maxsize=256)
def _update_sql(columns: tuple[int, ...]) -> str:
    return f"UPDATE leads SET {', '.join(f'{LEAD_COLUMNS[i]} = ?' for i in columns)} WHERE phone = ?"


def get_lead(db: Database, phone: str) -> Lead | None:
    """Return the lead with this phone (digits), or None."""
    row = db.conn.execute(f"{LEAD_SELECT} WHERE phone = ?", (phone,)).fetchone()
    return lead_from_row(row) if row else None


def leads_by_phone(db: Database, phones: Sequence[str]) -> dict[str, Lead | None]:
    """The stored leads of these phones (chunked IN queries)."""
    found: dict[str, Lead | None] = {}
    unique = list(dict.fromkeys(phones))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        for row in db.conn.execute(f"{LEAD_SELECT} WHERE phone IN ({', '.join('?' for _ in chunk)})", chunk):
            lead = lead_from_row(row)
            found[lead.phone] = lead
    return found


def upsert_lead(db: Database, lead: Lead) -> None:
    """Insert or replace the lead's row (call inside `db.atomic()`)."""
    db.conn.execute(LEAD_UPSERT, lead_to_row(lead))


@dataclass(frozen=True, slots=True)
class LeadQuery:
    """Filters for listing leads; every key of FILTERS, plus paging.

    With `after_phone` the leads come in phone order, only phones after it (keyset paging:
    a full export sees every lead once even while messages update leads meanwhile).
    """

    filters: Mapping[str, str]
    limit: int | None = None
    offset: int = 0
    after_phone: str | None = None


def checked_filters(filters: Mapping[str, str], statuses: Sequence[str]) -> dict[str, str]:
    """`filters` with each value checked; raise ValueError("NAME: problem") for a wrong one.

    `status` must be a workspace status; `updated_since` an ISO 8601 date-time (or date),
    UTC when it has no offset, compared as stored (UTC ISO text).
    """
    out = dict(filters)
    unknown = unknown_filters(out)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a lead filter (known: {', '.join(sorted(FILTERS))})")
    if "status" in out and out["status"] not in statuses:
        raise ValueError(f"status: {out['status'][:60]!r} is not one of {', '.join(statuses)}")
    if "updated_since" in out:
        raw = out["updated_since"]
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValueError(f"updated_since: {raw[:60]!r} is not a date-time such as "
                             "2026-12-01T09:00:00+07:00") from None
        out["updated_since"] = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return out


def unknown_filters(filters: Mapping[str, str]) -> list[str]:
    """Names in `filters` that are not lead filters (to report them to the user)."""
    return sorted(set(filters) - set(FILTERS))


def iter_leads(db: Database, query: LeadQuery | None = None) -> Iterator[Lead]:
    """Yield leads matching the filters, most recently updated first (phone order with after_phone)."""
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
    if query.after_phone is not None:
        clauses.append("phone > ?")
        params.append(query.after_phone)
    sql = LEAD_SELECT + (" WHERE " + " AND ".join(clauses) if clauses else "")
    sql += " ORDER BY phone" if query.after_phone is not None else " ORDER BY updated_at DESC, phone"
    if query.limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([query.limit, query.offset])
    for row in db.conn.execute(sql, params):
        yield lead_from_row(row)


def count_leads_by_status(db: Database) -> dict[str, int]:
    """How many leads are in each status."""
    return {s: n for s, n in db.conn.execute("SELECT status, COUNT(*) FROM leads GROUP BY status")}


def lead_changes(db: Database, phone: str, limit: int = 200) -> list[dict[str, Any]]:
    """The lead's history, newest first: {"at", "inbox_id", "changes": {field: [old, new]}, "by",
    "rules", "who"} (who made the change: see `describe_origin`)."""
    rows = db.conn.execute(
        "SELECT at, inbox_id, changes, changed_by FROM (SELECT id, at, inbox_id, changes, changed_by FROM lead_changes "
        f"WHERE inbox_id IN ({LEAD_MESSAGE_IDS}) UNION ALL SELECT id, at, inbox_id, changes, changed_by "
        "FROM lead_changes WHERE inbox_id IS NULL AND lead_phone = ?) ORDER BY id DESC LIMIT ?",
        (phone, phone, limit))
    return [{"at": at, "inbox_id": inbox_id, "changes": orjson.loads(changes), **describe_origin(by)}
            for at, inbox_id, changes, by in rows]


def describe_origin(changed_by: str | None) -> dict[str, Any]:
    """{"by": kind, "rules": [...], "who": words} for a history row's `changed_by`."""
    by = changed_by or "message"
    kind, _, names = by.partition(":")
    rules = [name.strip() for name in names.split(",") if name.strip()]
    words: Mapping[str, str] = {"message": "by a message", "dashboard": "by the dashboard", "api": "by the API",
                                "import": "by import", "cli": "by the command line",
                                "history": "by the phone's history"}
    who = ("by rule " + ", ".join(rules) if rules else "by a rule") if kind == "rule" else words.get(kind, f"by {kind}")
    return {"by": kind, "rules": rules, "who": who}
