"""Write-behind (store.write_behind): a batch's rule runs, lead changes and outbox entries are
inserted by a second thread while the next batch is evaluated. What users rely on: the same
results as writing them at once, the batch's effects landing whole with its processed marks,
and a failing deferred insert costing only the message at fault."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlite_utils import Database

from engine.model import DEFAULT_STATUSES, parse_message
from engine.rules import default_env, parse_rules
from engine.ruleset import RuleSet
from store.db import open_db
from store.inbox import count_by_state, ingest_many
from store.outbox import OutboxWriter
from store.rules import load_rules, save_rules
from store.write_behind import Deferred, WriteBehind, row_insert, rows_json
from tests.conftest import Clock, message
from tests.store.test_guarantees import processor, seed_rules

WEBHOOK_RULE = {"name": "Every message to the CRM", "trigger": "message.received", "sender": "all",
                "conditions": [], "actions": [{"type": "send_webhook", "url": "http://127.0.0.1:9/crm"}]}


def _only(db: Database, clock: Clock, raw: list[dict[str, Any]]) -> RuleSet:
    """A rule set of these rules alone: no check-in rule, so webhooks are staged ahead."""
    env = default_env(DEFAULT_STATUSES)
    save_rules(db, parse_rules(raw, env), clock())
    ruleset = RuleSet(load_rules(db, env).rules)
    assert "check_in" not in ruleset.action_types
    return ruleset


def _traffic(customers: int, each: int) -> list[Any]:
    texts = ["halo", "mau order", "berapa harganya?", "Payment received Rp 1.500.000", "makasih"]
    rows = []
    for turn in range(each):
        for c in range(customers):
            jid = f"62812000{c:05d}@s.whatsapp.net"
            rows.append(parse_message(message(id=f"M{c}-{turn}", chat=jid, sender=jid,
                                              text=texts[(c + turn) % len(texts)])))
    return rows


def _effects(db: Database) -> dict[str, Any]:
    """What processing produced, without the ids and stamps that differ between two runs."""
    conn = db.conn
    return {
        "inbox": conn.execute("SELECT message_id, state, fired, error FROM inbox ORDER BY id").fetchall(),
        "leads": conn.execute("SELECT phone, status, score, tags, chat_count, value_actual FROM leads "
                              "ORDER BY phone").fetchall(),
        "runs": conn.execute("SELECT rule_id, rule_name, trigger, inbox_id, lead_phone, fired, error, notes "
                             "FROM rule_runs ORDER BY id").fetchall(),
        "changes": conn.execute("SELECT lead_phone, inbox_id, changes, changed_by FROM lead_changes "
                                "ORDER BY id").fetchall(),
        "outbox": conn.execute("SELECT kind, idempotency_key, rule_id, lead_phone, inbox_id, target, "
                               "typeof(payload) FROM outbox ORDER BY id").fetchall(),
        # The webhooks' bodies, but for their random event ids.
        "payloads": [_without_event_ids(orjson.loads(payload))
                     for (payload,) in conn.execute("SELECT payload FROM outbox ORDER BY id")],
    }


def _without_event_ids(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["event_id"] == payload["body"]["id"]
    return {**payload, "event_id": None, "body": {**payload["body"], "id": None}}


def _run(db: Database, clock: Clock, traffic: list[Any]) -> Any:
    ruleset = seed_rules(db, clock, [WEBHOOK_RULE])
    work = processor(db, ruleset, clock, batch_size=7)  # many batches: every one overlaps the next
    ingest_many(db, traffic, clock())
    return work, work.run()


def test_rows_written_behind_equal_rows_written_at_once(tmp_path: Path, clock: Clock) -> None:
    traffic = _traffic(customers=13, each=6)
    behind = open_db(tmp_path / "behind.db")
    work, stats = _run(behind, clock, traffic)
    assert work.write_behind.usable()  # open_db's connection may be shared: the thread is used
    # The same traffic on a connection only its own thread may use: everything written at once.
    at_once = Database(sqlite3.connect(tmp_path / "at-once.db"))
    for statement in open_db(tmp_path / "schema.db").conn.iterdump():
        if statement.startswith(("CREATE TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX")):
            at_once.conn.execute(statement)
    at_once.conn.commit()
    work_at_once, stats_at_once = _run(at_once, clock, traffic)
    assert not work_at_once.write_behind.usable()
    assert (stats.processed, stats.fired, stats.queued) == (stats_at_once.processed, stats_at_once.fired,
                                                           stats_at_once.queued) == (78, stats.fired, 78)
    assert _effects(behind) == _effects(at_once)
    # Nothing is left half-done: every message processed, every effect committed.
    other = open_db(tmp_path / "behind.db")
    assert count_by_state(other) == {"done": 78}
    assert other.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 78


def test_the_deferred_rows_are_written_by_another_thread(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    writers: Counter[str] = Counter()
    db.conn.create_function("note_writer", 0, lambda: writers.update([threading.current_thread().name]) or 0)
    db.conn.execute("CREATE TRIGGER runs_seen AFTER INSERT ON rule_runs BEGIN SELECT note_writer(); END")
    _run(db, clock, _traffic(customers=5, each=4))  # 20 messages in batches of 7
    # Every batch but the last is written behind the next one's evaluation; the last batch
    # has nothing to overlap with and is written by the processing thread when run() ends.
    behind = sum(n for name, n in writers.items() if name.startswith("wabridge-write-behind"))
    last = writers[threading.current_thread().name]
    assert behind > 0 and last > 0 and behind + last == db.conn.execute("SELECT COUNT(*) FROM rule_runs").fetchone()[0]
    assert set(writers) == {threading.current_thread().name, *(n for n in writers if n.startswith("wabridge-write"))}


def test_a_failing_deferred_insert_costs_only_the_message_at_fault(tmp_path: Path, clock: Clock) -> None:
    """A deferred insert fails (here a trigger refuses one rule run): the batch's savepoint is
    rolled back, the batch is redone message by message, the next batch is evaluated again."""
    db = open_db(tmp_path / "w.db")
    db.conn.execute("CREATE TRIGGER refuse AFTER INSERT ON rule_runs WHEN NEW.inbox_id = 17 "
                    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    traffic = _traffic(customers=9, each=4)
    _, stats = _run(db, clock, traffic)
    states = dict(db.conn.execute("SELECT id, state FROM inbox").fetchall())
    assert states[17] == "error" and [e[0] for e in stats.errors] == [17]
    assert sum(1 for s in states.values() if s == "done") == len(traffic) - 1 == stats.processed
    # No message counted twice or lost: each lead counts exactly its processed messages.
    counted = dict(db.conn.execute("SELECT lead_phone, COUNT(*) FROM inbox WHERE state = 'done' "
                                   "GROUP BY lead_phone").fetchall())
    assert dict(db.conn.execute("SELECT phone, chat_count FROM leads").fetchall()) == counted
    # Exactly one webhook per processed message, none for the refused one.
    assert db.conn.execute("SELECT COUNT(*), COUNT(DISTINCT inbox_id) FROM outbox").fetchone() == (
        len(traffic) - 1, len(traffic) - 1)
    assert db.conn.execute("SELECT COUNT(*) FROM outbox WHERE inbox_id = 17").fetchone()[0] == 0
    assert not db.conn.in_transaction


def test_the_json_form_inserts_what_executemany_inserts(tmp_path: Path) -> None:
    """Types survive the JSON form: integers, text with quotes and non-ASCII, NULL; an upsert
    clause keeps its meaning."""
    conn = sqlite3.connect(tmp_path / "j.db")
    conn.execute("CREATE TABLE t (k TEXT UNIQUE, n INTEGER, x REAL, s TEXT)")
    insert = row_insert("t", ("k", "n", "x", "s"), "ON CONFLICT (k) DO NOTHING")
    rows = [("a", 1, 2.5, 'say "halo" 🙂'), ("b", None, None, None), ("a", 9, 9.0, "duplicate")]
    conn.execute(insert.all_at_once, (orjson.dumps(rows).decode(),))
    json_rows = conn.execute("SELECT k, n, x, s, typeof(n), typeof(x) FROM t ORDER BY k").fetchall()
    conn.execute("DELETE FROM t")
    conn.executemany(insert.each, rows)
    assert conn.execute("SELECT k, n, x, s, typeof(n), typeof(x) FROM t ORDER BY k").fetchall() == json_rows
    assert json_rows[0] == ("a", 1, 2.5, 'say "halo" 🙂', "integer", "real")


def test_a_json_column_lands_as_the_same_text_both_ways(tmp_path: Path) -> None:
    """A rule run's notes may stay a tuple until written: the one-statement form stores the
    text orjson would have written (quotes, escapes, non-ASCII, nothing, already text), so a
    run written behind and one written with executemany read back the same."""
    conn = sqlite3.connect(tmp_path / "n.db")
    conn.execute("CREATE TABLE t (k INTEGER, notes TEXT)")
    insert = row_insert("t", ("k", "notes"), json_columns=("notes",))
    rows: list[tuple[Any, ...]] = [
        (1, ('add_tag: +"vip"', "reply: Terima kasih 🙏 \\ ok", "line\nbreak\tand \x01 control")),
        (2, ()),
        (3, '["already text"]'),
    ]
    conn.execute(insert.all_at_once, (rows_json(rows),))
    behind = conn.execute("SELECT k, notes FROM t ORDER BY k").fetchall()
    conn.execute("DELETE FROM t")
    insert.executemany(conn, rows)
    assert conn.execute("SELECT k, notes FROM t ORDER BY k").fetchall() == behind
    assert [orjson.loads(notes) for _, notes in behind] == [list(rows[0][1]), [], ["already text"]]
    assert behind[0][1] == orjson.dumps(rows[0][1]).decode()


def test_a_bytes_column_lands_as_the_same_text_both_ways(tmp_path: Path) -> None:
    """A webhook's payload stays orjson's bytes until written: the one-statement form cuts each
    row's text out of one BLOB, and it lands as the same TEXT (not a BLOB) executemany writes:
    quotes, escapes, non-ASCII, an empty one, one already text, a NULL, and a NULL beside them."""
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.execute("CREATE TABLE t (k INTEGER, payload TEXT, after TEXT)")
    insert = row_insert("t", ("k", "payload", "after"), bytes_column="payload")
    rows: list[tuple[Any, ...]] = [
        (1, orjson.dumps({"text": 'say "halo" 🙏 \\ ok', "line": "a\nb\x01"}), "x"),
        (2, b"", None),
        (3, '{"already": "text ✓"}', "y"),
        (4, None, "no payload"),
        (5, orjson.dumps(["last", 4]), "z"),
    ]
    conn.execute(insert.all_at_once, insert.parameters(rows))
    behind = conn.execute("SELECT k, payload, typeof(payload), after FROM t ORDER BY k").fetchall()
    conn.execute("DELETE FROM t")
    insert.executemany(conn, rows)
    assert conn.execute("SELECT k, payload, typeof(payload), after FROM t ORDER BY k").fetchall() == behind
    assert [(k, text, kind) for k, text, kind, _ in behind] == [
        (k, value.decode() if isinstance(value, bytes) else value, "null" if value is None else "text")
        for k, value, _ in rows]


def _at_once_db(tmp_path: Path, name: str) -> Database:
    """A database whose connection only its own thread may use: nothing is written behind."""
    db = Database(sqlite3.connect(tmp_path / name))
    for statement in open_db(tmp_path / f"schema-{name}").conn.iterdump():
        if statement.startswith(("CREATE TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX")):
            db.conn.execute(statement)
    db.conn.commit()
    return db


def test_an_identity_merge_reads_the_previous_batch_s_lead(tmp_path: Path, clock: Clock) -> None:
    """A message carrying a user id merges leads in the database: whatever the previous batch
    wrote (or left to the write-behind) must be there when the merge reads it, or the merged
    lead counts the messages of two batches ago. One message a batch."""
    user_id = "US.1234567890123456789"
    phone = "6281299990001"
    phone_jid = f"{phone}@s.whatsapp.net"
    id_jid = f"{user_id}@bsuid"
    traffic = [parse_message(message(id=f"U{n}", chat=jid, sender=jid, text=text, **extra))
               for n, (jid, text, extra) in enumerate([
                   (id_jid, "halo, dari iklan", {"user_id": user_id}),
                   (phone_jid, "mau order", {}),
                   (phone_jid, "Payment received Rp 1.500.000", {}),
                   (phone_jid, "ini saya yang tadi", {"user_id": user_id}),
                   (id_jid, "makasih", {"user_id": user_id}),
               ])]
    results = []
    for db in (open_db(tmp_path / "behind.db"), _at_once_db(tmp_path, "at-once.db")):
        ruleset = seed_rules(db, clock, [WEBHOOK_RULE])
        work = processor(db, ruleset, clock, batch_size=1)
        ingest_many(db, traffic, clock())
        stats = work.run()
        assert stats.processed == len(traffic) and not stats.errors
        results.append(_effects(db))
    behind, at_once = results
    assert behind == at_once
    # One lead, by phone, counting all five messages.
    assert [(row[0], row[4]) for row in behind["leads"]] == [(phone, 5)]


def test_a_batch_is_taken_by_the_thread_before_the_next_one_is_evaluated(tmp_path: Path) -> None:
    """start() returns once the thread has the batch: handed over but left waiting for the GIL,
    a heavy replay's batches began up to 60 ms late and the next settle waited for them."""
    db = open_db(tmp_path / "w.db")
    writes = WriteBehind(db.conn)
    assert writes.usable()
    inserts = row_insert("rule_runs", ("rule_id", "rule_name", "trigger", "fired", "at"))
    for round_ in range(20):
        db.conn.execute("BEGIN")
        deferred = Deferred(f"round_{round_}")
        db.conn.execute(f"SAVEPOINT {deferred.savepoint}")
        deferred.add(inserts, [(1, "r", "message.received", 1, "2026-12-07T00:00:00+00:00")] * 200)
        writes.start(deferred)
        assert deferred.future is not None
        taken = deferred.future.running() or deferred.future.done()
        busy = sum(range(200_000))  # the engine's next batch: pure Python, holding the GIL
        writes.settle(deferred)
        db.conn.execute("COMMIT")
        assert taken and busy
    assert db.conn.execute("SELECT COUNT(*) FROM rule_runs").fetchone()[0] == 20 * 200


def test_a_transaction_commits_here_when_no_thread_may_use_the_connection(tmp_path: Path) -> None:
    """A connection only its own thread may use (sqlite3's default) commits at once, and a
    failure inside the transaction rolls it back either way."""
    open_db(tmp_path / "w.db")  # the schema
    insert = "INSERT INTO rule_runs (at, rule_id, rule_name, trigger, fired) VALUES ('t', ?, 'r', 'x', 1)"
    for shared in (False, True):
        conn = sqlite3.connect(tmp_path / "w.db", check_same_thread=not shared)
        writes = WriteBehind(conn)
        with writes.transaction():
            conn.execute(insert, (1,))
        if not shared:
            assert not conn.in_transaction  # committed before transaction() returned
        writes.committed()
        with pytest.raises(RuntimeError), writes.transaction():
            conn.execute(insert, (2,))
            raise RuntimeError("a rule set bug")
        writes.committed()
        assert not conn.in_transaction
        conn.close()
    other = sqlite3.connect(tmp_path / "w.db")
    assert other.execute("SELECT rule_id FROM rule_runs").fetchall() == [(1,), (1,)]


def test_a_reply_cooldown_sees_every_entry_queued_before_it_staged_or_not(tmp_path: Path, clock: Clock) -> None:
    # A batch's webhooks are prepared while the previous batch is still written behind
    # (Processor._stage), up to the first reply with a cooldown: that one reads the outbox, so
    # it and everything after it are queued in the write, in the same order.
    db = open_db(tmp_path / "w.db")
    reply_rule = {"name": "Price reply", "trigger": "message.received", "sender": "customer",
                  "conditions": [{"field": "message.text", "op": "contains", "value": "harga"}],
                  "actions": [{"type": "send_reply", "text": "Harga mulai 99rb", "cooldown_hours": 24}]}
    ruleset = _only(db, clock, [WEBHOOK_RULE, reply_rule])
    texts = ["halo", "berapa harganya?", "halo lagi", "harga paket?", "ok", "harga?", "makasih"]
    traffic = [parse_message(message(id=f"M{i}", text=text, chat=f"{phone}@s.whatsapp.net",
                                     sender=f"{phone}@s.whatsapp.net"))
               for i, text in enumerate(texts) for phone in ("6281200000001", "6281200000002")]
    ingest_many(db, traffic, clock())
    # Outbox rows are slow to write (pure SQL: the thread needs no GIL for it), so each batch is
    # staged before the previous one's rows are in.
    db.conn.execute("CREATE TEMP TRIGGER slow_outbox AFTER INSERT ON outbox BEGIN SELECT COUNT(*) FROM "
                    "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
                    "SELECT i FROM n); END")
    stats = processor(db, ruleset, clock, batch_size=3).run()  # batches that overlap, cut mid-chat
    assert stats.processed == 14 and not stats.errors
    entries = db.conn.execute("SELECT kind, inbox_id, lead_phone FROM outbox ORDER BY id").fetchall()
    assert [inbox_id for _, inbox_id, _ in entries] == sorted(inbox_id for _, inbox_id, _ in entries)
    assert sum(kind == "webhook" for kind, _, _ in entries) == 14
    # One price reply per customer: the later "harga" messages find the first one queued.
    assert Counter(phone for kind, _, phone in entries if kind == "reply") == {"6281200000001": 1,
                                                                              "6281200000002": 1}


def test_a_message_whose_webhook_cannot_be_built_costs_only_that_message(
        tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # Webhooks are built ahead of the write (Processor._stage); one that fails there must be
    # handled as a failing write is: the message marked, every other one processed.
    db = open_db(tmp_path / "w.db")
    ruleset = _only(db, clock, [WEBHOOK_RULE])
    traffic = _traffic(customers=4, each=5)
    ingest_many(db, traffic, clock())
    bad = db.conn.execute("SELECT id FROM inbox WHERE message_id = 'M2-2'").fetchone()[0]
    add = OutboxWriter.add

    def add_failing_for_one(self: OutboxWriter, requests: Any, **kw: Any) -> int:
        if kw["inbox_id"] == bad:
            raise ValueError("payload cannot be serialised")
        return add(self, requests, **kw)

    monkeypatch.setattr(OutboxWriter, "add", add_failing_for_one)
    stats = processor(db, ruleset, clock, batch_size=3).run()
    assert stats.processed == 19 and [inbox_id for inbox_id, _ in stats.errors] == [bad]
    assert count_by_state(db) == {"done": 19, "error": 1}
    queued = {inbox_id for (inbox_id,) in db.conn.execute("SELECT inbox_id FROM outbox")}
    assert len(queued) == 19 and bad not in queued
