"""Website visitors from rotator links: their codes, clicks, expiry, and the identity-upgrade step
the Processor runs inside its transaction (the engine decides; this module supplies the facts
and records the result).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from engine.attribution import NO_DECISION, Decision, Visitor, decide, message_codes, upgrade_changes
from engine.model import Lead, Message

VISITOR_STATES = ("waiting", "upgraded", "expired")


@dataclass(frozen=True, slots=True)
class NewVisitor:
    """A visitor as a click creates it (one `visitors` row)."""

    code: str
    workspace: str
    rotator: str
    number: str
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    fbclid: str | None
    gclid: str | None
    referrer: str | None
    landed_at: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class ClickCount:
    """Clicks a rotator sent to one number on one (UTC) day."""

    rotator: str
    number: str
    day: str
    clicks: int
    bots: int


_NEW_COLUMNS = tuple(f.name for f in fields(NewVisitor))
_INSERT_VISITOR = (f"INSERT INTO visitors ({', '.join(_NEW_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in _NEW_COLUMNS)}) ON CONFLICT (code) DO NOTHING")
_ADD_CLICKS = (
    "INSERT INTO rotator_clicks (rotator, number, day, clicks, bots) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (rotator, number, day) DO UPDATE SET clicks = clicks + excluded.clicks, "
    "bots = bots + excluded.bots"
)
_FACT_COLUMNS = ("code", "workspace", "number", "state", "expires_at", "source", "utm_source", "utm_medium",
                 "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid")
_LIST_COLUMNS = ("code", "rotator", "number", "state", "source", "utm_source", "utm_medium", "utm_campaign",
                 "utm_term", "utm_content", "fbclid", "gclid", "referrer", "landed_at", "expires_at",
                 "lead_phone", "upgraded_at")


def save_clicks(db: Database, visitors: Sequence[NewVisitor], clicks: Sequence[ClickCount]) -> list[str]:
    """Commit a batch of buffered clicks in one transaction; returns codes that already existed."""
    if not visitors and not clicks:
        return []
    conn = db.conn
    lost: list[str] = []
    with db.atomic():
        for visitor in visitors:
            if conn.execute(_INSERT_VISITOR, astuple(visitor)).rowcount == 0:
                lost.append(visitor.code)
        conn.executemany(_ADD_CLICKS, [astuple(c) for c in clicks])
    return lost


def all_codes(db: Database) -> set[str]:
    """Every code still on file (waiting, upgraded, or expired and not yet purged): never reissued."""
    return {row[0] for row in db.conn.execute("SELECT code FROM visitors")}


def expire_visitors(db: Database, now: datetime) -> int:
    """Mark visitors that never wrote and whose time is up as expired; returns how many."""
    with db.atomic():
        cursor = db.conn.execute("UPDATE visitors SET state = 'expired' WHERE state = 'waiting' AND expires_at <= ?",
                                 (now.isoformat(),))
    return cursor.rowcount


def purge_visitors(db: Database, expired_before: datetime) -> list[str]:
    """Delete expired visitors whose expiry is older than `expired_before`; returns their codes.

    Upgraded visitors stay: their codes are in customers' chats and must never be reissued.
    """
    stamp = expired_before.isoformat()
    with db.atomic():
        codes = [r[0] for r in db.conn.execute(
            "SELECT code FROM visitors WHERE state = 'expired' AND expires_at < ?", (stamp,))]
        db.conn.execute("DELETE FROM visitors WHERE state = 'expired' AND expires_at < ?", (stamp,))
    return codes


def visitors_by_code(conn: sqlite3.Connection, codes: Iterable[str]) -> dict[str, Visitor]:
    """The facts the upgrade decision needs, for the codes found in a batch of messages."""
    wanted = sorted(set(codes))
    found: dict[str, Visitor] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        sql = f"SELECT {', '.join(_FACT_COLUMNS)} FROM visitors WHERE code IN ({', '.join('?' for _ in chunk)})"
        for row in conn.execute(sql, chunk):
            values = dict(zip(_FACT_COLUMNS, row, strict=True))
            values["expires_at"] = datetime.fromisoformat(values["expires_at"])
            found[values["code"]] = Visitor(**values)
    return found


def list_visitors(db: Database, *, state: str | None = None, rotator: str | None = None,
                  code: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Visitors, newest first (the "Website Visitor" leads)."""
    clauses, params = [], []
    for column, value in (("state", state), ("rotator", rotator), ("code", code)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {', '.join(_LIST_COLUMNS)} FROM visitors{where} ORDER BY landed_at DESC, code LIMIT ?"
    return [dict(zip(_LIST_COLUMNS, row, strict=True)) for row in db.conn.execute(sql, [*params, limit])]


def attribution_log(db: Database, *, code: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Identity-upgrade decisions, newest first: upgrades and ignored codes with the reason."""
    keys = ("id", "at", "code", "outcome", "reason", "inbox_id", "lead_phone", "detail")
    sql = f"SELECT {', '.join(keys)} FROM attribution_log"
    params: list[Any] = []
    if code is not None:
        sql += " WHERE code = ?"
        params.append(code)
    sql += " ORDER BY id DESC LIMIT ?"
    return [dict(zip(keys, row, strict=True)) for row in db.conn.execute(sql, [*params, limit])]


def rotator_stats(db: Database) -> dict[tuple[str, str], dict[str, int]]:
    """Per (rotator, number): clicks, bot clicks, visitors, and how many are waiting/upgraded/expired."""
    stats: dict[tuple[str, str], dict[str, int]] = {}

    def entry(rotator: str, number: str) -> dict[str, int]:
        return stats.setdefault((rotator, number), {"clicks": 0, "bot_clicks": 0, "visitors": 0, "waiting": 0,
                                                    "upgraded": 0, "expired": 0})

    for rotator, number, clicks, bots in db.conn.execute(
            "SELECT rotator, number, SUM(clicks), SUM(bots) FROM rotator_clicks GROUP BY rotator, number"):
        item = entry(rotator, number)
        item["clicks"], item["bot_clicks"] = int(clicks), int(bots)
    for rotator, number, state, count in db.conn.execute(
            "SELECT rotator, number, state, COUNT(*) FROM visitors GROUP BY rotator, number, state"):
        item = entry(rotator, number)
        item[state] = int(count)
        item["visitors"] += int(count)
    return stats


class VisitorUpgrades:
    """The Processor's identity-upgrade step for one batch.

    `begin` loads the visitors of every code the batch's messages carry; `decide` asks the
    engine, counting codes already taken earlier in the batch as used; `record` stages the
    result of a message that was processed; `write` commits it in the batch's transaction.
    """

    def __init__(self, workspace: str, *, overwrite: bool = False) -> None:
        self.workspace = workspace
        self.overwrite = overwrite
        self._visitors: dict[str, Visitor] = {}
        self._used: set[str] = set()
        self._consumed: list[tuple[str, int, str, str]] = []
        self._log: list[tuple[Any, ...]] = []
        self._any_codes = True  # until begin() has looked at a batch

    def begin(self, conn: sqlite3.Connection, messages: Iterable[Message]) -> None:
        """Start a batch: forget the last one, load the visitors its messages name."""
        self._used.clear()
        self._consumed.clear()
        self._log.clear()
        codes = [code for message in messages for code in message_codes(message).codes]
        self._visitors = visitors_by_code(conn, codes) if codes else {}
        self._any_codes = bool(codes)  # most batches carry none: decide() need not scan again

    def decide(self, message: Message, now: datetime) -> Decision:
        """The engine's decision for one message of the batch."""
        if not self._any_codes:
            return NO_DECISION
        scan = message_codes(message)
        if not scan.codes:
            return NO_DECISION
        return decide(scan, self._visitors, message=message, now=now, workspace=self.workspace,
                      used=self._used, overwrite=self.overwrite)

    def record(self, decision: Decision, *, inbox_id: int, before: Lead | None, after: Lead, stamp: str) -> None:
        """Stage a processed message's decision: consume the code, log what was ignored."""
        if decision.upgrade is not None:
            code = decision.upgrade.code
            self._used.add(code)
            self._consumed.append((after.phone, inbox_id, stamp, code))
            applied = sorted(upgrade_changes(before, decision.upgrade))
            detail = ("set " + ", ".join(applied)) if applied else "kept the lead's earlier attribution"
            self._log.append((stamp, code, "upgraded", None, inbox_id, after.phone, detail))
        for item in decision.ignored:
            self._log.append((stamp, item.code, "ignored", item.reason, inbox_id, after.phone, None))

    def write(self, conn: sqlite3.Connection) -> None:
        """Commit what `record` staged (call inside the batch's transaction)."""
        if self._consumed:
            conn.executemany("UPDATE visitors SET state = 'upgraded', lead_phone = ?, inbox_id = ?, upgraded_at = ? "
                             "WHERE code = ? AND state = 'waiting'", self._consumed)
        if self._log:
            conn.executemany("INSERT INTO attribution_log (at, code, outcome, reason, inbox_id, lead_phone, detail) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", self._log)
        self._consumed.clear()
        self._log.clear()
