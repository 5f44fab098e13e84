"""One customer, one lead: a lead keyed by an alias of the customer (a Cloud API user known
only by a username, or a linked-device sender known only by a LID whose phone number
WhatsApp did not give) joins the phone's lead as soon as a message carries both, and the
alias is kept (`lead_aliases`), so a later message with only the alias lands there too.

The merge moves the alias-keyed lead's history (inbox rows, lead changes, rule runs) to the
phone, fills the phone lead's empty fields from it, adds up the chat counts and unions the
tags, records the merge in the lead's history, and deletes the alias-keyed row. It is
idempotent: once merged, there is nothing left under the alias. A lead whose JID is a phone
number's is never merged away, whatever its key looks like.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from sqlite_utils import Database

from engine.model import LEAD_FIELDS, LID_SERVER, PN_SERVER, Lead, Message, jid_to_phone, phone_to_jid
from store.leads import get_lead, upsert_lead

_FILLABLE = tuple(name for name in LEAD_FIELDS
                  if name not in ("phone", "jid", "status", "tags", "chat_count", "score", "created_at", "updated_at"))


def alias_pair(message: Message) -> tuple[str, str] | None:
    """(alias, phone) when the message names its customer both ways: a Cloud API user id
    beside the phone, or the LID of a customer whose phone JID the sender carries."""
    phone = message.lead_phone
    if not phone.isdigit() or not message.lead_jid.endswith("@" + PN_SERVER):
        return None
    if message.user_id and message.user_id != phone:
        return message.user_id, phone
    lid = message.sender_lid
    if lid and not message.from_me and message.sender == message.lead_jid and lid.endswith("@" + LID_SERVER):
        alias = jid_to_phone(lid)
        return (alias, phone) if alias != phone else None
    return None


def alias_key(message: Message) -> str | None:
    """The lead key of a message that names its customer by an alias only (no phone yet)."""
    if message.user_id and message.lead_phone == message.user_id:
        return message.user_id
    if message.lead_jid.endswith("@" + LID_SERVER):
        return message.lead_phone
    return None


def may_name_alias(message: Message) -> bool:
    """A cheap first test (every message takes it): whether alias_pair or alias_key may apply."""
    return bool(message.user_id or message.sender_lid or message.chat.endswith("@" + LID_SERVER)
                or message.sender.endswith("@" + LID_SERVER))


def identities_to_merge(messages: Iterable[Message]) -> set[tuple[str, str]]:
    """(alias, phone) pairs of messages that carry both."""
    return {pair for pair in map(alias_pair, messages) if pair is not None}


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


def merge_identities(db: Database, pairs: Iterable[tuple[str, str]], now: datetime) -> list[tuple[str, str]]:
    """Record each (alias, phone) pair not known yet and merge the alias's lead into the
    phone's; return the pairs whose leads merged."""
    pairs = sorted(set(pairs))
    known = aliases(db, (alias for alias, _ in pairs))
    return [(alias, phone) for alias, phone in pairs
            if known.get(alias) != phone and merge_user_lead(db, alias, phone, now)]


def merge_user_lead(db: Database, user_id: str, phone: str, now: datetime) -> bool:
    """Make `user_id` (a user id or a LID) an alias of `phone` and merge its lead into the
    phone's; False if it had none (or its lead is a phone number's own)."""
    with db.atomic():
        db.conn.execute("INSERT INTO lead_aliases (alias, phone, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (alias) DO UPDATE SET phone = excluded.phone", (user_id, phone, now.isoformat()))
    user_lead = get_lead(db, user_id)
    if user_lead is None or user_lead.jid.endswith("@" + PN_SERVER):
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
    """The message of an alias-only customer, moved onto the phone the alias belongs to: the
    alias JID becomes the phone's wherever it stands (a group keeps its chat); a LID sender
    is kept in `sender_lid`."""
    jid = phone_to_jid(phone)
    alias_jid = message.lead_jid
    changes: dict[str, Any] = {}
    if message.chat == alias_jid:
        changes["chat"] = jid
    if message.sender == alias_jid:
        changes["sender"] = jid
        if alias_jid.endswith("@" + LID_SERVER) and not message.sender_lid:
            changes["sender_lid"] = alias_jid
    return replace(message, **changes)


def resolve_identities(db: Database, messages: Iterable[tuple[int, Message]],
                       now: datetime) -> tuple[dict[int, Message], list[tuple[str, str]]]:
    """Merge what the messages reveal; return the messages (by inbox id) that must move from
    an alias-keyed lead to a known phone's lead, and the (alias, phone) pairs merged."""
    listed = list(messages)
    merged = merge_identities(db, identities_to_merge(m for _, m in listed), now)
    only_aliases = [(inbox_id, m, key) for inbox_id, m in listed if (key := alias_key(m)) is not None]
    if not only_aliases:
        return {}, merged
    known = aliases(db, (key for _, _, key in only_aliases))
    return {inbox_id: on_known_lead(m, known[key]) for inbox_id, m, key in only_aliases if key in known}, merged
