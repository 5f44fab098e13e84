"""Rules in SQLite: stored in their rule-file form, parsed by `engine` when loaded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from engine.errors import RuleError
from engine.operators import CompileEnv
from engine.rules import Rule, parse_rule
from store.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """The rules that parsed, and the stored ones that no longer do (e.g. a removed status)."""

    rules: tuple[Rule, ...]
    broken: tuple[RuleError, ...]


def load_rules(db: Database, env: CompileEnv) -> LoadedRules:
    """Parse every stored rule; a broken one is reported and skipped, never fatal."""
    rules: list[Rule] = []
    broken: list[RuleError] = []
    rows = db.conn.execute("SELECT id, name, spec FROM rules ORDER BY priority, id").fetchall()
    for rule_id, name, spec in rows:
        try:
            rule = _parse_stored(rule_id, spec, env)
        except RuleError as exc:
            broken.append(exc.named(name))
            continue
        rules.append(rule)
    return LoadedRules(tuple(rules), tuple(broken))


def _parse_stored(rule_id: int, spec: str, env: CompileEnv) -> Rule:
    """One stored rule, or RuleError for whatever keeps it from loading.

    Rules written before the size limits (or straight into the file) may be nested so deep
    that reading them recurses past Python's limit; that is this rule's problem only.
    """
    path = f"rules#{rule_id}"
    try:
        return parse_rule(json.loads(spec), path, env).with_id(rule_id)
    except RuleError:
        raise
    except RecursionError:
        raise RuleError(path, "is nested too deeply to read") from None
    except Exception as exc:  # noqa: BLE001 - one unreadable row must not stop the rest loading
        problem = f"{type(exc).__name__}: {exc}"
        raise RuleError(path, "cannot be read (%(problem)s)", problem=problem) from None


def _spec(rule: Rule) -> str:
    return json.dumps(rule.to_dict(), ensure_ascii=False, sort_keys=False)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What saving a set of rules did."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    deleted: tuple[str, ...]


def save_rules(db: Database, rules: Sequence[Rule], now: datetime, *, replace: bool = False) -> SaveResult:
    """Insert or update rules by name (case-insensitive); `replace` deletes the others.

    One transaction: either the whole file lands or none of it.
    """
    created: list[str] = []
    updated: list[str] = []
    deleted: list[str] = []
    stamp = now.isoformat()
    with db.atomic():
        existing = {
            name.casefold(): (rule_id, name)
            for rule_id, name in db.conn.execute("SELECT id, name FROM rules")
        }
        keep: set[int] = set()
        for rule in rules:
            found = existing.get(rule.name.casefold())
            if found:
                rule_id = found[0]
                db.conn.execute(
                    "UPDATE rules SET name=?, enabled=?, priority=?, trigger=?, spec=?, updated_at=? "
                    "WHERE id=?",
                    (rule.name, int(rule.enabled), rule.priority, rule.trigger, _spec(rule), stamp, rule_id),
                )
                updated.append(rule.name)
            else:
                cursor = db.conn.execute(
                    "INSERT INTO rules (name, enabled, priority, trigger, spec, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (rule.name, int(rule.enabled), rule.priority, rule.trigger, _spec(rule), stamp, stamp),
                )
                rule_id = int(cursor.lastrowid or 0)
                created.append(rule.name)
            keep.add(rule_id)
        if replace:
            for rule_id, name in existing.values():
                if rule_id not in keep:
                    db.conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
                    deleted.append(name)
    return SaveResult(tuple(created), tuple(updated), tuple(deleted))


def get_rule(db: Database, rule_id: int, env: CompileEnv) -> Rule:
    """Return one stored rule; raise NotFoundError if there is none with this id."""
    row = db.conn.execute("SELECT spec FROM rules WHERE id = ?", (rule_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no rule with id {rule_id}")
    return _parse_stored(rule_id, row[0], env)


def delete_rule(db: Database, rule_id: int) -> None:
    """Delete a rule; raise NotFoundError if there is none with this id."""
    with db.atomic():
        cursor = db.conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
    if cursor.rowcount == 0:
        raise NotFoundError(f"no rule with id {rule_id}")


def _name_taken(db: Database, name: str, except_id: int | None) -> bool:
    row = db.conn.execute("SELECT id FROM rules WHERE lower(name) = lower(?) AND id IS NOT ?",
                          (name, except_id)).fetchone()
    return row is not None


def insert_rule(db: Database, rule: Rule, now: datetime) -> int:
    """Add one rule and return its id; raise ValueError("name: ...") when the name is taken."""
    with db.atomic():
        if _name_taken(db, rule.name, None):
            raise ValueError(f"name: a rule called {rule.name!r} already exists")
        cursor = db.conn.execute(
            "INSERT INTO rules (name, enabled, priority, trigger, spec, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rule.name, int(rule.enabled), rule.priority, rule.trigger, _spec(rule), now.isoformat(),
             now.isoformat()))
    return int(cursor.lastrowid or 0)


def update_rule(db: Database, rule_id: int, rule: Rule, now: datetime) -> None:
    """Replace rule `rule_id` (NotFoundError when missing, ValueError("name: ...") on a taken name)."""
    with db.atomic():
        if db.conn.execute("SELECT 1 FROM rules WHERE id = ?", (rule_id,)).fetchone() is None:
            raise NotFoundError(f"no rule with id {rule_id}")
        if _name_taken(db, rule.name, rule_id):
            raise ValueError(f"name: another rule is called {rule.name!r}")
        db.conn.execute(
            "UPDATE rules SET name=?, enabled=?, priority=?, trigger=?, spec=?, updated_at=? WHERE id=?",
            (rule.name, int(rule.enabled), rule.priority, rule.trigger, _spec(rule), now.isoformat(), rule_id))


def reorder_rules(db: Database, ids: Sequence[int], now: datetime, step: int = 10) -> None:
    """Give the rules `ids` (every stored rule, once each) priorities step, 2·step, … in that order."""
    with db.atomic():
        stored = {int(r[0]) for r in db.conn.execute("SELECT id FROM rules")}
        if sorted(ids) != sorted(stored):
            raise ValueError("ids: must list every rule exactly once")
        for index, rule_id in enumerate(ids, start=1):
            row = db.conn.execute("SELECT spec FROM rules WHERE id = ?", (rule_id,)).fetchone()
            try:
                spec = json.loads(row[0])
                spec["priority"] = index * step
                text = json.dumps(spec, ensure_ascii=False)
            except (RecursionError, ValueError, TypeError):
                text = row[0]  # an unreadable rule keeps its text; it is reported, never loaded
            db.conn.execute("UPDATE rules SET priority = ?, spec = ?, updated_at = ? WHERE id = ?",
                            (index * step, text, now.isoformat(), rule_id))
