"""Write-behind: a batch's append-only rows (rule runs, lead changes, outbox entries) and its
inbox "done" marks are written by a second thread while the processor evaluates the next batch.

Why: on a heavy rule set (eight rules fired, a webhook queued per message) inserting those
rows is a third of the work, and the engine is pure Python holding the GIL. A batch's deferred
tables are written with ONE statement (an INSERT into a temporary view whose trigger runs each
table's `INSERT … SELECT … FROM json_each(…)`), a single `sqlite3_step` during which Python
releases the GIL, so the inserts run on the second core while the engine runs on the first
(scripts/bench.py measures it). A replay also hands the thread each chunk's COMMIT
(`transaction()`), and reads its next chunk meanwhile.

What keeps it correct:
- The rows go into the batch's own savepoint on the same connection, before that savepoint
  is released (committed, when it is the outermost): the batch's effects and its
  "processed" marks still land together or not at all (guarantee 2).
- Nothing the next batch's evaluation reads is deferred: leads, visitor codes, check-ins
  are written at once; rule runs and lead changes are never read while processing; the
  outbox is read only by a reply's cooldown, in the next batch's write, which starts after
  this one has settled; the next batch reads only inbox rows above this one's.
- The processor settles a batch (waits for its thread) before it touches the connection
  again for anything but the next batch's reads, and before run() returns. A commit behind
  is waited for (`committed()`) before the connection is used again; one that fails is
  rolled back and raised there.
- Work is handed over only once the thread has taken it: the thread needs the GIL for that,
  and the engine's thread would otherwise keep it for a switch interval at a time.
- Without a serialized SQLite library, a connection shared across threads, or JSON1, the
  same rows go with executemany on the calling thread.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

HANDOVER_TIMEOUT_S = 0.05  # at most this long for the thread to take a batch (it is idle then)


@dataclass(frozen=True, slots=True)
class RowWrite:
    """A statement over many rows, in both forms: `each` for executemany (one row per step),
    `all_at_once` taking every row as one JSON array of row arrays (one step).

    `json_columns`: positions of columns stored as JSON text whose row values may be left as
    lists or tuples. The one-statement form needs no encoding for them (json_extract of an
    array is its JSON text, as orjson wrote it); `executemany` encodes them first. A heavy rule
    set writes eight rule runs a message, and encoding each one's notes was 3% of a replay.
    (Not for large objects: a webhook's payload left as an object cost the thread more parsing
    than it saved this one.)

    `bytes_column`: the position of a column of large texts whose row values may be UTF-8
    bytes (a webhook's payload, as orjson wrote it). The one-statement form takes them apart
    from the JSON, as one BLOB of them all that it cuts up (`?2`): inside the JSON each would be
    escaped here and unescaped by SQLite, and a heavy replay's outbox payloads are 45 MB.
    """

    each: str
    all_at_once: str
    json_columns: tuple[int, ...] = ()
    bytes_column: int | None = None

    def executemany(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> sqlite3.Cursor:
        """Run `each` over the rows, JSON and bytes columns encoded."""
        return conn.executemany(self.each, self.encoded(rows))

    def encoded(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows with their JSON columns as text and bytes as text (what `each` binds)."""
        if not self.json_columns and self.bytes_column is None:
            return rows
        encoded: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for position in self.json_columns:
                value = values[position]
                if isinstance(value, list | tuple):
                    values[position] = orjson.dumps(value).decode()
            if self.bytes_column is not None and isinstance(values[self.bytes_column], bytes):
                values[self.bytes_column] = values[self.bytes_column].decode()
            encoded.append(tuple(values))
        return encoded

    def parameters(self, rows: list[tuple[Any, ...]]) -> tuple[str] | tuple[str, bytes]:
        """What `all_at_once` binds for these rows: their JSON (`?1`), and with a bytes column
        the BLOB of its values (`?2`), each row holding its value's [start, length] there."""
        position = self.bytes_column
        if position is None:
            return (rows_json(rows),)
        pieces: list[bytes] = []
        start = 1  # substr counts from 1
        cut: list[tuple[Any, ...]] = []
        for row in rows:
            value = row[position]
            if value is None:  # NULL: substr of a NULL start is NULL
                cut.append(row)
                continue
            if isinstance(value, str):
                value = value.encode()
            pieces.append(value)
            cut.append((*row[:position], (start, len(value)), *row[position + 1:]))
            start += len(value)
        return rows_json(cut), b"".join(pieces)


def row_insert(table: str, columns: tuple[str, ...], on_conflict: str = "", *,
               json_columns: tuple[str, ...] = (), bytes_column: str | None = None) -> RowWrite:
    """An INSERT of rows of `columns` (`on_conflict`, e.g. "ON CONFLICT (key) DO NOTHING");
    `json_columns` name the columns whose values may be lists, `bytes_column` the one whose
    values may be UTF-8 bytes (see RowWrite)."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    picks = ", ".join(
        f"CAST(substr(?2, json_extract(value, '$[{i}][0]'), json_extract(value, '$[{i}][1]')) AS TEXT)"
        if name == bytes_column else f"json_extract(value, '$[{i}]')" for i, name in enumerate(columns))
    # An upsert clause after INSERT … SELECT needs a WHERE, or SQLite reads ON as a join.
    where = " WHERE true" if on_conflict else ""
    return RowWrite(
        f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}".rstrip(),
        f"INSERT INTO {table} ({names}) SELECT {picks} FROM json_each(?1){where} {on_conflict}".rstrip(),
        tuple(columns.index(name) for name in json_columns),
        columns.index(bytes_column) if bytes_column is not None else None,
    )


def rows_json(rows: list[tuple[Any, ...]]) -> str:
    """Rows as the one JSON array a RowWrite's `all_at_once` takes."""
    return orjson.dumps(rows).decode()


@dataclass(frozen=True, slots=True)
class _Combined:
    """Several one-statement writes as ONE statement: an INSERT into a temporary view whose
    INSTEAD OF trigger runs them in order, each reading its rows from one column.

    Why: after each statement the thread needs the GIL back, and the engine thread holds it up
    to the switch interval (5 ms); four inserts and the savepoint's release, five statements a
    batch, left the thread waiting ~1 s a heavy replay (scripts/bench.py). One statement waits once.
    """

    create: tuple[str, ...]  # IF NOT EXISTS: a rolled-back savepoint takes temp DDL with it
    insert: str


@lru_cache(maxsize=32)  # a processor defers a few fixed combinations of tables
def _combined(statements: tuple[str, ...]) -> _Combined:
    """One column per statement's JSON rows (`?1`), and one more for each that takes a BLOB (`?2`)."""
    name = "write_behind_" + hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
    columns: list[str] = []
    body = []
    for i, sql in enumerate(statements):
        assert sql.count("json_each(?1)") == 1, sql
        columns.append(f"rows_{i}")
        sql = sql.replace("json_each(?1)", f"json_each(NEW.rows_{i})")
        if "substr(?2," in sql:
            columns.append(f"blob_{i}")
            sql = sql.replace("substr(?2,", f"substr(NEW.blob_{i},")
        body.append(sql + ";")
    return _Combined(
        (f"CREATE TEMP VIEW IF NOT EXISTS {name} ({', '.join(columns)}) AS SELECT "
         + ", ".join("NULL" for _ in columns),
         f"CREATE TEMP TRIGGER IF NOT EXISTS {name}_rows INSTEAD OF INSERT ON {name} BEGIN "
         + " ".join(body) + " END"),
        f"INSERT INTO temp.{name} VALUES ({', '.join('?' for _ in columns)})",
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
    """The second thread: runs a batch's deferred inserts; settling releases its savepoint."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._executor: ThreadPoolExecutor | None = None
        self._usable: bool | None = None  # decided on first use
        self._commit: Future[None] | None = None  # a transaction committing on the thread

    def start(self, deferred: Deferred) -> None:
        """Hand the batch to the thread; the caller must not use the connection until settled,
        except for reads that the deferred rows cannot change."""
        if deferred.future is not None or not deferred.writes or not self.usable():
            return
        combined = _combined(tuple(write.all_at_once for write, _ in deferred.writes))
        for create in combined.create:
            self.conn.execute(create)
        # JSON is built here, holding the GIL anyway; the thread then only steps SQLite.
        columns = [value for write, rows in deferred.writes for value in write.parameters(rows)]
        deferred.future = self._hand_over(self.conn.execute, combined.insert, columns)

    def settle(self, deferred: Deferred) -> None:
        """Wait until the batch is written, then release its savepoint; raise what failed
        (the savepoint is then still open for the caller to roll back)."""
        if deferred.future is None:
            # Not started (or no thread here): write on this thread.
            for write, rows in deferred.writes:
                write.executemany(self.conn, rows)
        else:
            deferred.future.result()
        self.conn.execute(f"RELEASE {deferred.savepoint}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN; on success COMMIT on the thread, returning at once (a replay reads its next
        chunk meanwhile): the connection is not to be used until `committed()`. Without a
        thread, COMMIT here. On failure, roll back and raise."""
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise
        if not self.usable():
            self.conn.execute("COMMIT")
            return
        self._commit = self._hand_over(self.conn.execute, "COMMIT")

    def committed(self) -> None:
        """Wait for a transaction's commit behind, if any; if it failed, roll back and raise."""
        commit, self._commit = self._commit, None
        if commit is None:
            return
        try:
            commit.result()
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise

    def _hand_over(self, statement: Callable[..., object], *args: Any) -> Future[None]:
        """Run `statement(*args)` on the thread, returning once the thread has taken it: it
        needs the GIL to take it, and this thread, running the engine, gave that up only every
        switch interval (5 ms). A heavy replay's batches started up to 60 ms late, and the next
        settle waited for them."""
        assert self._executor is not None
        began = threading.Event()

        def run() -> None:
            began.set()
            statement(*args)

        future = self._executor.submit(run)
        began.wait(HANDOVER_TIMEOUT_S)
        return future

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
