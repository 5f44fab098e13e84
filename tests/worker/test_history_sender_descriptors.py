"""The worker's history sender outlives a spell without file descriptors: the spool cannot be
listed or opened for a while, the thread goes on, and the chunk is sent once they are back,
never set aside as damaged (which would lose that history)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bridge.worker.history import HistoryChunk, HistorySender, HistorySpool
from tests.conftest import message, no_descriptor_left


def _spool(tmp_path: Path) -> tuple[HistorySpool, Path]:
    spool = HistorySpool(tmp_path / "6281100000001.db")
    path = spool.write(HistoryChunk("RECENT", 1, 100, [message(id="H1", history=True)], 0, []))
    return spool, path


def test_the_sender_thread_outlives_running_out_of_descriptors(tmp_path: Path) -> None:
    spool, path = _spool(tmp_path)
    sent: list[object] = []
    ready = threading.Event()
    stop = threading.Event()

    def emit_and_wait(frame_of) -> bool:  # type: ignore[no-untyped-def]
        sent.append(frame_of(len(sent) + 1))
        return True

    sender = HistorySender(spool, emit_and_wait, ready.is_set, stop.is_set)
    sender.start()
    try:
        with no_descriptor_left():
            ready.set()
            sender.wake()
            time.sleep(0.3)  # it tries: the spool cannot be listed
            assert sent == [] and path.exists()
        threads = [t for t in threading.enumerate() if t.name == "history-sender"]
        assert threads and all(t.is_alive() for t in threads)
        sender.wake()
        deadline = time.monotonic() + 10
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sent) == 1 and not path.exists()
        assert not list(spool.folder.glob("*.bad"))
    finally:
        stop.set()
        sender.wake()


def test_a_spool_file_that_cannot_be_opened_for_want_of_descriptors_is_kept(tmp_path: Path) -> None:
    spool, path = _spool(tmp_path)
    sender = HistorySender(spool, lambda frame_of: True, lambda: True, lambda: True)
    with no_descriptor_left():
        sent = sender._send_file(path)
    assert sent is False  # tried again on a later round
    assert path.exists() and not list(spool.folder.glob("*.bad"))
    assert sender._send_file(path) is True and not path.exists()
