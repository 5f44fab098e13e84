"""DESIGN.md guarantees 1-4 on real SQLite files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engine.model import DEFAULT_STATUSES, Workspace, parse_message
from engine.rules import default_env, parse_rules
from engine.ruleset import RuleSet
from engine.templates import TEMPLATES
from store.db import open_db
from store.inbox import count_by_state, ingest, ingest_many
from store.leads import get_lead
from store.processor import Processor
from store.rules import load_rules, save_rules
from tests.conftest import JAKARTA, Clock, message


def seed_rules(db, clock, extra: list[dict] | None = None) -> RuleSet:  # type: ignore[no-untyped-def]
    env = default_env(DEFAULT_STATUSES)
    raw = [t.rule for t in TEMPLATES.values()] + (extra or [])
    save_rules(db, parse_rules(raw, env), clock())
    return RuleSet(load_rules(db, env).rules)


def processor(db, ruleset, clock, **kw) -> Processor:  # type: ignore[no-untyped-def]
    return Processor(db, ruleset, Workspace("Toko", JAKARTA, DEFAULT_STATUSES), clock, **kw)


def conversation(n_customer: int, phone: str = "6281234567890") -> list[dict]:
    rows = [message(id=f"C{i}", text=f"pesan ke-{i}", chat=f"{phone}@s.whatsapp.net",
                    sender=f"{phone}@s.whatsapp.net") for i in range(n_customer)]
    return rows


def test_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "wabridge.db"
    open_db(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_message_is_committed_before_processing(tmp_path: Path, clock: Clock) -> None:
    """Guarantee 1: ingest alone makes the message durable; another connection sees it."""
    db = open_db(tmp_path / "w.db")
    result = ingest(db, parse_message(message()), clock())
    assert not result.duplicate
    other = open_db(tmp_path / "w.db")
    assert count_by_state(other) == {"pending": 1}
    # Nothing was processed yet: no lead exists until the processor runs.
    assert get_lead(other, "6281234567890") is None


def test_redelivered_message_changes_nothing(tmp_path: Path, clock: Clock) -> None:
    """Guarantee 2: WhatsApp re-delivers after reconnects; (session, chat, id) deduplicates."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    rows = conversation(3)
    for row in rows:
        ingest(db, parse_message(row), clock())
    processor(db, ruleset, clock).run()
    lead = get_lead(db, "6281234567890")
    assert lead is not None and lead.chat_count == 3 and lead.status == "responded"
    again = ingest(db, parse_message(rows[2]), clock())
    assert again.duplicate
    batch = ingest_many(db, [parse_message(r) for r in rows], clock())
    assert all(r.duplicate for r in batch)
    stats = processor(db, ruleset, clock).run()
    assert stats.processed == 0
    assert get_lead(db, "6281234567890") == lead
    runs = db.conn.execute("SELECT COUNT(*) FROM rule_runs WHERE fired = 1").fetchone()[0]
    assert runs == 1


def test_a_batch_ingest_gives_each_message_its_own_row(tmp_path: Path, clock: Clock) -> None:
    """Each result names the row its message landed in: all new (ids taken in order), or
    mixed with re-deliveries, within the batch and of rows stored before."""
    db = open_db(tmp_path / "w.db")

    def row_of(message_id: str) -> int:
        return int(db.conn.execute("SELECT id FROM inbox WHERE message_id = ?", (message_id,)).fetchone()[0])

    ingest(db, parse_message(message(id="OLD")), clock())
    ingest(db, parse_message(message(id="GONE")), clock())
    db.conn.execute("DELETE FROM inbox WHERE message_id = 'GONE'")  # the highest id is free again
    fresh = ingest_many(db, [parse_message(message(id=f"N{i}")) for i in range(5)], clock())
    assert [r.inbox_id for r in fresh] == [row_of(f"N{i}") for i in range(5)]
    assert not any(r.duplicate for r in fresh)
    mixed = ingest_many(db, [parse_message(message(id=i)) for i in ("M1", "OLD", "M2", "M1", "N3", "M3")], clock())
    assert [(r.inbox_id, r.duplicate) for r in mixed] == [
        (row_of("M1"), False), (None, True), (row_of("M2"), False), (None, True), (None, True),
        (row_of("M3"), False)]


def test_same_id_in_another_chat_is_a_different_message(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ingest(db, parse_message(message(id="X")), clock())
    other_chat = message(id="X", chat="6289999999999@s.whatsapp.net", sender="6289999999999@s.whatsapp.net")
    assert not ingest(db, parse_message(other_chat), clock()).duplicate


@pytest.mark.parametrize("batch_size", [1, 256])
def test_effects_and_processed_mark_commit_together(tmp_path: Path, clock: Clock, batch_size: int) -> None:
    """Guarantee 2: if the effects' transaction fails, the message stays pending and is redone once."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock, [{
        "name": "hook", "trigger": "message.received",
        "conditions": [{"field": "message.text", "op": "contains", "value": "order"}],
        "actions": [{"type": "send_webhook", "url": "http://127.0.0.1:9/hook"}]}])
    ingest(db, parse_message(message(id="A", text="mau order")), clock())
    # Make the outbox write fail, as a full disk or a corrupt page would.
    db.conn.executescript(
        "CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk says no'); END;"
    )
    stats = processor(db, ruleset, clock, batch_size=batch_size).run()
    # The lead change, the rule run and the outbox entry were one transaction with the
    # processed mark: none of them landed, and the message says why it failed.
    rows = db.conn.execute("SELECT state, error FROM inbox").fetchall()
    outbox = db.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    runs = db.conn.execute("SELECT COUNT(*) FROM rule_runs").fetchone()[0]
    lead = get_lead(db, "6281234567890")
    assert rows == [("error", rows[0][1])] and "disk says no" in rows[0][1]
    assert (outbox, runs, lead) == (0, 0, None)
    assert stats.errors and stats.processed == 0
    # Once the fault is gone, a retried message is processed exactly once.
    db.conn.execute("DROP TRIGGER outbox_boom")
    db.conn.execute("UPDATE inbox SET state = 'pending', error = NULL")
    db.conn.commit()
    processor(db, ruleset, clock, batch_size=batch_size).run()
    processor(db, ruleset, clock, batch_size=batch_size).run()
    assert db.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    assert db.conn.execute("SELECT state FROM inbox").fetchall() == [("done",)]


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_messages_of_a_lead_are_processed_in_arrival_order(tmp_path: Path, clock: Clock, batch_size: int) -> None:
    """Guarantee 3: within a batch and across batch boundaries."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    texts = ["halo", "ada?", "berapa?", "saya mau order", "oke"]
    rows = [message(id=f"M{i}", text=t) for i, t in enumerate(texts)]
    rows.append(message(id="CS", from_me=True, text="Payment received Rp 1.500.000"))
    ingest_many(db, [parse_message(r) for r in rows], clock())
    processor(db, ruleset, clock, batch_size=batch_size).run()
    history = [json.loads(c)["status"] for (c,) in db.conn.execute(
        "SELECT changes FROM lead_changes WHERE changes LIKE '%status%' ORDER BY id")]
    assert history == [["new", "responded"], ["responded", "hot"], ["hot", "purchase"]]
    lead = get_lead(db, "6281234567890")
    assert lead is not None and lead.value_actual == 1500000 and lead.chat_count == 5


def test_malformed_row_and_failing_rule_do_not_stop_the_rest(tmp_path: Path, clock: Clock) -> None:
    """Guarantee 4: a bad message is marked with the reason; the others are processed."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    ingest(db, parse_message(message(id="good1", text="halo")), clock())
    with db.atomic():
        db.conn.execute(
            "INSERT INTO inbox (session, chat, message_id, lead_phone, timestamp, received_at, payload) "
            "VALUES ('s', 'c', 'bad', 'x', 't', 't', '{\"id\": 1}')")
    ingest(db, parse_message(message(id="good2", text="lagi")), clock())
    stats = processor(db, ruleset, clock).run()
    assert stats.processed == 2
    states = dict(db.conn.execute("SELECT message_id, state FROM inbox").fetchall())
    assert states == {"good1": "done", "bad": "error", "good2": "done"}
    error = db.conn.execute("SELECT error FROM inbox WHERE message_id='bad'").fetchone()[0]
    assert "malformed message" in error and "id" in error


def test_stored_rule_that_no_longer_parses_is_skipped_not_fatal(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    seed_rules(db, clock)
    # A workspace that renamed its statuses: rules mentioning "hot" no longer fit.
    loaded = load_rules(db, default_env(("baru", "closing")))
    assert {e.rule_name for e in loaded.broken} >= {"Identify Hot Lead (Keyword)"}
    assert all("is not one of" in e.message for e in loaded.broken)


def test_migrations_upgrade_an_existing_database_in_place(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ingest(db, parse_message(message()), clock())
    db.conn.close()
    again = open_db(tmp_path / "w.db")
    from store.db import schema_version
    from store.migrations import MIGRATIONS

    applied = schema_version(again)
    assert applied[0] == "m001_initial" and not MIGRATIONS.pending(again)  # later ones appended
    assert count_by_state(again) == {"pending": 1}


def test_a_full_disk_marks_nothing_names_the_cause_and_the_messages_wait(tmp_path: Path, clock: Clock) -> None:
    """The disk fills up mid-batch: no message is marked `error` for it, the failure says what
    happened (SQLite may roll the transaction back itself, which used to surface as "no such
    savepoint"), and once there is room every message is processed, once."""
    import sqlite3

    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    customers = [message(id=f"F{i}", text=f"halo kak, harga berapa? {'x' * 3000}",
                         chat=f"62812{i:08d}@s.whatsapp.net", sender=f"62812{i:08d}@s.whatsapp.net")
                 for i in range(300)]
    ingest_many(db, [parse_message(m) for m in customers], clock())
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    db.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: the file cannot grow
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full") as failed:
        processor(db, ruleset, clock).run()
    assert failed.value.sqlite_errorname == "SQLITE_FULL"
    assert count_by_state(db) == {"pending": 300}
    db.conn.execute("PRAGMA max_page_count = 4294967294")  # room again
    stats = processor(db, ruleset, clock).run()
    assert (stats.processed, stats.errors) == (300, [])
    assert count_by_state(db) == {"done": 300}
    assert db.conn.execute("SELECT COUNT(*), SUM(chat_count) FROM leads").fetchone() == (300, 300)


def test_failures_of_the_machine_are_told_from_failures_of_a_message(tmp_path: Path) -> None:
    import errno
    import sqlite3

    from store.process_stats import from_the_machine

    db = open_db(tmp_path / "w.db")
    db.conn.execute("CREATE TABLE small (x UNIQUE)")
    db.conn.execute("INSERT INTO small VALUES (1)")
    failures: dict[str, BaseException] = {}
    for label, statement in (("duplicate", "INSERT INTO small VALUES (1)"), ("no table", "SELECT * FROM nowhere"),
                             ("syntax", "SELEC 1")):
        try:
            db.conn.execute(statement)
        except sqlite3.Error as exc:
            failures[label] = exc
    try:
        sqlite3.connect(f"file:{tmp_path / 'no-such-dir' / 'x.db'}?mode=rw", uri=True).execute("SELECT 1")
    except sqlite3.Error as exc:
        failures["cannot open"] = exc
    assert {label: from_the_machine(exc) for label, exc in failures.items()} == {
        "duplicate": False, "no table": False, "syntax": False, "cannot open": True}
    assert from_the_machine(OSError(errno.EMFILE, "Too many open files"))
    assert from_the_machine(MemoryError())
    assert not from_the_machine(ValueError("a rule's own failure"))
