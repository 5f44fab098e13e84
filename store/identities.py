"""One customer, one lead: a lead keyed by a business-scoped user id (a Cloud API user known
only by a username) joins the phone's lead as soon as a message carries both, and the id is
kept as an alias (`lead_aliases`), so a later message with only the id lands there too.

The merge moves the id-keyed lead's history (inbox rows, lead changes, rule runs) to the
phone, fills the phone lead's empty fields from it, adds up the chat counts and unions the
tags, records the merge in the lead's history, and deletes the id-keyed row. It is
idempotent: once merged, there is nothing left under the id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from datetime import datetime

import orjson
from sqlite_utils import Database

from engine.model import Lead, Message, phone_to_jid
from store.leads import get_lead, upsert_lead

_FILLABLE = tuple(f.name for f in fields(Lead)
                  if f.name not in ("phone", "jid", "status", "tags", "chat_count", "score",
                                    "created_at", "updated_at"))


def identities_to_merge(messages: Iterable[Message]) -> set[tuple[str, str]]:
    """(user id, phone) pairs of messages that carry both."""
    return {(m.user_id, m.lead_phone) for m in messages
            if m.user_id and m.lead_phone != m.user_id and m.lead_phone.isdigit()}


def combine(phone_lead: Lead, user_lead: Lead) -> Lead:
    """The phone's lead with what only the id-keyed lead knew."""
    changes: dict[str, object] = {name: getattr(user_lead, name) for name in _FILLABLE
                                  if getattr(phone_lead, name) is None and getattr(user_lead, name) is not None}
    changes["tags"] = phone_lead.tags | user_lead.tags
    changes["chat_count"] = phone_lead.chat_count + user_lead.chat_count
    changes["score"] = phone_lead.score + user_lead.score
    if user_lead.created_at and phone_lead.created_at and user_lead.created_at < phone_lead.created_at:
        changes["created_at"] = user_lead.created_at
    return phone_lead.with_changes(**changes)


def aliases(db: Database, user_ids: Iterable[str]) -> dict[str, str]:
    """The phone each of these user ids is known to belong to."""
    ids = sorted(set(user_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(db.conn.execute(
            f"SELECT alias, phone FROM lead_aliases WHERE alias IN ({', '.join('?' for _ in chunk)})", chunk))
    return found


def merge_identities(db: Database, pairs: Iterable[tuple[str, str]], now: datetime) -> int:
    """Record each (user id, phone) pair and merge the id's lead into the phone's; how many merged."""
    pairs = sorted(set(pairs))
    known = aliases(db, (user_id for user_id, _ in pairs))
    merged = 0
    for user_id, phone in pairs:
        if known.get(user_id) != phone:
            merged += merge_user_lead(db, user_id, phone, now)
    return merged


def merge_user_lead(db: Database, user_id: str, phone: str, now: datetime) -> bool:
    """Make `user_id` an alias of `phone` and merge its lead into the phone's; False if it had none."""
    with db.atomic():
        db.conn.execute("INSERT INTO lead_aliases (alias, phone, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (alias) DO UPDATE SET phone = excluded.phone", (user_id, phone, now.isoformat()))
    user_lead = get_lead(db, user_id)
    if user_lead is None:
        return False
    phone_lead = get_lead(db, phone)
    merged = (user_lead.with_changes(phone=phone, jid=phone_to_jid(phone)) if phone_lead is None
              else combine(phone_lead, user_lead))
    conn = db.conn
    with db.atomic():
        conn.execute("DELETE FROM leads WHERE phone = ?", (user_id,))
        upsert_lead(db, merged.with_changes(updated_at=now))
        # History rows with a message are found through the inbox; the others carry the lead.
        conn.execute("UPDATE inbox SET lead_phone = ? WHERE lead_phone = ?", (phone, user_id))
        for table in ("lead_changes", "rule_runs"):
            conn.execute(f"UPDATE {table} SET lead_phone = ? WHERE lead_phone = ? AND inbox_id IS NULL",
                         (phone, user_id))
        conn.execute("INSERT INTO lead_changes (at, lead_phone, inbox_id, changes) VALUES (?, ?, NULL, ?)",
                     (now.isoformat(), phone, orjson.dumps({"merged": [user_id, phone]}).decode()))
    return True


def on_known_lead(message: Message, phone: str) -> Message:
    """The message of a user-id sender, moved onto the phone the id belongs to."""
    jid = phone_to_jid(phone)
    if message.from_me:
        return replace(message, chat=jid)
    return replace(message, chat=jid, sender=jid)


def resolve_identities(db: Database, messages: Iterable[tuple[int, Message]],
                       now: datetime) -> dict[int, Message]:
    """Merge what the messages reveal, then return the messages (by inbox id) that must move
    from a user-id lead to a known phone's lead."""
    listed = list(messages)
    merge_identities(db, identities_to_merge(m for _, m in listed), now)
    only_ids = [(inbox_id, m) for inbox_id, m in listed if m.user_id and m.lead_phone == m.user_id]
    if not only_ids:
        return {}
    known = aliases(db, (m.lead_phone for _, m in only_ids))
    return {inbox_id: on_known_lead(m, known[m.lead_phone]) for inbox_id, m in only_ids if m.lead_phone in known}
