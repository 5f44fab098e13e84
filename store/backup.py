"""Consistent copies and integrity checks of SQLite files (the wabridge database and the
session databases): `wabridge backup`, `wabridge restore` and the daemon's start check.

The copy uses SQLite's online backup API in one step: it reads inside one read transaction,
so the copy is the state of one commit even while the daemon keeps writing (WAL readers do
not block the writer). The copy is written in rollback-journal mode (one self-contained
file) and fsynced.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

QUICK_CHECK_LIMIT = 20  # problems reported (quick_check stops at this many)


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection (no file is created; a WAL database still reads its -wal)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def integrity_problems(path: Path, *, full: bool = False, writable: bool = False) -> list[str]:
    """What `PRAGMA quick_check` (or the slower `integrity_check`) finds wrong; [] when sound.

    A file that SQLite cannot read at all ("file is not a database") is one problem, not an
    exception. `writable` opens it normally, so a WAL left by a crash is recovered first.
    """
    pragma = "integrity_check" if full else "quick_check"
    try:
        conn = sqlite3.connect(str(path), timeout=30) if writable else open_readonly(path)
        try:
            rows = conn.execute(f"PRAGMA {pragma}({QUICK_CHECK_LIMIT})").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database to `target` (a new file, 0600) as of one commit."""
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    src = open_readonly(source)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)  # pages=-1: every page in one step, inside one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    finally:
        dst.close()
        src.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def table_counts(path: Path, tables: tuple[str, ...] = ("leads", "inbox", "rules", "outbox")) -> dict[str, int]:
    """Row counts of the main tables (for a backup's manifest and the restore report)."""
    conn = open_readonly(path)
    try:
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables if t in present}
    finally:
        conn.close()
