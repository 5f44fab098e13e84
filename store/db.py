"""Opening the wabridge SQLite database: file mode 0600, WAL, migrations applied."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from store.migrations import MIGRATIONS

DB_FILENAME = "wabridge.db"


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
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    db = Database(conn, execute_plugins=False)
    MIGRATIONS.apply(db)
    return db


def schema_version(db: Database) -> list[str]:
    """Names of the applied migrations, oldest first."""
    return [m.name for m in MIGRATIONS.applied(db)]
