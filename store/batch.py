"""A batch of messages as the processor writes it (store.processor): its effects evaluated in
memory, what is staged of its writes, and its rows written behind (store.write_behind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.evaluate import Outcome
from engine.model import Lead, Message
from store.outbox import OutboxWriter
from store.process_stats import ProcessStats
from store.subscriptions import Event
from store.write_behind import Deferred, RowWrite


@dataclass(slots=True)
class WriteSet:
    """One batch's effects, evaluated in memory, to be committed in one transaction."""

    rows: list[tuple[int, str]]
    now: datetime
    stats: ProcessStats
    leads: list[Lead] = field(default_factory=list)
    changes: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    runs: list[tuple[Any, ...]] = field(default_factory=list)
    queued: list[tuple[int, Outcome, Message]] = field(default_factory=list)
    done: list[tuple[str, int, int]] = field(default_factory=list)
    stored: dict[str, Lead] = field(default_factory=dict)  # the rows of the leads it changes, as stored
    failed: list[tuple[str, str, int]] = field(default_factory=list)
    relinked: list[tuple[str, int]] = field(default_factory=list)  # (lead phone, inbox id): user id → phone
    events: list[Event] = field(default_factory=list)  # for the webhook subscriptions
    checked_in: list[str] = field(default_factory=list)  # leads a check-in changed in the database
    # Payloads that are exactly their message's to_dict() serialised (messages this process
    # ingested), so a webhook embeds them as they are.
    payloads: dict[int, str] = field(default_factory=dict)
    # Staged (`store.processor.Processor._stage`): its lead statements, and its outbox entries for the first
    # `outbox_staged` of `queued`.
    lead_inserts: list[tuple[str, list[tuple[Any, ...]]]] | None = None
    lead_updates: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)
    outbox: OutboxWriter | None = None
    outbox_staged: int = 0

    def unstage(self) -> None:
        """Drop what was staged: the write stages it again."""
        self.lead_inserts, self.lead_updates, self.outbox, self.outbox_staged = None, [], None, 0


@dataclass(frozen=True, slots=True)
class Behind:
    """A written batch whose deferred rows are (or are about to be) written behind."""

    batch: WriteSet
    deferred: Deferred


# The processed marks of a batch's messages: (processed_at, fired, inbox id) rows.
INBOX_DONE = RowWrite(
    "UPDATE inbox SET state = 'done', processed_at = ?, fired = ? WHERE id = ? AND state = 'pending'",
    "UPDATE inbox SET state = 'done', processed_at = json_extract(j.value, '$[0]'), "
    "fired = json_extract(j.value, '$[1]') FROM json_each(?1) AS j "
    "WHERE inbox.id = json_extract(j.value, '$[2]') AND inbox.state = 'pending'",
)
