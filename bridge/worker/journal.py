"""The worker's message journal: what reached our handler survives the worker process.

neonize does not wait for our handler before WhatsApp considers a message delivered
(docs/linked-device-capture.md), so the handler must make the message durable itself, fast,
and return. It appends the normalised message to `<sessions>/<phone>.journal` (one JSON
line `{"seq": N, "message": {...}}`, written with one `os.write` on an O_APPEND file: in
the kernel before the handler returns, so it survives SIGKILL or a Go abort of the worker;
not fsynced, so not a power loss before the OS writes it back).

A forwarder thread sends journal entries to the daemon as `message` frames; the daemon
acks each seq after its inbox commit, and the ack is appended too (`{"ack": N}`). The file
is truncated when nothing is pending and rewritten without the acked entries every
`COMPACT_EVERY` acks. On the next start every entry not acked is sent again; one the daemon
had committed but whose ack was lost is dropped there as a duplicate (inbox key session,
chat, message id).
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("bridge.worker.journal")

COMPACT_EVERY = 5_000  # acks between rewrites while entries stay pending


def journal_path(session_db: Path) -> Path:
    """The journal beside a number's session database: `<sessions>/<phone>.journal`."""
    return session_db.with_name(session_db.name.split(".", 1)[0] + ".journal")


class MessageJournal:
    """An append-only file of messages not yet acked by the daemon, plus what to send next."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Condition()
        self._pending: dict[int, dict[str, Any]] = {}  # seq → message, in seq order
        self._unsent: deque[int] = deque()
        self._acked_since_compaction = 0
        self._seq = 0
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for entry in self._read(path):
            if "ack" in entry:
                self._pending.pop(entry["ack"], None)
                continue
            self._seq = max(self._seq, entry["seq"])
            self._pending[entry["seq"]] = entry["message"]
        self._unsent.extend(self._pending)
        self._fd = -1
        if self._pending:
            log.info("journal_replay", pending=len(self._pending))
        self._rewrite()  # only the pending entries, and no torn last line to append after

    @staticmethod
    def _read(path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        entries: list[dict[str, Any]] = []
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    entry = json.loads(line)
                except ValueError:
                    log.warning("journal_line_unreadable", line=number)  # torn by a crash mid-write
                    continue
                if isinstance(entry, dict) and (isinstance(entry.get("ack"), int) or (
                        isinstance(entry.get("seq"), int) and isinstance(entry.get("message"), dict))):
                    entries.append(entry)
        return entries

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def append(self, message: dict[str, Any]) -> int:
        """Make `message` durable (in the kernel) and queue it for the daemon; return its seq."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._write(json.dumps({"seq": seq, "message": message}, ensure_ascii=False,
                                   separators=(",", ":")).encode("utf-8") + b"\n")
            self._pending[seq] = message
            self._unsent.append(seq)
            self._lock.notify_all()
        return seq

    def next_unsent(self, timeout: float) -> tuple[int, dict[str, Any]] | None:
        """The oldest entry not sent yet (waiting up to `timeout` s for one), or None."""
        with self._lock:
            if not self._unsent:
                self._lock.wait(timeout)
            while self._unsent:
                seq = self._unsent.popleft()
                message = self._pending.get(seq)
                if message is not None:
                    return seq, message
            return None

    def ack(self, seq: int) -> bool:
        """The daemon committed `seq`: forget it, compacting the file now and then."""
        with self._lock:
            if self._pending.pop(seq, None) is None:
                return False
            self._acked_since_compaction += 1
            if not self._pending:
                os.ftruncate(self._fd, 0)  # O_APPEND: the next write starts the file again
                self._acked_since_compaction = 0
            elif self._acked_since_compaction >= COMPACT_EVERY:
                self._rewrite()
            else:
                self._write(b'{"ack":%d}\n' % seq)
            return True

    def _rewrite(self) -> None:
        """Replace the file with the pending entries only (atomic rename)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            data = b"".join(json.dumps({"seq": seq, "message": message}, ensure_ascii=False,
                                       separators=(",", ":")).encode("utf-8") + b"\n"
                            for seq, message in self._pending.items())
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = self._open()
        self._acked_since_compaction = 0

    @property
    def pending(self) -> int:
        """Entries not acked yet."""
        with self._lock:
            return len(self._pending)
