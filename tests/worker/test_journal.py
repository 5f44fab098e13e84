"""The worker's message journal on a real file: what a crash can leave behind is read back right."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bridge.worker import journal as journal_module
from bridge.worker.journal import MessageJournal, journal_path


def message(n: int) -> dict[str, object]:
    return {"id": f"M{n}", "text": f"pesan {n}"}


def test_the_journal_sits_beside_the_session_file_and_is_private(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "sessions" / "6281100000001.sqlite3")
    assert path == tmp_path / "sessions" / "6281100000001.journal"
    MessageJournal(path).append(message(1))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_unacked_entries_come_back_in_order_and_acked_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "n.journal"
    first = MessageJournal(path)
    for n in range(1, 5):
        first.append(message(n))
    assert first.ack(2) and first.ack(3)
    assert not first.ack(3)  # a repeated ack changes nothing
    # The process dies here (no close): a new journal reads what the file holds.
    second = MessageJournal(path)
    assert second.pending == 2
    sent = [second.next_unsent(0.1) for _ in range(2)]
    assert [(seq, m["id"]) for seq, m in sent if m] == [(1, "M1"), (4, "M4")]
    assert second.next_unsent(0.01) is None
    assert second.append(message(5)) == 5  # seq numbers go on after the replayed ones


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "n.journal"
    MessageJournal(path).append(message(1))
    with path.open("ab") as handle:
        handle.write(b'{"seq":2,"message":{"id":"M2","te')  # killed in the middle of a write
    again = MessageJournal(path)
    assert again.pending == 1
    again.append(message(3))
    assert [m["id"] for _, m in (again.next_unsent(0.1), again.next_unsent(0.1)) if m] == ["M1", "M3"]
    assert MessageJournal(path).pending == 2  # the torn line is gone, nothing after it lost


def test_the_file_is_emptied_when_all_is_acked_and_compacted_under_load(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "n.journal"
    journal = MessageJournal(path)
    journal.append(message(1))
    journal.ack(1)
    assert path.read_bytes() == b""
    monkeypatch.setattr(journal_module, "COMPACT_EVERY", 3)
    for n in range(2, 9):
        journal.append(message(n))
    for seq in (2, 3, 4):  # the third ack rewrites the file with the pending entries only
        journal.ack(seq)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4 and all(b'"ack"' not in line for line in lines)
    assert MessageJournal(path).pending == 4
