"""The daemon's side of the phone's history sync: store each `history` frame behind live messages.

A worker sends its spooled history one frame at a time (bridge.worker.history); each frame
is one job on the store thread, like a live message, so a sync of tens of thousands of
messages interleaves with live traffic instead of holding it up. Per frame, in one
transaction: the inbox rows (messages seen live, or sent again after a worker restart, are
skipped by their key), their effects (no rules unless `[history] run_rules`), and the
number's totals (store.history_sync). Only then is the frame acked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlite_utils import Database

from bridge.history.importer import CHUNK, Imported, store_history
from bridge.history.settings import HistorySettings
from bridge.protocol import HistoryFrame, clean_push_name
from engine.model import PN_SERVER, Message, MessageFormatError, parse_message
from store.history_sync import HistoryProgress, fill_lead_names, history_progress, record_history
from store.inbox import Ingested
from store.leads import leads_by_phone
from store.processor import Processor, ProcessStats
from store.subscriptions import Event, queue_events

log = structlog.get_logger(__name__)
T = TypeVar("T")
DbCall = Callable[..., Awaitable[Any]]


def push_names(raw: list[Any]) -> list[tuple[str, str]]:
    """A frame's [phone JID, name] pairs as (phone digits, name); anything else is left out."""
    out: list[tuple[str, str]] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            continue
        user, _, server = item[0].partition("@")
        name = clean_push_name(item[1])
        if server == PN_SERVER and user.isdigit() and 5 <= len(user) <= 15 and name:
            out.append((user, name))
    return out


class HistoryService:
    """Stores history frames; knows every number's totals for /api/sessions and the Numbers screen."""

    def __init__(self, settings: HistorySettings, db_call: DbCall, processor: Callable[[], Processor | None],
                 clock: Callable[[], datetime], on_stored: Callable[[ProcessStats], None]) -> None:
        self.settings = settings
        self.db_call = db_call
        self.processor = processor
        self.clock = clock
        self.on_stored = on_stored

    async def totals(self) -> dict[str, HistoryProgress]:
        """Every number's history so far (read at start)."""
        result: dict[str, HistoryProgress] = await self.db_call(history_progress)
        return result

    async def store(self, number: str, frame: HistoryFrame) -> HistoryProgress | None:
        """Store one frame; None when history is switched off (the frame is dropped, and acked)."""
        if not self.settings.enabled:
            log.info("history_sync_ignored", number=number, messages=len(frame.messages), reason="disabled")
            return None
        messages: list[Message] = []
        unreadable = 0
        for raw in frame.messages:
            try:
                messages.append(parse_message({**raw, "session": number, "history": True}))
            except MessageFormatError as exc:
                unreadable += 1
                log.warning("history_message_unreadable", number=number, field=exc.field, problem=exc.problem)
        names = push_names(frame.names)
        now = self.clock()
        if not frame.messages:  # a contacts' names blob (PUSH_NAME): no chunk to count
            progress, queued = await self.db_call(self._names_only, number, names, now)
            self.on_stored(ProcessStats(queued=queued))
            return progress
        oldest = self.settings.oldest(now)
        recent = [m for m in messages if m.timestamp >= oldest]
        too_old = len(messages) - len(recent)
        named: list[int] = []

        def work(db: Database) -> tuple[HistoryProgress, list[Ingested], ProcessStats]:
            processor = self.processor()
            if processor is None:
                raise RuntimeError("the processor is not loaded yet")
            box: list[HistoryProgress] = []
            # A lead this chunk creates is history, as its messages are: named, but not announced.
            known = set(leads_by_phone(db, [phone for phone, _ in names])) if names else set()

            def count(stored: list[Message], results: list[Ingested]) -> None:
                box.append(record_history(db, number, stored, results, too_old=too_old, sync_type=frame.sync_type,
                                          progress=frame.progress or None, now=now))
                named.append(name_leads(db, processor, number, names, now, announce=known))

            results, stats = processor.ingest_history(recent, now, after=count)
            stats.queued += sum(named)
            return box[0], results, stats

        totals, results, stats = await self.db_call(work)
        self.on_stored(stats)
        new = sum(1 for r in results if not r.duplicate)
        log.info("history_stored", number=number, sync_type=frame.sync_type, new=new,
                 duplicates=len(results) - new, too_old=too_old, unreadable=unreadable,
                 names=len(names), total_messages=totals.messages, total_chats=totals.chats)
        return totals

    def _names_only(self, db: Database, number: str, names: list[tuple[str, str]],
                    now: datetime) -> tuple[HistoryProgress | None, int]:
        processor = self.processor()
        if processor is None:
            raise RuntimeError("the processor is not loaded yet")
        with db.atomic():
            queued = name_leads(db, processor, number, names, now)
        log.info("history_names_stored", number=number, names=len(names), queued=queued)
        return history_progress(db).get(number), queued

    async def import_messages(self, messages: Sequence[Message], *, run_rules: bool) -> Imported:
        """A chat export's messages, one store-thread job per chunk, so live messages take turns."""
        new = duplicates = 0
        total = ProcessStats()
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start:start + CHUNK]

            def work(db: Database, chunk: Sequence[Message] = chunk) -> Imported:
                processor = self.processor()
                if processor is None:
                    raise RuntimeError("the processor is not loaded yet")
                return store_history(processor, chunk, self.clock(), rules=run_rules)

            part: Imported = await self.db_call(work)
            self.on_stored(part.processing)
            new, duplicates = new + part.new, duplicates + part.duplicates
            for name in ("processed", "fired", "status_changes", "queued"):
                setattr(total, name, getattr(total, name) + getattr(part.processing, name))
            total.errors.extend(part.processing.errors)
        log.info("chat_export_imported", messages=len(messages), new=new, duplicates=duplicates,
                 rules=run_rules, fired=total.fired)
        return Imported(new, duplicates, total)


def name_leads(db: Database, processor: Processor, number: str, names: list[tuple[str, str]], now: datetime,
               *, announce: set[str] | None = None) -> int:
    """Fill the names (store.history_sync.fill_lead_names) and queue a `lead.updated` for each
    lead named (of `announce`'s phones when given), by `history`, for the subscriptions that
    want it; returns how many were queued."""
    events = [Event("lead.updated", number, {"lead": after.to_dict(), "message": None, "changed_by": "history",
                                             "changes": {"name": [before.name, after.name]}},
                    f"history:{number}:{after.phone}:name:{now.isoformat()}")
              for before, after in fill_lead_names(db, names, now)
              if announce is None or after.phone in announce]
    if not events:
        return 0
    return queue_events(db, events, processor.subscriptions, workspace=processor.workspace.name, now=now)
