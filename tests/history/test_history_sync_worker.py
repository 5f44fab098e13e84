"""The neonize worker with a real HistorySyncEv through neonize's own dispatch path: the handler
spools and returns at once, frames go out one per ack, and a restarted worker sends what is left."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from neonize.events import ConnectedEv, PairStatusEv

from bridge.protocol import HistoryFrame
from bridge.worker import history
from tests.history.protobufs import ADMIN, conversation, event, history_sync, web
from tests.worker.test_neonize_worker_offline import Harness, device, jid

T0 = int(time.time()) - 3600


def connected(session_db: Path) -> Harness:
    harness = Harness(session_db)
    harness.dispatch(device(ADMIN))
    harness.dispatch(PairStatusEv(ID=jid(ADMIN, device=7), BusinessName="", Platform="android", Status=2, Error=""))
    harness.dispatch(ConnectedEv(status=True))
    while harness.frame().TYPE != "state":
        pass
    return harness


def big_sync(chats: int, per_chat: int) -> object:
    return history_sync(*(
        conversation(f"62812000{c:05d}@s.whatsapp.net", *(
            web(f"H{c}-{i}", f"62812000{c:05d}@s.whatsapp.net", T0 + i, text=f"pesan {i}", from_me=i % 3 == 0)
            for i in range(per_chat)))
        for c in range(chats)))


def test_history_is_spooled_and_the_handler_returns_before_the_daemon_stores_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(history, "FRAME_MESSAGES", 100)
    harness = connected(tmp_path / "s.sqlite3")
    handler = threading.Thread(target=harness.dispatch, args=(event(big_sync(5, 50)),))  # type: ignore[arg-type]
    handler.start()
    handler.join(5)
    assert not handler.is_alive()  # not held: whatsmeow may tell the phone "received" now
    spooled = harness.worker._history.spool.pending()
    assert len(spooled) == 1 and spooled[0].stat().st_mode & 0o777 == 0o600
    harness.worker._history.start()
    frames: list[HistoryFrame] = []
    for _ in range(3):
        frame = harness.frame()
        assert frame.TYPE == "history" and frame.sync_type == "initial_bootstrap"
        frames.append(frame)
        harness.no_frame()  # the next frame waits for this one's ack
        harness.worker._on_ack(frame.seq)
    assert [len(f.messages) for f in frames] == [100, 100, 50]
    assert all(m["history"] for f in frames for m in f.messages)
    deadline = time.monotonic() + 5
    while harness.worker._history.spool.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.worker._history.spool.pending() == []  # all acked: the spool is empty


def test_a_restarted_worker_sends_what_the_spool_still_holds(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(history, "FRAME_MESSAGES", 100)
    session_db = tmp_path / "s.sqlite3"
    first = connected(session_db)
    first.dispatch(event(big_sync(2, 100)))  # type: ignore[arg-type]
    first.worker._history.start()
    sent = first.frame()
    assert sent.TYPE == "history" and len(sent.messages) == 100
    first.worker.request_exit(0, "test")  # dies before the daemon acked anything
    time.sleep(0.3)
    second = connected(session_db)  # a new process on the same session files
    second.worker._history.start()
    again = second.frame()
    assert [m["id"] for m in again.messages] == [m["id"] for m in sent.messages]  # nothing lost
    second.worker._on_ack(again.seq)
    rest = second.frame()
    assert len(rest.messages) == 100 and rest.messages[0]["id"] != again.messages[0]["id"]
    second.worker._on_ack(rest.seq)


def test_history_of_another_account_is_never_spooled(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "s.sqlite3")
    harness.dispatch(device("6289999999999"))  # the linked account is not the configured number
    harness.dispatch(event(big_sync(1, 3)))  # type: ignore[arg-type]
    assert harness.worker._history.spool.pending() == []
