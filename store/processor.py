"""Processing the inbox: for each pending message, in arrival order, evaluate the rules and
commit the lead, the rule runs, the outbox entries and the "processed" mark together.

Guarantee 2 (effects exactly once) rests on that single transaction; guarantee 3 (order)
on taking rows by inbox id; guarantee 4 on the per-message savepoint: a message that
fails is rolled back alone, marked `error` with the reason, and the batch goes on.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from itertools import takewhile
from operator import attrgetter
from typing import Any

import orjson
from sqlite_utils import Database

from engine.actions import OutboxRequest
from engine.evaluate import Outcome, process_message
from engine.history import absorb_history, keep_first_seen
from engine.model import Lead, Message, Workspace
from engine.ruleset import RuleSet
from store.batch import INBOX_DONE, Behind, WriteSet
from store.careful import careful_batch
from store.checkins import resolve_check_ins
from store.identities import may_name_alias, resolve_identities
from store.inbox import Ingested, ingest_many, ingest_rows, parsed_by_id, rows_to_ingest
from store.lead_events import LEAD_CHANGES, ChangeApplier, ChangeResult, rule_origin
from store.leads import lead_diff, lead_inserts, lead_updates, leads_by_phone
from store.outbox import OutboxPolicy, OutboxWriter
from store.process_stats import ProcessStats, add_stats, describe_failure, from_the_machine, stored_message
from store.runs import RUNS, run_rows
from store.subscriptions import Subscription, checkin_of, message_events, queue_events
from store.visitors import VisitorUpgrades
from store.write_behind import Deferred, WriteBehind

Clock = Callable[[], datetime]
MAX_CARRIED_LEADS = 50_000  # leads a replay keeps in memory between chunks


class Processor:
    """Drains the inbox with a fixed rule set; the shell swaps the rule set on reload.

    Each batch is evaluated in memory (the engine has no side effects) and written with a
    few executemany calls in one transaction: one commit, one fsync per batch. A batch
    whose writes fail is redone message by message, so only the faulty one is marked.
    """

    # The shell sets this from [conversions] (automatic conversion events on a status).
    outbox_policy: OutboxPolicy = OutboxPolicy()
    # [history] run_rules: history messages go through the rules (like a replay) or only fill leads in.
    history_rules: bool = False
    # The shell sets these: event webhook subscriptions (config.toml's and the dashboard's).
    subscriptions: tuple[Subscription, ...] = ()

    def __init__(self, db: Database, ruleset: RuleSet, workspace: Workspace, clock: Clock,
                 *, batch_size: int = 1000, upgrades: VisitorUpgrades | None = None) -> None:
        self.db = db
        self.ruleset = ruleset
        self.workspace = workspace
        self.clock = clock
        self.batch_size = batch_size
        self._parsed: Mapping[int, Message] = {}
        # Identity upgrade ([K-XXXX] codes): visitor facts in, consumed codes out, same transaction.
        self.upgrades = upgrades or VisitorUpgrades(workspace.name)
        # Leads carried from one replay chunk to the next (`ingest_and_run` only).
        self._carried: dict[str, Lead | None] = {}
        self.write_behind = WriteBehind(db.conn)
        self._savepoints = 0  # names each batch's savepoint

    def run(self, *, parsed: Mapping[int, Message] | None = None,
            leads: dict[str, Lead | None] | None = None) -> ProcessStats:
        """Process pending messages until none are left.

        `parsed` maps inbox ids to the messages the caller has just ingested, so their
        payloads need not be parsed again; any other row is read from its payload.
        `leads`: leads as the caller's earlier runs left them (only a caller that is the
        database's only writer between its runs may pass one, as a replay is).
        """
        stats = ProcessStats()
        self._parsed = parsed or {}
        last_id = 0
        # Leads as this run left them, carried across batches: within run() this processor is
        # the database's only writer (the daemon runs everything on one store thread).
        if leads is None:
            leads = {}
        # The previous batch: written but for its deferred rows, which the write-behind thread
        # inserts while this thread evaluates the next batch (store.write_behind).
        behind: Behind | None = None
        try:
            while True:
                found = self.db.conn.execute(
                    "SELECT id, payload, kind FROM inbox WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?",
                    (last_id, self.batch_size),
                ).fetchall()
                if not found:
                    break
                # A change event (issue #13) is applied alone, in its place in the inbox order: the
                # messages before it go as one batch, then the change in its own transaction.
                cut = next((i for i, row in enumerate(found) if row[2] != "message"), len(found))
                if cut == 0:
                    self._settled(behind, leads, stats)
                    behind = None
                    # Consecutive changes (people saving at once) share one transaction, one fsync.
                    run_of_changes = list(takewhile(lambda row: row[2] != "message", found))
                    last_id = run_of_changes[-1][0]
                    self._changes([(event_id, payload) for event_id, payload, _ in run_of_changes], stats)
                    leads.clear()  # the changes wrote leads this run had carried
                    continue
                rows = [(inbox_id, payload) for inbox_id, payload, _ in found[:cut]]
                last_id = rows[-1][0]
                previous = behind
                start = partial(self.write_behind.start, previous.deferred) if previous else None
                batch = self._evaluate(rows, self.clock(), leads, reads_done=start)
                try:
                    self._stage(batch)  # while the previous batch's rows are still being written
                except Exception:  # left to the write, where a failure goes the careful way
                    batch.unstage()
                behind = None
                if not self._settled(previous, leads, stats):
                    # The previous batch was redone message by message: evaluate this one again
                    # on the leads as that left them.
                    batch = self._evaluate(rows, batch.now, leads)
                try:
                    behind = self._write(batch)
                except Exception:
                    # A write failed (not a rule: those cannot touch the database). Redo the
                    # batch message by message so the one at fault is marked, the others land.
                    leads.clear()  # the failed batch's leads never landed
                    add_stats(stats, self._careful_batch(batch.rows, batch.now))
                    continue
                for phone in batch.checked_in:
                    leads.pop(phone, None)  # a check-in tagged it in the database
        finally:
            self._settled(behind, leads, stats)
        return stats

    def _settled(self, behind: Behind | None, leads: dict[str, Lead | None], stats: ProcessStats) -> bool:
        """Wait for a batch's deferred rows; True when it landed whole (or there is none). When
        they failed, its savepoint is rolled back and the batch redone message by message."""
        if behind is None:
            return True
        try:
            self.write_behind.settle(behind.deferred)
        except Exception:
            conn = self.db.conn
            with contextlib.suppress(sqlite3.Error):  # a failed release may have ended the transaction
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO {behind.deferred.savepoint}")
                    conn.execute(f"RELEASE {behind.deferred.savepoint}")
            leads.clear()
            add_stats(stats, self._careful_batch(behind.batch.rows, behind.batch.now))
            return False
        add_stats(stats, behind.batch.stats)
        return True

    def _changes(self, events: list[tuple[int, str]], stats: ProcessStats) -> None:
        """Apply change events in order, each in a savepoint, all in one transaction: each
        one's effects and processed mark commit together; a failing one is marked alone."""
        now = self.clock()
        applier = ChangeApplier(self.db, self.ruleset, self.workspace, self.outbox_policy, self.subscriptions)
        results: list[ChangeResult] = []
        with self.db.atomic():
            for event_id, payload in events:
                try:
                    with self.db.atomic():
                        result = applier.apply(event_id, payload, now)
                except Exception as exc:  # guarantee 4: recorded, the inbox goes on
                    if from_the_machine(exc) or not self.db.conn.in_transaction:
                        raise  # not the change's fault: it waits for another run (store.careful)
                    reason = describe_failure(exc)
                    self.db.conn.execute("UPDATE inbox SET state = 'error', error = ?, processed_at = ? WHERE id = ?",
                                         (reason, now.isoformat(), event_id))
                    result = ChangeResult(event_id, "error", reason)
                results.append(result)
        for result in results:
            if result.outcome == "error":
                stats.errors.append((result.event_id, result.message))
            else:
                stats.processed += 1
                stats.fired += result.fired
                stats.status_changes += len(result.status_changes)
                stats.queued += result.queued
            stats.changes[result.event_id] = result

    def ingest_and_run(self, messages: Sequence[Message], received_at: datetime, *,
                       commit_behind: bool = False) -> tuple[list[Ingested], ProcessStats]:
        """Group commit for a replayed file: a chunk's inbox rows and all their effects in ONE
        transaction (one fsync), then nothing of the chunk exists until it has all committed.

        Only for sources that can be read again (a JSONL file): a crash loses the chunk's
        inbox rows with its effects and the rerun ingests them again. Live messages are acked
        to WhatsApp only after their inbox commit, so the daemon keeps the two commits.
        `commit_behind`: this returns before the COMMIT is through (store.write_behind); the
        next call, or `write_behind.committed()`, waits for it and raises what it raised.
        """
        carried = self._carried
        if len(carried) > MAX_CARRIED_LEADS:
            carried.clear()  # bounded memory: read again from the database when needed
        rows = rows_to_ingest(messages, received_at)  # needs no connection: overlaps a commit behind
        try:
            self.write_behind.committed()
            with self.write_behind.transaction() if commit_behind else self.db.atomic():
                results = ingest_rows(self.db, messages, rows)
                stats = self.run(parsed=parsed_by_id(messages, results), leads=carried)
        except BaseException:
            carried.clear()  # the chunk (or the one committing behind) rolled back: not landed
            raise
        return results, stats

    def ingest_history(self, messages: Sequence[Message], received_at: datetime, *, rules: bool | None = None,
                       after: Callable[[list[Message], list[Ingested]], None] | None = None,
                       ) -> tuple[list[Ingested], ProcessStats]:
        """Store a chunk of history (sync or chat export) and its effects in ONE transaction.

        The chunk goes in time order; rows already in the inbox (seen live, or imported
        before) are skipped by their key. Pending live rows, older in the inbox, are
        processed first in the same run: a chunk never makes a live message wait longer
        than the chunk itself takes. `rules` overrides `history_rules` for this chunk;
        `after(messages, results)` runs inside the transaction (progress counters).
        """
        ordered = sorted(messages, key=attrgetter("timestamp"))
        configured = self.history_rules
        if rules is not None:
            self.history_rules = rules
        try:
            with self.db.atomic():
                results = ingest_many(self.db, ordered, received_at)
                stats = self.run(parsed=parsed_by_id(ordered, results))
                if after is not None:
                    after(ordered, results)
        finally:
            self.history_rules = configured
        return results, stats

    def outcome(self, lead: Lead | None, message: Message, now: datetime, inbox_id: int, stamp: str) -> Outcome:
        """One message's effects: rules (with the visitor-code upgrade), or for history without
        rules only the lead's first-seen time, name and chat count."""
        if message.history and not self.history_rules:
            return absorb_history(lead, message, now=now, statuses=self.ruleset.statuses)
        decision = self.upgrades.decide(message, now)
        outcome = process_message(self.ruleset, lead, message, now=now, tz=self.workspace.tz,
                                  upgrade=decision.upgrade)
        self.upgrades.record(decision, inbox_id=inbox_id, before=lead, after=outcome.lead, stamp=stamp)
        return keep_first_seen(lead, outcome, message) if message.history else outcome

    def _write(self, batch: WriteSet) -> Behind:
        """Write one batch in its own savepoint: leads, visitor codes and check-ins now; rule
        runs, lead changes, outbox entries and processed marks deferred to the write-behind thread.
        The savepoint is released once those are in (`_settled`): one fsync per batch."""
        conn = self.db.conn
        self._savepoints += 1
        deferred = Deferred(f"batch_{self._savepoints}")
        conn.execute(f"SAVEPOINT {deferred.savepoint}")
        try:
            if batch.lead_inserts is None:
                self._stage(batch)
            assert batch.lead_inserts is not None and batch.outbox is not None
            for sql, rows in batch.lead_inserts:
                conn.executemany(sql, rows)
            for sql, rows in batch.lead_updates:
                if conn.executemany(sql, rows).rowcount != len(rows):
                    raise sqlite3.IntegrityError("a lead to update is not in the database")
            deferred.add(LEAD_CHANGES, batch.changes)
            deferred.add(RUNS, batch.runs)
            self.upgrades.write(conn)
            outbox = batch.outbox
            checks_in = "check_in" in self.ruleset.action_types
            for inbox_id, outcome, message in batch.queued[batch.outbox_staged:]:
                # Check-ins are decided and recorded here, in this transaction (exactly once).
                resolved = resolve_check_ins(self.db, outcome.requests, message=message, inbox_id=inbox_id,
                                             now=batch.now, tz=self.workspace.tz) if checks_in else None
                self._queue(outbox, batch, inbox_id, outcome, message,
                            outcome.requests if resolved is None else resolved.requests)
                if resolved is None:
                    continue
                if resolved.checkin_id is not None or resolved.lead is not None:
                    batch.checked_in.append(message.lead_phone)
                if resolved.checkin_id is not None and self.subscriptions:
                    batch.events.append(checkin_of(resolved, message, resolved.lead or outcome.lead, batch.now))
            if batch.relinked:
                conn.executemany("UPDATE inbox SET lead_phone = ? WHERE id = ?", batch.relinked)
            if batch.events:
                outbox.flush()  # the rules' entries keep their place before the events'
                batch.stats.queued += queue_events(self.db, batch.events, self.subscriptions,
                                                   workspace=self.workspace.name, now=batch.now)
            outbox.defer(deferred)
            deferred.add(INBOX_DONE, batch.done)
            if batch.failed:
                conn.executemany(
                    "UPDATE inbox SET state = 'error', error = ?, processed_at = ? WHERE id = ?",
                    batch.failed)
        except BaseException:
            if conn.in_transaction:  # an error may have ended the transaction, savepoints and all
                conn.execute(f"ROLLBACK TO {deferred.savepoint}")
                conn.execute(f"RELEASE {deferred.savepoint}")
            raise
        return Behind(batch, deferred)

    def _stage(self, batch: WriteSet) -> None:
        """Prepare what of a batch's writes needs no database: its lead statements, and its
        outbox entries up to the first that reads the outbox (a reply's cooldown) or that a
        check-in may change. The run does this while the write-behind thread still writes the
        previous batch's rows: on a heavy rule set the engine alone ended before that thread."""
        # A lead this batch created is an INSERT, any other an UPDATE of the columns that
        # changed: no upsert probe. (Were either wrong, the statement fails or misses and the
        # careful path upserts.)
        stored = batch.stored
        batch.lead_inserts = lead_inserts(lead for lead in batch.leads if lead.phone not in stored)
        batch.lead_updates = lead_updates((stored[lead.phone], lead) for lead in batch.leads if lead.phone in stored)
        outbox = batch.outbox = OutboxWriter(self.db)
        if "check_in" in self.ruleset.action_types:
            return  # check-ins are decided in the write, from the database
        replies = "send_reply" in self.ruleset.action_types  # only Send Reply queues replies
        for inbox_id, outcome, message in batch.queued:
            if replies and any(request.kind == "reply" and request.payload.get("cooldown_hours")
                               for request in outcome.requests):
                return
            self._queue(outbox, batch, inbox_id, outcome, message, outcome.requests)
            batch.outbox_staged += 1

    def _queue(self, outbox: OutboxWriter, batch: WriteSet, inbox_id: int, outcome: Outcome, message: Message,
               requests: Sequence[OutboxRequest]) -> None:
        """Queue one message's requests (staged or in the write: the same entries either way)."""
        outbox.add(requests, lead=outcome.lead, message=message, inbox_id=inbox_id, workspace=self.workspace.name,
                   now=batch.now, status_changes=outcome.status_changes, policy=self.outbox_policy,
                   message_json=batch.payloads.get(inbox_id))

    def _evaluate(self, rows: list[tuple[int, str]], now: datetime, leads: dict[str, Lead | None],
                  reads_done: Callable[[], None] | None = None) -> WriteSet:
        """Evaluate a batch in memory against `leads` (updated in place; missing ones fetched).

        `reads_done` is called once the batch has read what it needs from the database and
        before the engine runs (which uses none): the previous batch's deferred rows go then.
        """
        batch = WriteSet(rows, now, ProcessStats())
        stats = batch.stats
        stamp = now.isoformat()
        parsed: list[tuple[int, Message | Exception]] = []
        known = self._parsed
        payloads = batch.payloads
        for inbox_id, payload in rows:
            ready = known.get(inbox_id)
            if ready is not None:
                parsed.append((inbox_id, ready))
                payloads[inbox_id] = payload  # ingest stored exactly this message's to_dict()
                continue
            try:
                parsed.append((inbox_id, stored_message(payload)))
            except Exception as exc:  # guarantee 4: a malformed row is marked, the rest go on
                parsed.append((inbox_id, exc))
        parsed = self._identities(parsed, now, leads, batch)
        phones = {m.lead_phone for _, m in parsed if isinstance(m, Message)}
        missing = phones.difference(leads)
        leads.update(dict.fromkeys(missing))  # None: no lead yet
        leads.update(leads_by_phone(self.db, list(missing)))
        self.upgrades.begin(self.db.conn, (m for _, m in parsed if isinstance(m, Message)))
        if reads_done is not None:
            reads_done()
        touched: dict[str, Lead] = {}
        for inbox_id, message in parsed:
            if isinstance(message, Exception):
                reason = describe_failure(message)
                batch.failed.append((reason, stamp, inbox_id))
                stats.errors.append((inbox_id, reason))
                continue
            if message.is_deletion:  # marks its original deleted (read side); no rule, no count, no lead
                batch.done.append((stamp, 0, inbox_id))
                stats.processed += 1
                continue
            phone = message.lead_phone
            lead = leads[phone]
            if lead is not None and phone not in touched:
                batch.stored[phone] = lead
            try:
                outcome = self.outcome(lead, message, now, inbox_id, stamp)
            except Exception as exc:  # an engine bug must not stop the inbox
                reason = describe_failure(exc)
                batch.failed.append((reason, stamp, inbox_id))
                stats.errors.append((inbox_id, reason))
                continue
            fired = outcome.fired
            diff: dict[str, list[Any]] = {}
            if outcome.lead is not lead:
                diff = lead_diff(lead, outcome.lead)
                if diff:
                    batch.changes.append((stamp, phone, inbox_id, orjson.dumps(diff, default=str).decode(),
                                          rule_origin(outcome.runs) if fired else "message"))
                leads[phone] = touched[phone] = outcome.lead
            if self.subscriptions and not message.history:  # an imported chat is old news, not an event
                batch.events.extend(message_events(message, lead, outcome.lead, inbox_id=inbox_id,
                                                   status_changes=outcome.status_changes, changes=diff))
            if outcome.runs:
                batch.runs.extend(run_rows(outcome.runs, at=stamp, inbox_id=inbox_id, lead_phone=phone))
            if outcome.requests or (outcome.status_changes and self.outbox_policy.watches_status):
                batch.queued.append((inbox_id, outcome, message))
            batch.done.append((stamp, fired, inbox_id))
            stats.processed += 1
            stats.fired += fired
            stats.status_changes += len(outcome.status_changes)
            stats.queued += len(outcome.requests)
        batch.leads = list(touched.values())
        return batch

    def _identities(self, parsed: list[tuple[int, Message | Exception]], now: datetime,
                    leads: dict[str, Lead | None], batch: WriteSet) -> list[tuple[int, Message | Exception]]:
        """Customers known by an alias (a Cloud API user id, a linked-device LID): merge their
        lead into the phone's once a message carries both (store.identities), and move later
        alias-only messages onto that phone."""
        with_aliases = [(inbox_id, m) for inbox_id, m in parsed if isinstance(m, Message) and may_name_alias(m)]
        if not with_aliases:
            return parsed
        moved, merged = resolve_identities(self.db, with_aliases, now)
        for alias, phone in merged:  # merged leads changed in the database: read them again
            leads.pop(alias, None)
            leads.pop(phone, None)
        for inbox_id, message in moved.items():
            leads.pop(message.lead_phone, None)
            batch.relinked.append((message.lead_phone, inbox_id))
            batch.payloads.pop(inbox_id, None)  # no longer the message its payload holds
        return [(inbox_id, moved.get(inbox_id, m)) for inbox_id, m in parsed]

    def _careful_batch(self, rows: list[tuple[int, str]], now: datetime) -> ProcessStats:
        """The slow path (store.careful): one savepoint per message."""
        return careful_batch(self, rows, now)
