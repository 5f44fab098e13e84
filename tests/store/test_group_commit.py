"""Replay's group commit (`Processor.ingest_and_run`), bulk-write settings, leads carried across
batches, and the lead history found through the lead's messages (migration m005)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from engine.evaluate import RuleRunRecord
from engine.model import LEAD_NUMBER_FIELDS, Lead, parse_message
from store.db import BULK_WAL_PAGES, PAGE_SIZE, bulk_writes, open_db
from store.inbox import count_by_state
from store.leads import get_lead, lead_changes, lead_inserts
from store.runs import recent_runs, record_runs
from tests.conftest import Clock, message
from tests.store.test_guarantees import processor, seed_rules

PHONE = "6281234567890"


def _chat(prefix: str, texts: list[str], phone: str = PHONE) -> list:  # type: ignore[type-arg]
    jid = f"{phone}@s.whatsapp.net"
    return [parse_message(message(id=f"{prefix}{i}", text=t, chat=jid, sender=jid)) for i, t in enumerate(texts)]


def test_a_chunk_lands_whole_inbox_rows_with_their_effects(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    chunk = _chat("A", ["halo", "mau order", "Payment received Rp 1.500.000"])
    results, stats = processor(db, ruleset, clock).ingest_and_run(chunk, clock())
    assert [r.duplicate for r in results] == [False, False, False]
    assert stats.processed == 3 and not stats.errors
    # Another connection sees everything: rows done and the lead moved.
    other = open_db(tmp_path / "w.db")
    assert count_by_state(other) == {"done": 3}
    lead = get_lead(other, PHONE)
    assert lead is not None and lead.status == "purchase" and lead.value_actual == 1_500_000
    # The same chunk again (a rerun of the file) changes nothing.
    again, stats = processor(db, ruleset, clock).ingest_and_run(chunk, clock())
    assert [r.duplicate for r in again] == [True, True, True] and stats.processed == 0
    assert get_lead(db, PHONE) == lead


def test_a_crash_inside_the_chunk_leaves_nothing_of_it(tmp_path: Path, clock: Clock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """What kill -9 does to a replay chunk, in-process: neither inbox rows nor effects survive."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    work = processor(db, ruleset, clock)

    def dies(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # not an Exception: the careful path must not swallow it

    monkeypatch.setattr(work, "_write", dies)
    with pytest.raises(KeyboardInterrupt):
        work.ingest_and_run(_chat("B", ["halo", "mau order"]), clock())
    other = open_db(tmp_path / "w.db")
    assert count_by_state(other) == {}
    assert get_lead(other, PHONE) is None


def test_a_failing_write_in_a_chunk_marks_only_that_message(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock, [{
        "name": "hook", "trigger": "message.received",
        "conditions": [{"field": "message.text", "op": "contains", "value": "webhook-me"}],
        "actions": [{"type": "send_webhook", "url": "http://127.0.0.1:9/hook"}]}])
    db.conn.executescript(
        "CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk says no'); END;")
    chunk = _chat("C", ["halo", "webhook-me", "mau order"])
    _, stats = processor(db, ruleset, clock).ingest_and_run(chunk, clock())
    states = dict(db.conn.execute("SELECT message_id, state FROM inbox").fetchall())
    assert states == {"C0": "done", "C1": "error", "C2": "done"}
    assert stats.processed == 2 and len(stats.errors) == 1
    lead = get_lead(open_db(tmp_path / "w.db"), PHONE)
    assert lead is not None and lead.chat_count == 2  # the failed message left no trace on the lead


def test_leads_carried_across_batches_match_one_batch(tmp_path: Path, clock: Clock) -> None:
    """Batches of 2 inside one run (the lead kept in memory between them) end where one
    batch of everything ends."""
    texts = ["halo", "ada?", "mau order", "berapa?", "Payment received Rp 250.000", "oke", "makasih"]
    finals = []
    for batch_size in (2, 1000):
        db = open_db(tmp_path / f"w{batch_size}.db")
        ruleset = seed_rules(db, clock)
        processor(db, ruleset, clock, batch_size=batch_size).ingest_and_run(_chat("D", texts), clock())
        finals.append(get_lead(db, PHONE))
    assert finals[0] == finals[1]
    assert finals[0] is not None and finals[0].chat_count == len(texts) and finals[0].status == "purchase"


def test_bulk_writes_restores_settings_and_truncates_the_wal(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    before = (db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
              db.conn.execute("PRAGMA cache_size").fetchone()[0])
    with bulk_writes(db):
        assert db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BULK_WAL_PAGES
        processor(db, ruleset, clock).ingest_and_run(_chat("E", ["halo"] * 50), clock())
        assert (tmp_path / "w.db-wal").stat().st_size > 0
    after = (db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
             db.conn.execute("PRAGMA cache_size").fetchone()[0])
    assert after == before
    assert (tmp_path / "w.db-wal").stat().st_size == 0  # checkpointed into the database file
    assert count_by_state(open_db(tmp_path / "w.db")) == {"done": 50}


def test_a_new_database_gets_larger_pages_an_existing_one_keeps_its_own(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "new.db")
    assert db.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 8192
    # A database made before (SQLite's default 4 KB pages) opens, migrates and processes as it was.
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size=4096")
    old.execute("CREATE TABLE kept (x INTEGER)")
    old.commit()
    old.close()
    db = open_db(tmp_path / "old.db")
    assert db.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    processor(db, seed_rules(db, clock), clock).ingest_and_run(_chat("P", ["halo", "mau order"]), clock())
    assert count_by_state(open_db(tmp_path / "old.db")) == {"done": 2}


def test_lead_history_comes_through_its_messages_and_direct_rows(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    processor(db, ruleset, clock).ingest_and_run(_chat("F", ["halo", "Payment received Rp 250.000"]), clock())
    processor(db, ruleset, clock).ingest_and_run(_chat("G", ["Payment received Rp 9.000"], phone="6289999999999"),
                                                 clock())
    # Rows written without a message (a status set by hand, a lead event): inbox_id NULL.
    at = datetime(2026, 11, 21, tzinfo=UTC)
    with db.atomic():
        record_runs(db, [RuleRunRecord(1, "By hand", "lead.status_changed", True, None, ("note",))],
                    at=at, inbox_id=None, lead_phone=PHONE)
        db.conn.execute("INSERT INTO lead_changes (at, lead_phone, inbox_id, changes) VALUES (?, ?, NULL, ?)",
                        (at.isoformat(), PHONE, '{"status": ["hot", "won"]}'))
    runs = recent_runs(db, lead_phone=PHONE)
    assert runs[0]["rule_name"] == "By hand" and runs[0]["inbox_id"] is None  # newest first
    assert {r["lead_phone"] for r in runs} == {PHONE}
    assert any(r["inbox_id"] is not None for r in runs)
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    changes = lead_changes(db, PHONE)
    assert changes[0]["changes"] == {"status": ["hot", "won"]}
    assert changes[-1]["changes"] == {"created": [None, "new"]}
    assert all(c["changes"] != {"created": [None, "new"]} or c is changes[-1] for c in changes)
    other = recent_runs(db, lead_phone="6289999999999")
    assert other and all(r["lead_phone"] == "6289999999999" for r in other)
    assert recent_runs(db, lead_phone=PHONE, errors_only=True) == []


def test_a_rule_run_reads_back_as_it_was_recorded(tmp_path: Path) -> None:
    """Each column gets the record's own value (the rows are built by position), written
    at once or behind."""
    db = open_db(tmp_path / "w.db")
    at = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
    with db.atomic():
        record_runs(db, [RuleRunRecord(7, "Tag VIP", "message.received", False, "actions[0] boom", ("add_tag: +vip",))],
                    at=at, inbox_id=None, lead_phone=PHONE)
    row = db.conn.execute("SELECT at, inbox_id, lead_phone, rule_id, rule_name, trigger, fired, error, notes "
                          "FROM rule_runs").fetchone()
    assert row == (at.isoformat(), None, PHONE, 7, "Tag VIP", "message.received", 0, "actions[0] boom",
                   '["add_tag: +vip"]')
    ruleset = seed_rules(db, Clock())
    processor(db, ruleset, Clock(), batch_size=1).ingest_and_run(_chat("R", ["halo", "mau order"]), at)
    for inbox_id, lead_phone, rule_name, fired, notes in db.conn.execute(
            "SELECT inbox_id, lead_phone, rule_name, fired, notes FROM rule_runs WHERE inbox_id IS NOT NULL"):
        assert (lead_phone, fired, type(rule_name), type(orjson.loads(notes))) == (PHONE, 1, str, list)
        assert db.conn.execute("SELECT lead_phone FROM inbox WHERE id = ?", (inbox_id,)).fetchone() == (PHONE,)


def test_history_queries_use_the_message_index(tmp_path: Path) -> None:
    """The lead page's queries must not scan rule_runs / lead_changes (they grow forever)."""
    db = open_db(tmp_path / "w.db")
    conn: sqlite3.Connection = db.conn
    for table in ("rule_runs", "lead_changes"):
        plan = " ".join(row[3] for row in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE inbox_id IN "
            f"(SELECT id FROM inbox WHERE lead_phone = ?) UNION ALL SELECT id FROM {table} "
            f"WHERE inbox_id IS NULL AND lead_phone = ?", (PHONE, PHONE)))
        assert f"SCAN {table}" not in plan, plan
        assert "INDEX" in plan


def _replayed(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, texts: list[str],
              db_setup: str = "") -> tuple[list[int], list[BaseException]]:
    """Replay `texts` (one customer each) in chunks of 4 through `wabridge replay`'s loop; return
    how many inbox rows another connection saw committed each time a chunk was reported, and
    what the replay raised."""
    import bridge.commands.replay as replay_module

    monkeypatch.setattr(replay_module, "CHUNK", 4)
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    db.conn.executescript(db_setup)
    other = open_db(tmp_path / "w.db")
    seen: list[int] = []
    raised: list[BaseException] = []

    def chunk_done(results: list, stats: object) -> None:  # type: ignore[type-arg]
        seen.append(other.conn.execute("SELECT COUNT(*) FROM inbox WHERE state = 'done'").fetchone()[0])

    messages = [parse_message(message(id=f"R{i}", text=t, chat=f"62812000{i:05d}@s.whatsapp.net",
                                      sender=f"62812000{i:05d}@s.whatsapp.net")) for i, t in enumerate(texts)]
    try:
        replay_module.replay_messages(processor(db, ruleset, clock), messages, chunk_done)
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        raised.append(exc)
    return seen, raised


def test_a_chunk_is_reported_once_its_commit_behind_is_through(tmp_path: Path, clock: Clock,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk commits on the write-behind thread while the next is read; the replay
    reports a chunk (its progress, its counts) only when another connection can see it."""
    seen, raised = _replayed(tmp_path, clock, monkeypatch, ["halo", "mau order"] * 5)
    assert not raised
    assert seen == [4, 8, 10]


def test_a_commit_that_fails_behind_stops_the_replay_and_keeps_what_landed(
        tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A COMMIT can fail (a deferred constraint, a full disk): the replay stops with that error,
    the failed chunk leaves nothing, the chunks before it stay, and nothing after it is run."""
    # R5's inbox row breaks a deferred foreign key: the second chunk's COMMIT refuses.
    broken = """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER break_commit AFTER INSERT ON inbox WHEN NEW.message_id = 'R5'
        BEGIN INSERT INTO child VALUES (42); END;
    """
    seen, raised = _replayed(tmp_path, clock, monkeypatch, ["halo"] * 12, broken)
    assert len(raised) == 1 and "FOREIGN KEY" in str(raised[0])
    assert seen == [4]
    check = open_db(tmp_path / "w.db")
    assert check.conn.execute("SELECT message_id FROM inbox ORDER BY id").fetchall() == [
        ("R0",), ("R1",), ("R2",), ("R3",)]
    assert check.conn.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == 4


def test_a_new_lead_reads_back_as_it_was_whichever_columns_it_set(tmp_path: Path) -> None:
    # New leads are inserted naming only their set columns (store.leads.lead_inserts): a
    # column left out must read back as the unset value, and a set one, even falsy, as set.
    db = open_db(tmp_path / "w.db")
    columns = {row[1]: row for row in db.conn.execute("PRAGMA table_info(leads)")}
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    base = Lead(phone="628100", jid="628100@s.whatsapp.net", status="new", created_at=now, updated_at=now)
    leads = [
        base,
        base.with_changes(phone="628101", name="", score=0.0, value_actual=0.0, tags=frozenset()),
        base.with_changes(phone="628102", name="Sari", score=12, value_potential=2_500_000.0, city="Bandung",
                          tags=frozenset({"vip", "order"}), chat_count=3, fbclid="IwAR0", notes="kirim besok"),
        base.with_changes(phone="628103", **{
            name: 1.5 if name in LEAD_NUMBER_FIELDS else "x"
            for name, default in Lead._field_defaults.items()
            if default is None and name not in ("created_at", "updated_at")}),
    ]
    statements = lead_inserts(leads)
    assert len(statements) == len(leads)  # each set a different group of columns
    left_out = set(columns) - {name for sql, _ in statements for name in sql.split("(")[1].split(")")[0].split(", ")}
    assert not left_out  # every column is named by some lead here
    for sql, rows in statements:
        named = sql.split("(")[1].split(")")[0].split(", ")
        for name in set(columns) - set(named):  # what a left-out column gets: NULL, allowed
            _, _, _, not_null, default, _ = columns[name]
            assert not not_null and default is None, name
        db.conn.executemany(sql, rows)
    for lead in leads:
        assert get_lead(db, lead.phone) == lead
