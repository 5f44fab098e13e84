"""What a processing run did, and how a failure is told: shared by the processor's fast
batch path (store.processor) and its careful, message-by-message path (store.careful)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

import orjson

from engine.model import Message, MessageFormatError, parse_message
from store.lead_events import ChangeResult


@dataclass(slots=True)
class ProcessStats:
    """What a processing run did."""

    processed: int = 0
    fired: int = 0
    status_changes: int = 0
    queued: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    changes: dict[int, ChangeResult] = field(default_factory=dict)  # change events applied (issue #13)


def add_stats(total: ProcessStats, part: ProcessStats) -> None:
    """Add what `part` did to `total`."""
    total.processed += part.processed
    total.fired += part.fired
    total.status_changes += part.status_changes
    total.queued += part.queued
    total.errors.extend(part.errors)
    total.changes.update(part.changes)


def stored_message(payload: str) -> Message:
    """Parse an inbox row's payload (validated again: the row may predate a format change)."""
    return parse_message(orjson.loads(payload))


def describe_failure(exc: BaseException) -> str:
    """The reason recorded on an inbox row that could not be processed."""
    if isinstance(exc, MessageFormatError):
        return f"malformed message: {exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed message: not JSON ({exc.msg})"
    return f"{type(exc).__name__}: {exc}"[:1000]


# SQLite failures that come from the machine, not from a message or a rule: the disk is full
# or failing, a file cannot be opened (out of descriptors), memory is short, the database is
# read-only or locked. Extended codes (SQLITE_IOERR_WRITE, …) belong to their base.
_MACHINE_FAILURES = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_NOMEM", "SQLITE_READONLY",
                     "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PROTOCOL", "SQLITE_NOLFS")


def from_the_machine(exc: BaseException) -> bool:
    """Whether a failure is the machine's (disk, memory, descriptors, locks), so the message
    must wait and be processed again, never be marked `error` for it."""
    if isinstance(exc, OSError | MemoryError):
        return True
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or ""
        return any(name == code or name.startswith(code + "_") for code in _MACHINE_FAILURES)
    return False
