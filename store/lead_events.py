"""Changes to leads by people and other systems (issue #13), as events in the inbox.

A change (create, patch, delete, a whole CSV import) is committed first as an inbox row of
kind `change`, in the same id order as messages; the Processor applies it when it reaches
that row, to the lead as it is then, in one transaction with its rule effects and the
processed mark (the same guarantees as a message: exactly once, in arrival order, nothing
acknowledged is lost). The HTTP API and the CLI answer once that transaction committed.

A change refused when it is applied (the lead was deleted, or created, meanwhile) is marked
`error` with `not_found: …` / `lead_exists: …`, so another process can read the outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from operator import itemgetter
from typing import Any

import orjson
from sqlite_utils import Database

from engine.changes import LeadEdit, apply_edit, new_lead_from_edit
from engine.evaluate import Outcome, RuleRunRecord, process_change
from engine.model import Lead, Workspace, phone_to_jid
from engine.ruleset import RuleSet
from store.leads import (
    LEAD_MESSAGE_IDS,
    LEAD_UPSERT,
    get_lead,
    lead_diff,
    lead_to_row,
    leads_by_phone,
)
from store.outbox import OutboxPolicy, enqueue, forget_delivered
from store.runs import RUNS, run_rows
from store.subscriptions import Subscription, change_events, queue_events
from store.write_behind import row_insert

CHANGE_SESSION = "wabridge"
CHANGE_CHAT = "lead-change"
CHANGE_OPS = ("create", "patch", "delete", "import")
LEAD_CHANGES = row_insert("lead_changes", ("at", "lead_phone", "inbox_id", "changes", "changed_by"))
HISTORY_INSERT = LEAD_CHANGES.each


@dataclass(frozen=True, slots=True)
class LeadChange:
    """One change as committed: what, to which lead(s), by whom, and whether rules react."""

    op: str
    by: str
    phone: str = ""
    edit: LeadEdit = LeadEdit()
    rules: bool = True
    rows: tuple[tuple[str, LeadEdit], ...] = ()  # import: (phone, edit) per CSV row

    def payload(self) -> str:
        """The inbox payload."""
        body: dict[str, Any] = {"op": self.op, "by": self.by, "phone": self.phone, "rules": self.rules}
        if self.op == "import":
            body["rows"] = [[phone, edit.to_dict()] for phone, edit in self.rows]
        elif self.op != "delete":
            body["edit"] = self.edit.to_dict()
        return orjson.dumps(body).decode()

    @classmethod
    def from_payload(cls, payload: str) -> LeadChange:
        """Read an inbox payload back."""
        raw = orjson.loads(payload)
        rows = tuple((str(phone), LeadEdit.from_dict(edit)) for phone, edit in raw.get("rows") or ())
        return cls(str(raw["op"]), str(raw["by"]), str(raw.get("phone") or ""),
                   LeadEdit.from_dict(raw.get("edit") or {}), bool(raw.get("rules", True)), rows)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What applying a change did; `outcome` is ok, not_found, lead_exists or error."""

    event_id: int
    outcome: str
    message: str = ""
    lead: Lead | None = None
    runs: tuple[RuleRunRecord, ...] = ()
    status_changes: tuple[tuple[str, str], ...] = ()
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0

    @property
    def fired(self) -> int:
        """Rules that fired because of the change."""
        return sum(1 for run in self.runs if run.fired)


def submit_change(db: Database, change: LeadChange, now: datetime) -> int:
    """Commit the change as a pending inbox row (durable when this returns); its id."""
    return submit_changes(db, [change], now)[0]


def submit_changes(db: Database, changes: Sequence[LeadChange], now: datetime) -> list[int]:
    """Commit several changes in one transaction (one fsync), in order; their ids."""
    stamp = now.isoformat()
    ids: list[int] = []
    with db.atomic():
        for change in changes:
            cursor = db.conn.execute(
                "INSERT INTO inbox (session, chat, message_id, lead_phone, timestamp, received_at, payload, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'change')",
                (CHANGE_SESSION, CHANGE_CHAT, uuid.uuid4().hex, change.phone if change.op != "import" else "",
                 stamp, stamp, change.payload()))
            ids.append(int(cursor.lastrowid or 0))
    return ids


def stored_result(db: Database, event_id: int) -> ChangeResult | None:
    """The outcome of a change another process applied, or None while it is pending."""
    row = db.conn.execute("SELECT state, error, lead_phone, fired FROM inbox WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        return ChangeResult(event_id, "error", "the change is not in the inbox")
    state, error, phone, _fired = row
    if state == "pending":
        return None
    if state == "error":
        code, _, message = str(error or "error: ").partition(": ")
        known = code if code in ("not_found", "lead_exists") else "error"
        return ChangeResult(event_id, known, message if known != "error" else str(error))
    runs = tuple(RuleRunRecord(rule_id, name, trigger, bool(fired), err, tuple(orjson.loads(notes)))
                 for rule_id, name, trigger, fired, err, notes in db.conn.execute(
                     "SELECT rule_id, rule_name, trigger, fired, error, notes FROM rule_runs WHERE inbox_id = ? "
                     "ORDER BY id", (event_id,)))
    return ChangeResult(event_id, "ok", lead=get_lead(db, phone) if phone else None, runs=runs)


class ChangeApplier:
    """Applies one change event inside the caller's transaction (the Processor's)."""

    def __init__(self, db: Database, ruleset: RuleSet, workspace: Workspace, policy: OutboxPolicy,
                 subscriptions: Sequence[Subscription] = ()) -> None:
        self.db = db
        self.ruleset = ruleset
        self.workspace = workspace
        self.policy = policy
        self.subscriptions = subscriptions  # event webhooks: lead.created / lead.updated / lead.status_changed

    def apply(self, event_id: int, payload: str, now: datetime) -> ChangeResult:
        """Apply the change to the leads as they are now; mark the event done (or refused)."""
        change = LeadChange.from_payload(payload)
        if change.op == "import":
            return self._import(event_id, change, now)
        lead = get_lead(self.db, change.phone)
        if change.op == "create" and lead is not None:
            return self._refuse(event_id, "lead_exists", f"phone: {change.phone} already has a lead", now)
        if change.op in ("patch", "delete") and lead is None:
            return self._refuse(event_id, "not_found", f"phone: no lead with phone {change.phone}", now)
        if change.op == "delete":
            assert lead is not None
            forget_lead(self.db, change.phone, before=event_id)
            self._done(event_id, now, 0, scrub='{"op": "delete"}')
            return ChangeResult(event_id, "ok")
        statuses = self.workspace.statuses
        after = (new_lead_from_edit(change.phone, change.edit, now, statuses) if lead is None
                 else apply_edit(lead, change.edit, now))
        outcome = self._react(lead, after, change, now)
        history, runs = self._effects(lead, after, outcome, change.by, now, event_id)
        if outcome.lead is not lead:
            self.db.conn.execute(LEAD_UPSERT, lead_to_row(outcome.lead))
        self.db.conn.executemany(HISTORY_INSERT, history)
        RUNS.executemany(self.db.conn, runs)
        queued = self._queue(outcome, event_id, now) + self._tell(lead, outcome, change.by, f"change:{event_id}", now)
        self._done(event_id, now, outcome.fired)
        return ChangeResult(event_id, "ok", lead=outcome.lead, runs=outcome.runs,
                            status_changes=outcome.status_changes, created=int(lead is None),
                            updated=int(lead is not None and after is not lead),
                            unchanged=int(after is lead), queued=queued)

    def _react(self, before: Lead | None, after: Lead, change: LeadChange, now: datetime) -> Outcome:
        if after is before:
            return Outcome(after, False, (), (), ())
        return process_change(self.ruleset, before, after, changed_by=change.by, now=now,
                              tz=self.workspace.tz, rules=change.rules)

    def _effects(self, before: Lead | None, after: Lead, outcome: Outcome, by: str, now: datetime,
                 event_id: int | None) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """History rows (the person's change, then the rules' one) and rule-run rows."""
        stamp = now.isoformat()
        history: list[tuple[Any, ...]] = []
        person = history_diff(before, after)
        if person:
            history.append((stamp, after.phone, event_id, orjson.dumps(person, default=str).decode(), by))
        rules = history_diff(after, outcome.lead)
        if rules:
            history.append((stamp, after.phone, event_id, orjson.dumps(rules, default=str).decode(),
                            rule_origin(outcome.runs)))
        runs = run_rows(outcome.runs, at=stamp, inbox_id=event_id, lead_phone=after.phone)
        return history, runs

    def _queue(self, outcome: Outcome, event_id: int | None, now: datetime) -> int:
        if not outcome.requests and not (outcome.status_changes and self.policy.watches_status):
            return 0
        return len(enqueue(self.db, outcome.requests, lead=outcome.lead, message=None, inbox_id=event_id,
                           workspace=self.workspace.name, now=now, status_changes=outcome.status_changes,
                           policy=self.policy))

    def _tell(self, before: Lead | None, outcome: Outcome, by: str, key: str, now: datetime) -> int:
        """Queue the change's events for the webhook subscriptions that want them."""
        if not self.subscriptions or outcome.lead is before:
            return 0
        events = change_events(before, outcome.lead, key=key, by=by, status_changes=outcome.status_changes,
                               changes=lead_diff(before, outcome.lead) if before is not None else {})
        return queue_events(self.db, events, self.subscriptions, workspace=self.workspace.name, now=now)

    def _import(self, event_id: int, change: LeadChange, now: datetime) -> ChangeResult:
        """Every row of a CSV import in this one transaction (all or nothing)."""
        existing = leads_by_phone(self.db, [phone for phone, _ in change.rows])
        statuses = self.workspace.statuses
        created = updated = unchanged = queued = fired = 0
        leads: list[tuple[Any, ...]] = []
        history: list[tuple[Any, ...]] = []
        runs: list[tuple[Any, ...]] = []
        all_runs: list[RuleRunRecord] = []
        for phone, edit in change.rows:
            lead = existing.get(phone)
            after = new_lead_from_edit(phone, edit, now, statuses) if lead is None else apply_edit(lead, edit, now)
            if after is lead:
                unchanged += 1
                continue
            created, updated = (created + 1, updated) if lead is None else (created, updated + 1)
            outcome = self._react(lead, after, change, now)
            existing[phone] = outcome.lead
            leads.append(lead_to_row(outcome.lead))
            # History and runs of an import are kept by lead (inbox_id NULL): one event, many leads.
            rows, run_list = self._effects(lead, after, outcome, change.by, now, None)
            history.extend(rows)
            runs.extend(run_list)
            all_runs.extend(outcome.runs)
            fired += outcome.fired
            queued += self._queue(outcome, None, now) + self._tell(lead, outcome, change.by,
                                                                   f"change:{event_id}:{phone}", now)
        conn = self.db.conn
        conn.executemany(LEAD_UPSERT, leads)
        conn.executemany(HISTORY_INSERT, history)
        RUNS.executemany(conn, runs)
        # The rows' phones and values are in the leads now; the event keeps only its size.
        summary = orjson.dumps({"op": "import", "by": change.by, "rows": len(change.rows)}).decode()
        self._done(event_id, now, fired, scrub=summary)
        return ChangeResult(event_id, "ok", runs=tuple(all_runs), created=created, updated=updated,
                            unchanged=unchanged, queued=queued)

    def _refuse(self, event_id: int, code: str, message: str, now: datetime) -> ChangeResult:
        self.db.conn.execute("UPDATE inbox SET state = 'error', error = ?, processed_at = ? WHERE id = ?",
                             (f"{code}: {message}", now.isoformat(), event_id))
        return ChangeResult(event_id, code, message)

    def _done(self, event_id: int, now: datetime, fired: int, scrub: str | None = None) -> None:
        if scrub is None:
            self.db.conn.execute("UPDATE inbox SET state = 'done', processed_at = ?, fired = ? WHERE id = ?",
                                 (now.isoformat(), fired, event_id))
        else:
            self.db.conn.execute("UPDATE inbox SET state = 'done', processed_at = ?, fired = ?, payload = ?, "
                                 "lead_phone = '' WHERE id = ?", (now.isoformat(), fired, scrub, event_id))


def history_diff(before: Lead | None, after: Lead) -> dict[str, list[Any]]:
    """Tracked fields that changed, {field: [old, new]}; a created lead also lists what was set."""
    if before is None:
        diff = lead_diff(None, after)
        blank = Lead(phone=after.phone, jid=after.jid, status=after.status)
        diff.update({name: pair for name, pair in lead_diff(blank, after).items() if name != "status"})
        return diff
    return lead_diff(before, after) if before is not after else {}


_rule_name = itemgetter(RuleRunRecord._fields.index("rule_name"))
_rule_fired = itemgetter(RuleRunRecord._fields.index("fired"))


def rule_origin(runs: Sequence[RuleRunRecord]) -> str:
    """`changed_by` of a change rules made: `rule:<names of the rules that fired>`."""
    # In C (compress, map, dict.fromkeys): a heavy rule set fires five or more rules a message.
    names = dict.fromkeys(compress(map(_rule_name, runs), map(_rule_fired, runs)))
    return "rule:" + ", ".join(names) if names else "rule"


def forget_lead(db: Database, phone: str, *, before: int) -> None:
    """Erase a lead: its row, messages, rule runs, history and undelivered outbox entries
    ("forget this customer"), and everything else that names the customer. Call inside a
    transaction. Inbox rows from `before` on (the delete event itself, messages and changes
    that arrived after it) stay: they are still to be processed, and a later message starts
    a fresh lead.

    The rest: the user ids known to be theirs go, and so do their attribution records and
    check-in attempts. A visitor click their message upgraded stays as an anonymous click, a
    check-in still counts for its event's attendance, a ticket issued to them stays valid, and
    a delivered outbox entry stays in the delivery log and its counts
    (store.outbox.forget_delivered), but none says who any more.
    """
    conn = db.conn
    for table in ("rule_runs", "lead_changes"):
        conn.execute(f"DELETE FROM {table} WHERE inbox_id IN ({LEAD_MESSAGE_IDS} AND id < ?)", (phone, before))
        conn.execute(f"DELETE FROM {table} WHERE inbox_id IS NULL AND lead_phone = ?", (phone,))
    conn.execute("DELETE FROM outbox WHERE lead_phone = ? AND state != 'delivered'", (phone,))
    forget_delivered(db, phone)
    jids = [jid for (jid,) in conn.execute("SELECT jid FROM leads WHERE phone = ?", (phone,))]
    conn.executemany("DELETE FROM history_chats WHERE chat = ?", [(jid,) for jid in {*jids, phone_to_jid(phone)}])
    conn.execute("DELETE FROM inbox WHERE lead_phone = ? AND id < ?", (phone, before))
    conn.execute("DELETE FROM leads WHERE phone = ?", (phone,))
    conn.execute("DELETE FROM lead_aliases WHERE phone = ? OR alias = ?", (phone, phone))
    conn.execute("DELETE FROM attribution_log WHERE lead_phone = ?", (phone,))
    conn.execute("UPDATE visitors SET lead_phone = NULL, inbox_id = NULL WHERE lead_phone = ?", (phone,))
    conn.execute("DELETE FROM checkin_attempts WHERE phone = ?", (phone,))
    conn.execute("UPDATE checkins SET phone = NULL, phone_key = NULL, name = NULL, inbox_id = NULL "
                 "WHERE phone = ?", (phone,))
    # A ticket issued to them stays a ticket (usable, counted), no longer saying whose.
    conn.execute("UPDATE event_codes SET name = NULL, phone = NULL, email = NULL WHERE phone = ?", (phone,))


def import_counts(db: Database, rows: Sequence[tuple[str, LeadEdit]], now: datetime,
                  statuses: Sequence[str]) -> dict[str, int]:
    """What an import would do, before rules (a dry run writes nothing)."""
    existing = leads_by_phone(db, [phone for phone, _ in rows])
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for phone, edit in rows:
        lead = existing.get(phone)
        if lead is None:
            counts["created"] += 1
        elif apply_edit(lead, edit, now) is lead:
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
    return counts


def other_writers_version(db: Database) -> int:
    """PRAGMA data_version: changes when another connection (a CLI command) commits."""
    return int(db.conn.execute("PRAGMA data_version").fetchone()[0])
