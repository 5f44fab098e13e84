"""Write-behind: a batch's append-only rows (rule runs, lead changes, outbox entries) and its
inbox "done" marks are written by a second thread while the processor evaluates the next batch.

Why: on a heavy rule set (eight rules fired, a webhook queued per message) inserting those
rows is a third of the work, and the engine is pure Python holding the GIL. Each deferred
table is written with ONE statement (`INSERT … SELECT … FROM json_each(?)`), a single
`sqlite3_step` during which Python releases the GIL, so the insert runs on the second core
while the engine runs on the first (scripts/bench.py measures it).

What keeps it correct:
- The rows go into the batch's own savepoint on the same connection, before that savepoint
  is released (committed, when it is the outermost): the batch's effects and its
  "processed" marks still land together or not at all (guarantee 2).
- Nothing the next batch's evaluation reads is deferred: leads, visitor codes, check-ins
  are written at once; rule runs and lead changes are never read while processing; the
  outbox is read only by a reply's cooldown, in the next batch's write, which starts after
  this one has settled; the next batch reads only inbox rows above this one's.
- The processor settles a batch (waits for its thread) before it touches the connection
  again for anything but the next batch's reads, and before run() returns.
- Without a serialized SQLite library, a connection shared across threads, or JSON1, the
  same rows go with executemany on the calling thread.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class RowWrite:
    """A statement over many rows, in both forms: `each` for executemany (one row per step),
    `all_at_once` taking every row as one JSON array of row arrays (one step)."""

    each: str
    all_at_once: str


def row_insert(table: str, columns: tuple[str, ...], on_conflict: str = "") -> RowWrite:
    """An INSERT of rows of `columns` (`on_conflict`, e.g. "ON CONFLICT (key) DO NOTHING")."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    # An upsert clause after INSERT … SELECT needs a WHERE, or SQLite reads ON as a join.
    where = " WHERE true" if on_conflict else ""
    return RowWrite(
        f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}".rstrip(),
        f"INSERT INTO {table} ({names}) SELECT {picks} FROM json_each(?){where} {on_conflict}".rstrip(),
    )


@dataclass(slots=True)
class Deferred:
    """One batch's deferred rows, its open savepoint, and the thread writing them."""

    savepoint: str
    writes: list[tuple[RowWrite, list[tuple[Any, ...]]]] = field(default_factory=list)
    future: Future[None] | None = None

    def add(self, write: RowWrite, rows: list[tuple[Any, ...]]) -> None:
        """Defer these rows (they keep their order, after any rows deferred before)."""
        if rows:
            self.writes.append((write, rows))


class WriteBehind:
    """The second thread: runs a batch's deferred inserts and releases its savepoint."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._executor: ThreadPoolExecutor | None = None
        self._usable: bool | None = None  # decided on first use

    def start(self, deferred: Deferred) -> None:
        """Hand the batch to the thread; the caller must not use the connection until settled,
        except for reads that the deferred rows cannot change."""
        if deferred.future is not None or not self.usable():
            return
        # JSON is built here, holding the GIL anyway; the thread then only steps SQLite.
        statements = [(write.all_at_once, orjson.dumps(rows).decode()) for write, rows in deferred.writes]
        assert self._executor is not None
        deferred.future = self._executor.submit(self._write, statements, deferred.savepoint)

    def settle(self, deferred: Deferred) -> None:
        """Wait until the batch is written and its savepoint released; raise what failed
        (the savepoint is then still open for the caller to roll back)."""
        if deferred.future is None:
            # Not started (or no thread here): write on this thread.
            for write, rows in deferred.writes:
                self.conn.executemany(write.each, rows)
            self.conn.execute(f"RELEASE {deferred.savepoint}")
            return
        deferred.future.result()

    def _write(self, statements: list[tuple[str, str]], savepoint: str) -> None:
        for sql, rows_json in statements:
            self.conn.execute(sql, (rows_json,))
        self.conn.execute(f"RELEASE {savepoint}")

    def usable(self) -> bool:
        """Whether a second thread may use this connection (decided once)."""
        if self._usable is None:
            self._usable = self._probe()
        return self._usable

    def _probe(self) -> bool:
        if sqlite3.threadsafety != 3:  # the library must serialise calls on one connection
            return False
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wabridge-write-behind")
        try:
            # Fails for a connection opened with check_same_thread (the default) or without JSON1.
            executor.submit(self.conn.execute, "SELECT json_extract('[1]', '$[0]')").result()
        except sqlite3.Error:  # ProgrammingError (another thread's connection) is one too
            executor.shutdown(wait=True)
            return False
        self._executor = executor
        return True
