"""Opening the wabridge SQLite database: file mode 0600, WAL, migrations applied."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from store.migrations import MIGRATIONS

DB_FILENAME = "wabridge.db"
BULK_WAL_PAGES = 10_000  # ~80 MB of WAL (8 KB pages) between checkpoints during bulk writes
BULK_CACHE_KIB = 65_536  # page cache during bulk writes (64 MiB)
# Bytes per page of a new database (an existing one keeps its own). Not SQLite's 4 KB: an
# outbox row (a webhook's body) is 1-2 KB and an inbox row ~700 bytes, so 4 KB pages held two
# or three. With 8 KB, a heavy replay wrote 8% fewer bytes, in WAL frames twice the size, and
# waited ~0.25 s less for its commits (scripts/bench.py; README "Speed").
PAGE_SIZE = 8192


def open_db(path: str | Path, *, synchronous: str = "FULL") -> Database:
    """Open (creating 0600 if needed) and migrate the database at `path`.

    `synchronous=FULL` makes every committed transaction durable across power loss,
    which DESIGN's guarantee 1 ("nothing lost") relies on.
    """
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            # Created 0600 before SQLite opens it: it holds customer messages.
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(target), check_same_thread=False, timeout=30)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # ignored once the file has pages
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    db = Database(conn, execute_plugins=False)
    MIGRATIONS.apply(db)
    return db


@contextmanager
def bulk_writes(db: Database, wal_pages: int = BULK_WAL_PAGES) -> Iterator[Database]:
    """A long run of large transactions (a replay): checkpoint the WAL less often.

    Every page a commit dirties is written to the WAL and later copied into the database;
    with a larger WAL, a page rewritten by many commits (a lead, an index) is copied once
    per checkpoint instead of once per commit. Durability is the same: each commit is
    fsynced to the WAL. At the end the WAL is checkpointed and truncated and the settings
    are restored. The final TRUNCATE does not wait for readers: Litestream ([backup] replica)
    holds a read transaction between its syncs, and a waiting TRUNCATE would stall every
    writer for the whole busy timeout (30 s, measured) and then fail anyway; when a reader
    is there, the WAL is truncated by the next checkpoint instead (Litestream's own).
    """
    conn = db.conn
    before = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    cache_before = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA wal_autocheckpoint={int(wal_pages)}")
    # A large transaction must keep its dirty pages in memory, or SQLite spills them to the
    # WAL early and reads them back: give it room (KiB, negative = size rather than pages).
    conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield db
    finally:
        conn.execute(f"PRAGMA wal_autocheckpoint={int(before)}")
        conn.execute(f"PRAGMA cache_size={int(cache_before)}")
        if not conn.in_transaction:
            busy_before = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            conn.execute("PRAGMA busy_timeout=0")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout={int(busy_before)}")


def schema_version(db: Database) -> list[str]:
    """Names of the applied migrations, oldest first."""
    return [m.name for m in MIGRATIONS.applied(db)]
