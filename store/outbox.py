"""The outbox: deliveries (webhooks, replies, conversion events) queued in the same
transaction as the effects that caused them, delivered later by the shell. Bodies are
built here, once, so every retry sends the same bytes with the same event id.

Each entry has a `target`, its delivery lane: `endpoint:NAME` or `url:scheme://host:port`
for webhooks, `reply:<admin number>` for replies, `conversions` for conversion events.
The shell bounds concurrency and paces per lane (store/outbox_delivery.py claims rows).
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlite_utils import Database

from engine.actions import OutboxRequest
from engine.memo import iso_text
from engine.model import Lead, Message, whole_number
from store.webhook_bodies import (
    EventDocuments,
    WebhookPieces,
    event_json,
    webhook_payload,
    webhook_pieces,
    webhook_target,
)
from store.write_behind import Deferred, row_insert

OUTBOX_STATES = ("pending", "delivered", "failed", "dead")
OUTBOX_KINDS = ("webhook", "reply", "conversion", "message")
AUTO_CONVERSION_RULE = "(config) conversions.on_status"
MAX_WEBHOOK_PIECES = 256  # rules' webhook pieces a writer keeps (a batch uses a few)


def ts(moment: datetime) -> str:
    """The one timestamp format of the outbox (UTC, microseconds), so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_id(prefix: str) -> str:
    """A new event id: `prefix` and 128 random bits in hex, the shape of a uuid4's hex.

    Event ids identify, they protect nothing, so they come from `random` (reseeded in every
    forked child) rather than the OS: uuid4 reads os.urandom, a system call per webhook,
    and a heavy rule set queues one per message.
    """
    return f"{prefix}{random.getrandbits(128):032x}"


@dataclass(frozen=True, slots=True)
class ConversionPolicy:
    """What the shell's [conversions] config means for queueing (store cannot read config)."""

    on_status: str | None = None
    event_name: str = "Purchase"
    value_from: str = "value_actual"
    currency: str = "IDR"
    whatsapp_business_account_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """Queueing policy; without `conversions` no conversion event is ever queued."""

    conversions: ConversionPolicy | None = None

    @property
    def watches_status(self) -> bool:
        """Whether status changes alone can queue something (conversions.on_status)."""
        return self.conversions is not None and self.conversions.on_status is not None


def hashed_phone(phone: str) -> str:
    """Meta's `ph`: SHA-256 hex of the digits with country code, no "+" or leading zeros."""
    digits = "".join(ch for ch in phone if ch.isdigit()).lstrip("0")
    return hashlib.sha256(digits.encode("ascii")).hexdigest()


def conversion_body(*, event_name: str, event_id: str, event_time: datetime, lead: Lead,
                    value: float | None, policy: ConversionPolicy) -> dict[str, Any]:
    """One Conversions API request body for business messaging (README: "Conversion events")."""
    user_data: dict[str, Any] = {"ctwa_clid": lead.ctwa_clid, "ph": [hashed_phone(lead.phone)]}
    if policy.whatsapp_business_account_id:
        user_data["whatsapp_business_account_id"] = policy.whatsapp_business_account_id
    custom_data: dict[str, Any] = {"currency": policy.currency}
    if value is not None:
        custom_data["value"] = whole_number(value)
    return {"data": [{
        "event_name": event_name,
        "event_time": int(event_time.timestamp()),
        "event_id": event_id,
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": user_data,
        "custom_data": custom_data,
    }]}


def _replied_recently(db: Database, lead_phone: str, rule_id: int, since: datetime) -> bool:
    row = db.conn.execute(
        "SELECT 1 FROM outbox WHERE lead_phone = ? AND kind = 'reply' AND rule_id = ? AND created_at >= ? "
        "AND state != 'dead' LIMIT 1", (lead_phone, rule_id, ts(since))).fetchone()
    return row is not None


def _auto_conversions(policy: OutboxPolicy, status_changes: Sequence[tuple[str, str]]) -> list[OutboxRequest]:
    conv = policy.conversions
    if conv is None or conv.on_status is None:
        return []
    if not any(to == conv.on_status for _, to in status_changes):
        return []
    payload = {"event_name": conv.event_name, "value_from": conv.value_from}
    return [OutboxRequest("conversion", 0, AUTO_CONVERSION_RULE, payload)]


def _idempotency_key(request: OutboxRequest, index: int, inbox_id: int | None) -> str:
    """One entry per event, rule and request: a redelivered event queues nothing twice."""
    origin = inbox_id if inbox_id is not None else uuid.uuid4().hex
    return f"{request.kind}:{origin}:{request.rule_id}:{index}"


def _prepare(db: Database, request: OutboxRequest, index: int, *, documents: EventDocuments,
             inbox_id: int | None, workspace: str, now: datetime,
             policy: OutboxPolicy) -> tuple[str, str, dict[str, Any]] | None:
    """(idempotency key, target, payload) of one request, or None when it is not to be queued."""
    lead = documents.lead
    key = _idempotency_key(request, index, inbox_id)
    if request.kind == "webhook":
        payload = webhook_payload(request, event_id("evt_"), documents=documents, now=now, workspace=workspace)
        return key, webhook_target(payload), payload
    payload = dict(request.payload)
    if request.kind == "reply":
        cooldown = payload.get("cooldown_hours")
        if cooldown and _replied_recently(db, lead.phone, request.rule_id, now - timedelta(hours=float(cooldown))):
            return None  # "at most once per lead per N hours"
        return key, f"reply:{payload.get('session')}", payload
    if request.kind == "conversion":
        conv = policy.conversions
        if conv is None or not lead.ctwa_clid:
            return None  # nothing is queued without [conversions], nor for a lead no ad click brought
        event_name = str(payload.get("event_name") or conv.event_name)
        field = str(payload.get("value_from") or conv.value_from).removeprefix("lead.")
        value = getattr(lead, field, None)
        conversion_id = event_id("conv_")
        body = conversion_body(event_name=event_name, event_id=conversion_id, event_time=now, lead=lead,
                               value=value if isinstance(value, int | float) else None, policy=conv)
        # One key per lead and event name: the UNIQUE index makes "sent once" hold forever.
        return f"conversion:{lead.phone}:{event_name}", "conversions", {
            "event_name": event_name, "event_id": conversion_id, "body": body}
    return key, request.kind, payload


OUTBOX_ROWS = row_insert("outbox", ("kind", "idempotency_key", "rule_id", "lead_phone", "inbox_id", "payload",
                                    "target", "next_attempt_at", "retry_since", "created_at", "updated_at"),
                        "ON CONFLICT (idempotency_key) DO NOTHING", bytes_column="payload")
OUTBOX_INSERT = OUTBOX_ROWS.each


class OutboxWriter:
    """A transaction's outbox entries, inserted together with one executemany.

    A batch of a thousand messages queues a thousand webhooks or more; one statement per
    entry cost more than building them. Reads of the outbox while queueing (a reply's
    cooldown) flush first, so they see every entry queued before them, as with one
    INSERT per entry.
    """

    __slots__ = ("db", "rows", "ids", "_stamped", "_pieces", "_by_request")

    def __init__(self, db: Database, *, keep_ids: bool = False) -> None:
        self.db = db
        self.rows: list[tuple[Any, ...]] = []
        # With keep_ids, entries go one INSERT each and the new entries' ids are kept here.
        self.ids: list[int] | None = [] if keep_ids else None
        self._stamped: tuple[datetime, str] | None = None  # a batch shares one `now`
        self._pieces: dict[tuple[Any, ...], WebhookPieces] = {}
        self._by_request: dict[int, tuple[OutboxRequest, datetime, str, WebhookPieces]] = {}

    def add(self, requests: Sequence[OutboxRequest], *, lead: Lead, message: Message | None,
            inbox_id: int | None, workspace: str, now: datetime,
            status_changes: Sequence[tuple[str, str]] = (), policy: OutboxPolicy | None = None,
            message_json: str | None = None) -> int:
        """Queue one event's requests (and its automatic conversions); return how many rows.

        `message_json`: `message.to_dict()` already serialised (its inbox row's payload),
        embedded as it is instead of building and serialising the dict again.
        """
        stamped = self._stamped
        if stamped is None or stamped[0] is not now:
            stamped = self._stamped = (now, ts(now))
        stamp = stamped[1]
        # Only a policy watching statuses queues anything of its own.
        conversions = _auto_conversions(policy, status_changes) if policy is not None and policy.watches_status else ()
        # The event's lead and message as JSON, serialised once for all its webhooks (a heavy
        # rule set queues one or more a message; no documents object built for them).
        lead_json: bytes | None = None
        message_bytes = b""
        documents: EventDocuments | None = None  # for entries other than pieced webhooks
        by_request = self._by_request
        added = 0
        for index, request in enumerate([*requests, *conversions] if conversions else requests):
            pieces: WebhookPieces | None = None
            if request.kind == "webhook":
                seen = by_request.get(id(request))
                if seen is not None and seen[0] is request and seen[1] is now and seen[2] == workspace:
                    pieces = seen[3]  # the same request again (Send Webhook builds one per rule): no key to build
                else:
                    pieces = self._remember(request, now, workspace)
            if pieces is not None:
                if lead_json is None:
                    lead_json, message_bytes = event_json(lead, message, message_json)
                payload = pieces.payload(event_id("evt_").encode(), lead_json, message_bytes)
                target = pieces.target
                key = _idempotency_key(request, index, inbox_id)
            else:
                if request.kind == "reply" and request.payload.get("cooldown_hours"):
                    self.flush()  # the cooldown reads the outbox: it must hold every earlier entry
                if documents is None:
                    documents = EventDocuments(lead, message, message_json)
                prepared = _prepare(self.db, request, index, documents=documents, inbox_id=inbox_id,
                                    workspace=workspace, now=now, policy=policy or OutboxPolicy())
                if prepared is None:
                    continue
                key, target, fields = prepared
                payload = orjson.dumps(fields)
            # The payload stays bytes: a write behind takes them as they are (store.write_behind).
            self.rows.append((request.kind, key, request.rule_id or None, lead.phone, inbox_id,
                              payload, target, stamp, stamp, stamp, stamp))  # (a flush replaces the list)
            added += 1
        return added

    def _remember(self, request: OutboxRequest, now: datetime, workspace: str) -> WebhookPieces | None:
        """A webhook request's pieces (`_pieces_of`), kept by the request's identity; None for a
        request whose fields the pieces cannot hold (one naming `event_id` or `body`, which the
        envelope sets)."""
        pieces = self._pieces_of(request, now, workspace)
        if pieces is None:
            return None
        if len(self._by_request) >= MAX_WEBHOOK_PIECES:
            self._by_request.clear()
        # The request is kept with its pieces, so its id cannot be another's while it is here.
        self._by_request[id(request)] = (request, now, workspace, pieces)
        return pieces

    def _pieces_of(self, request: OutboxRequest, now: datetime, workspace: str) -> WebhookPieces | None:
        """The pieces of a request's payloads, shared by every request of its rule with equal
        fields; None for fields the pieces cannot hold."""
        fields = request.payload
        if "event_id" in fields or "body" in fields:
            return None
        occurred_at = iso_text(now)
        # Keyed by the fields as serialised: equal values of other types (1, 1.0, True) differ there.
        fields_json = orjson.dumps(fields)
        key = (request.rule_id, request.rule_name, workspace, occurred_at, fields_json)
        pieces = self._pieces.get(key)
        if pieces is None:
            if len(self._pieces) >= MAX_WEBHOOK_PIECES:
                self._pieces.clear()
            pieces = self._pieces[key] = webhook_pieces(fields, fields_json, rule_id=request.rule_id,
                                                         rule_name=request.rule_name, occurred_at=occurred_at,
                                                         workspace=workspace)
        return pieces

    def defer(self, deferred: Deferred) -> None:
        """Hand what was queued to a batch's write-behind (store.write_behind)."""
        deferred.add(OUTBOX_ROWS, self.rows)
        self.rows = []

    def flush(self) -> None:
        """Insert what was queued (inside the caller's transaction)."""
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        if self.ids is None:
            OUTBOX_ROWS.executemany(self.db.conn, rows)
            return
        for row in OUTBOX_ROWS.encoded(rows):
            cursor = self.db.conn.execute(OUTBOX_INSERT, row)
            if cursor.rowcount:  # not a duplicate of an entry already queued
                self.ids.append(int(cursor.lastrowid or 0))


def enqueue(db: Database, requests: Sequence[OutboxRequest], *, lead: Lead, message: Message | None,
            inbox_id: int | None, workspace: str, now: datetime,
            status_changes: Sequence[tuple[str, str]] = (), policy: OutboxPolicy | None = None) -> list[int]:
    """Queue requests (inside the event's transaction); return the ids of the new entries."""
    writer = OutboxWriter(db, keep_ids=True)
    writer.add(requests, lead=lead, message=message, inbox_id=inbox_id, workspace=workspace, now=now,
               status_changes=status_changes, policy=policy)
    writer.flush()
    assert writer.ids is not None
    return writer.ids


LIST_COLUMNS = ("id", "kind", "state", "target", "idempotency_key", "rule_id", "lead_phone", "inbox_id",
                "payload", "attempts", "next_attempt_at", "last_status", "last_error", "response_snippet",
                "external_id", "lease_until", "created_at", "updated_at", "delivered_at")


def entry_view(row: Sequence[Any]) -> dict[str, Any]:
    """A row in LIST_COLUMNS order as a JSON-ready dict; the rule's secret is replaced by a flag."""
    item = dict(zip(LIST_COLUMNS, row, strict=True))
    payload = json.loads(str(item["payload"]))
    item["rule_secret"] = bool(payload.pop("secret", None))
    item["event_id"] = payload.get("event_id")
    item["payload"] = payload
    return item


def list_outbox(db: Database, *, state: str | None = None, kind: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """Outbox entries, newest first; secrets are never returned."""
    sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM outbox"
    where: list[str] = []
    params: list[Any] = []
    if state:
        where.append("state = ?")
        params.append(state)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [entry_view(row) for row in db.conn.execute(sql, params)]


def get_entry(db: Database, entry_id: int) -> dict[str, Any] | None:
    """One entry (as `list_outbox` shows it), or None."""
    row = db.conn.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM outbox WHERE id = ?", (entry_id,)).fetchone()
    return entry_view(row) if row is not None else None


# What a delivered entry keeps of its payload once its customer is forgotten: where it went
# and which event it was, nothing about the customer.
_KEPT_WHEN_FORGOTTEN = ("url", "endpoint", "event", "event_id", "event_name", "session", "origin")


def forget_delivered(db: Database, phone: str) -> int:
    """Strip a forgotten customer from their delivered entries (inside the caller's transaction):
    the payload keeps only _KEPT_WHEN_FORGOTTEN and says `forgotten`; the receiver's answer,
    the lead and a key naming the phone (a conversion's) go. Returns how many entries."""
    rows = db.conn.execute("SELECT id, payload FROM outbox WHERE lead_phone = ? AND state = 'delivered'",
                           (phone,)).fetchall()
    for entry_id, payload in rows:
        try:
            data = json.loads(payload)
        except ValueError:
            data = {}
        kept = {key: data[key] for key in _KEPT_WHEN_FORGOTTEN if isinstance(data, dict) and key in data}
        db.conn.execute(
            "UPDATE outbox SET payload = ?, lead_phone = NULL, response_snippet = NULL, last_error = NULL, "
            "idempotency_key = CASE WHEN instr(idempotency_key, ?) THEN 'forgotten:' || id "
            "ELSE idempotency_key END WHERE id = ?",
            (json.dumps({**kept, "forgotten": True}), phone, entry_id))
    return len(rows)


def outbox_counts(db: Database) -> dict[str, int]:
    """Outbox entries per state."""
    return {s: n for s, n in db.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")}
