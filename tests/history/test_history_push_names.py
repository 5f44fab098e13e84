"""Contacts' push names from the phone's history sync (a PUSH_NAME blob, or the names any blob
carries): the worker spools and sends them as [phone JID, name] pairs, the daemon gives each
to a lead of that phone that has no name yet, as a line of the lead's history.

Real whatsmeow HistorySync protobufs through the neonize worker's own dispatch path, and the
daemon's HistoryService on a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.history.settings import HistorySettings
from bridge.history.sync import HistoryService, push_names
from bridge.protocol import HistoryFrame
from bridge.worker.history import HistorySender, normalise_history_sync
from engine.model import DEFAULT_STATUSES, Lead, Workspace, parse_message
from engine.ruleset import RuleSet
from store.db import open_db
from store.history_sync import history_progress
from store.leads import get_lead, lead_changes, upsert_lead
from store.processor import Processor, ProcessStats
from store.subscriptions import Subscription
from tests.history.protobufs import ADMIN, conversation, event, history_sync, web
from tests.history.test_history_sync_worker import connected

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PUSH_NAME = 4  # HistorySync.HistorySyncType.PUSH_NAME


def names_blob(*, unmapped_lid: bool = True) -> Any:
    names = {
        "6281200000002@s.whatsapp.net": "Sari  Wulandari",
        "6281200000003:12@s.whatsapp.net": "Budi",  # a device JID: the phone is what counts
        "222222222222222@lid": "Dewi",  # mapped to a phone below
        "120363000000000001@g.us": "Arisan RT 05",  # a group: not a lead
    }
    if unmapped_lid:  # no phone for this LID in the blob (nor in the LID map, which needs a live client)
        names["333333333333333@lid"] = "Nobody knows"
    return history_sync(sync_type=PUSH_NAME, pushnames=names,
                        lid_to_pn={"222222222222222@lid": "6281200000004@s.whatsapp.net"})


def test_a_push_name_blob_becomes_phone_names_and_no_messages() -> None:
    asked: list[str] = []
    chunk = normalise_history_sync(names_blob(), session=ADMIN, resolve_pn=lambda lid: asked.append(lid) or None)
    assert (chunk.sync_type, chunk.messages) == ("push_name", [])
    assert chunk.names == [("6281200000002@s.whatsapp.net", "Sari Wulandari"),
                           ("6281200000003@s.whatsapp.net", "Budi"),
                           ("6281200000004@s.whatsapp.net", "Dewi")]
    assert asked == ["333333333333333@lid"]  # the LID map is asked only for what the blob does not map
    # A chats blob hands over its contacts' names as well.
    with_chats = history_sync(conversation("6281200000009@s.whatsapp.net",
                                           web("A1", "6281200000009@s.whatsapp.net", 1_733_000_000, text="halo")),
                              pushnames={"6281200000009@s.whatsapp.net": "Rina"})
    assert normalise_history_sync(with_chats, session=ADMIN).names == [("6281200000009@s.whatsapp.net", "Rina")]


def test_the_worker_spools_a_names_blob_and_sends_the_names_in_a_frame(tmp_path: Path) -> None:
    harness = connected(tmp_path / "s.sqlite3")
    harness.dispatch(event(names_blob(unmapped_lid=False)))  # type: ignore[arg-type]
    assert len(harness.worker._history.spool.pending()) == 1  # kept across a restart, like messages
    harness.worker._history.start()
    frame = harness.frame()
    assert frame.TYPE == "history" and isinstance(frame, HistoryFrame)
    assert frame.messages == [] and frame.sync_type == "push_name"
    assert frame.names == [["6281200000002@s.whatsapp.net", "Sari Wulandari"],
                           ["6281200000003@s.whatsapp.net", "Budi"], ["6281200000004@s.whatsapp.net", "Dewi"]]
    harness.worker._on_ack(frame.seq)
    deadline = time.monotonic() + 5
    while harness.worker._history.spool.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.worker._history.spool.pending() == []


def _service(tmp_path: Path, stored: list[ProcessStats] | None = None) -> tuple[HistoryService, Processor, Any]:
    db = open_db(tmp_path / "w.db")
    processor = Processor(db, RuleSet([]), Workspace("Toko", UTC, DEFAULT_STATUSES), lambda: NOW)

    async def db_call(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(db, *args)

    seen = stored if stored is not None else []
    return HistoryService(HistorySettings(), db_call, lambda: processor, lambda: NOW, seen.append), processor, db


def test_the_daemon_names_only_leads_that_have_no_name(tmp_path: Path) -> None:
    service, _, db = _service(tmp_path)
    upsert_lead(db, Lead("6281200000002", "6281200000002@s.whatsapp.net", "new", created_at=NOW, updated_at=NOW))
    upsert_lead(db, Lead("6281200000003", "6281200000003@s.whatsapp.net", "hot", name="Pak Budi (VIP)",
                         created_at=NOW, updated_at=NOW))
    db.conn.commit()
    frame = HistoryFrame(seq=1, sync_type="push_name", messages=[], names=[
        ["6281200000002@s.whatsapp.net", "Sari Wulandari"], ["6281200000003@s.whatsapp.net", "Budi"],
        ["6281200000099@s.whatsapp.net", "Not a lead yet"], ["123@lid", "bad"], "junk", ["x"]])
    assert asyncio.run(service.store(ADMIN, frame)) is None  # no history counted for a names blob
    sari, budi = get_lead(db, "6281200000002"), get_lead(db, "6281200000003")
    assert sari is not None and sari.name == "Sari Wulandari"
    assert budi is not None and budi.name == "Pak Budi (VIP)"  # a name someone gave stays
    assert get_lead(db, "6281200000099") is None  # names create no lead
    (line,) = lead_changes(db, "6281200000002")
    assert (line["changes"], line["by"]) == ({"name": [None, "Sari Wulandari"]}, "history")
    assert lead_changes(db, "6281200000003") == []
    assert history_progress(db) == {}
    # The same frame again (a worker restart before the ack) changes nothing more.
    asyncio.run(service.store(ADMIN, frame))
    assert len(lead_changes(db, "6281200000002")) == 1


def test_a_named_lead_is_a_lead_updated_event_by_history_for_its_number(tmp_path: Path) -> None:
    stored: list[ProcessStats] = []
    service, processor, db = _service(tmp_path, stored)
    processor.subscriptions = (Subscription("crm", "http://127.0.0.1:9/hook", frozenset({"lead.updated"})),
                               Subscription("other", "http://127.0.0.1:9/x", frozenset({"lead.updated"}),
                                            numbers=frozenset({"6281199999999"})))
    upsert_lead(db, Lead("6281200000002", "6281200000002@s.whatsapp.net", "new", created_at=NOW, updated_at=NOW))
    db.conn.commit()
    frame = HistoryFrame(seq=1, sync_type="push_name", messages=[],
                         names=[["6281200000002@s.whatsapp.net", "Sari"]])
    asyncio.run(service.store(ADMIN, frame))
    rows = db.conn.execute("SELECT payload FROM outbox").fetchall()
    (payload,) = [json.loads(row[0]) for row in rows]  # the other subscription watches another number
    body = payload["body"]
    assert (payload["subscription"], body["type"], body["number"], body["changed_by"]) == (
        "crm", "lead.updated", ADMIN, "history")
    assert body["changes"] == {"name": [None, "Sari"]} and body["lead"]["name"] == "Sari"
    assert body["message"] is None
    assert [s.queued for s in stored] == [1]  # the daemon wakes the outbox for it
    asyncio.run(service.store(ADMIN, frame))  # sent again: the lead has its name, nothing more
    assert len(db.conn.execute("SELECT id FROM outbox").fetchall()) == 1


def test_a_frame_with_messages_and_names_names_the_leads_its_messages_create(tmp_path: Path) -> None:
    service, processor, db = _service(tmp_path)
    processor.subscriptions = (Subscription("crm", "http://127.0.0.1:9/hook", frozenset({"lead.updated"})),)
    message = {"id": "H1", "chat": "6281200000005@s.whatsapp.net", "sender": "6281200000005@s.whatsapp.net",
               "timestamp": "2026-11-20T09:00:00+07:00", "text": "halo kak", "history": True}
    frame = HistoryFrame(seq=1, sync_type="initial_bootstrap", messages=[message],
                         names=[["6281200000005@s.whatsapp.net", "Rina"]])
    totals = asyncio.run(service.store(ADMIN, frame))
    assert totals is not None and totals.messages == 1
    lead = get_lead(db, "6281200000005")
    assert lead is not None and lead.name == "Rina"
    # History made this lead, as it makes no events: its name is not announced either.
    assert db.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_the_service_still_imports_a_chat_export(tmp_path: Path) -> None:
    """The lead page's chat import goes through HistoryService.import_messages on the daemon."""
    service, _, db = _service(tmp_path)
    raw = {"id": "E1", "session": ADMIN, "chat": "6281200000005@s.whatsapp.net",
           "sender": "6281200000005@s.whatsapp.net", "timestamp": "2026-11-20T09:00:00+07:00", "text": "halo",
           "history": True}
    imported = asyncio.run(service.import_messages([parse_message(raw)], run_rules=False))
    assert (imported.new, imported.duplicates) == (1, 0)
    lead = get_lead(db, "6281200000005")
    assert lead is not None and lead.chat_count == 1


def test_a_damaged_name_line_reaches_the_daemon_as_a_pair_it_drops() -> None:
    frame = HistorySender._frame_maker("push_name", 0, [{"push_name": "Sari"}, {"id": "H1", "history": True}])(7)
    assert isinstance(frame, HistoryFrame) and frame.names == [["", "Sari"]]
    assert frame.messages == [{"id": "H1", "history": True}]
    assert push_names(frame.names) == []


def test_push_names_keeps_only_phone_pairs() -> None:
    assert push_names([["6281200000002@s.whatsapp.net", "  Sari \n W "], ["6281200000002@g.us", "G"],
                       ["abc@s.whatsapp.net", "x"], ["6281200000002@s.whatsapp.net", " "], [1, 2],
                       ["6281200000003@s.whatsapp.net", "x" * 1000]]) == [
        ("6281200000002", "Sari W"), ("6281200000003", "x" * 256)]
