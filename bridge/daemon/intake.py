"""The live intake: worker messages committed to the inbox in shared transactions (group commit).

Every message frame a worker forwards is handed to `Intake.submit` in frame order; it is
parsed at once (a malformed one is kept as unreadable, as before) and queued. One drain
task takes everything waiting (at most `MAX_BATCH`) to the store thread, which drops the
echoes of messages the bridge sent itself and commits the rest with `ingest_many`: one
transaction, one fsync for all the messages that arrived together, from every worker. Each
caller's future resolves only after that commit, so the supervisor acks a frame only once
it is durable (guarantee 1); if the commit fails, every caller of it gets the error, none
of those frames is acked, and their workers send them again (guarantee 2 recognises any
that did land). While one commit runs the next messages gather, so a burst is committed
in a few large transactions and a lone message waits for nothing but its own commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlite_utils import Database

from bridge import protocol as p
from bridge.metrics import Metrics, reason_code
from engine.model import Message, MessageFormatError, parse_message
from store.inbox import Ingested, ingest_many, record_unreadable
from store.sending import sent_by_bridge

log = structlog.get_logger(__name__)
DbCall = Callable[..., Awaitable[Any]]

MAX_BATCH = 2_000  # messages per shared commit (a burst from several workers: a few commits)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message from a worker, waiting for its inbox commit."""

    number: str
    message: Message
    echo_possible: bool  # from_me and not known in memory as sent by the bridge: ask the outbox


def commit_arrivals(db: Database, arrivals: Sequence[Arrival], received_at: datetime) -> list[Ingested | None]:
    """Store thread: commit every arrival that is not an echo in one transaction.

    Returns each arrival's inbox outcome, or None for an echo of a message the bridge sent
    (a person's message is already recorded as a Team message; an automatic reply is not a
    message event)."""
    echoes = [a.echo_possible and sent_by_bridge(db, a.number, a.message.id) for a in arrivals]
    kept = [a.message for a, echo in zip(arrivals, echoes, strict=True) if not echo]
    results = iter(ingest_many(db, kept, received_at) if kept else [])
    return [None if echo else next(results) for echo in echoes]


class Intake:
    """The queue between the workers' frame readers and the store thread."""

    def __init__(self, db_call: DbCall, clock: Callable[[], datetime], metrics: Metrics, *,
                 sent_ids: Callable[[str], Collection[str]], fresh: Callable[[], MutableMapping[int, Message]],
                 committed: Callable[[], None]) -> None:
        self.db_call = db_call
        self.clock = clock
        self.metrics = metrics
        self.sent_ids = sent_ids  # a number's WhatsApp ids it just sent (an echo may follow at once)
        self.fresh = fresh  # inbox id → message just committed, processed without parsing again
        self.committed = committed  # wakes the processing loop
        self.waiting: list[tuple[Arrival, asyncio.Future[None]]] = []
        self.ready = asyncio.Event()
        self.commits = 0  # shared inbox transactions since start
        self.messages = 0  # messages they committed (duplicates and echoes included)

    def submit(self, number: str, raw: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue one worker message; the future resolves once it is durable (or fails with the commit)."""
        try:
            message = parse_message(raw)
        except MessageFormatError as exc:
            return asyncio.ensure_future(self._unreadable(number, raw, exc))
        if message.session != number:
            message = parse_message({**message.to_dict(), "session": number})
        echo_possible = message.from_me
        if message.from_me and message.id in self.sent_ids(number):
            log.info("message_echo_skipped", number=number, message_id=message.id)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((Arrival(number, message, echo_possible), future))
        self.ready.set()
        return future

    async def run(self) -> None:
        """Drain the queue for as long as the daemon runs: one store-thread commit per batch."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Arrival, asyncio.Future[None]]]) -> None:
        arrivals = [arrival for arrival, _ in batch]
        try:
            outcomes = await self.db_call(commit_arrivals, arrivals, self.clock())
        except Exception as exc:
            # Nothing of this transaction landed: no caller may ack (the workers re-send).
            log.error("inbox_commit_failed", messages=len(batch), error=f"{type(exc).__name__}: {exc}"[:300])
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.commits += 1
        self.messages += len(batch)
        self.metrics.inbox_commits.inc()
        fresh = self.fresh()
        for (arrival, future), outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                log.info("message_echo_skipped", number=arrival.number, message_id=arrival.message.id)
            elif outcome.inbox_id is not None:
                fresh[outcome.inbox_id] = arrival.message  # processed next without parsing it again
            else:
                log.info("message_duplicate", number=arrival.number, message_id=arrival.message.id)
            if not future.done():
                future.set_result(None)
        self.committed()

    async def unreadable(self, number: str, frame: p.Unreadable) -> None:
        """A message the worker could not read: kept in the inbox marked error, counted."""
        log.warning("message_unreadable", number=number, reference=frame.reference, reason=frame.reason)
        await self.db_call(record_unreadable, number, frame.reference, frame.excerpt, frame.reason, self.clock())
        self.metrics.messages_unreadable.labels(source="whatsapp", reason=reason_code(frame.reason)).inc()

    async def _unreadable(self, number: str, raw: Mapping[str, Any], exc: MessageFormatError) -> None:
        """A message the daemon cannot read: kept in the inbox marked error, counted."""
        log.warning("message_unreadable", number=number, field=exc.field, problem=exc.problem)
        self.metrics.messages_unreadable.labels(source="whatsapp", reason=f"malformed:{exc.field}"[:60]).inc()
        reference = str(raw.get("id") or uuid.uuid4().hex)
        await self.db_call(record_unreadable, number, reference, orjson.dumps(dict(raw)).decode(),
                           f"malformed message: {exc}", self.clock())
