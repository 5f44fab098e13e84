"""What every subcommand shares: the loaded config, the database, output helpers."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from bridge.config import Config
from bridge.errors import EXIT_FAILED, EXIT_OK
from engine.errors import RuleError, RuleSetError
from engine.limits import MAX_DEPTH
from engine.operators import CompileEnv
from engine.rules import Rule, default_env, parse_rules
from engine.ruleset import RuleSet
from store.db import open_db
from store.rules import load_rules


def utc_now() -> datetime:
    """The shell's clock (the engine never reads one)."""
    return datetime.now(UTC)


def out(text: str = "") -> None:
    """Write a line of command output to stdout (results; logs go to stderr)."""
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    """Write a line for the user to stderr (problems, hints)."""
    sys.stderr.write(text + "\n")


def write_output(path: str | None, write: Callable[[TextIO], int], what: str) -> int:
    """Run `write` on the --output file (or stdout) and report how many `what` it wrote.

    A closed pipe (`… | head`) ends the command with EXIT_FAILED instead of a traceback.
    """
    handle = open(path, "w", encoding="utf-8", newline="") if path else sys.stdout
    try:
        count = write(handle)
    except BrokenPipeError:
        return EXIT_FAILED
    finally:
        if path:
            handle.close()
    if path:
        err(f"wrote {count} {what} to {path}")
    return EXIT_OK


def out_json(value: Any) -> None:
    """Write JSON to stdout."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


@dataclass
class Context:
    """Config plus a lazily opened database, shared by a command's steps."""

    config: Config
    db_path: Path
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        """The wabridge database, opened (and migrated) on first use."""
        if self._db is None:
            self._db = open_db(self.db_path)
        return self._db

    def env(self) -> CompileEnv:
        """A rule validation environment for this workspace."""
        endpoints = self.config.endpoint_names()
        return default_env(self.config.workspace.statuses, endpoints)

    def ruleset(self) -> tuple[RuleSet, list[str]]:
        """The stored rules, compiled; plus descriptions of stored rules that no longer parse."""
        loaded = load_rules(self.db, self.env())
        ruleset = RuleSet(loaded.rules, self.config.workspace.statuses, self.config.endpoint_names())
        skipped = [f'rule "{rule.name}": rules#{rule.id}: cannot be compiled ({problem})'
                   for rule, problem in ruleset.skipped]
        return ruleset, [e.describe() for e in loaded.broken] + skipped

    def close(self) -> None:
        """Close the database if it was opened."""
        if self._db is not None:
            self._db.conn.close()
            self._db = None


def read_rules_file(path: Path, env: CompileEnv) -> list[Rule]:
    """Read a TOML or JSON rules file (by suffix; other names: TOML, then JSON).

    Raises RuleSetError listing every problem, or OSError if the file cannot be read.
    """
    try:
        return _read_rules_file(path, env)
    except RecursionError:
        raise RuleSetError([RuleError(path.name, "is nested too deeply to read (rules nest at most "
                                      "%(most)s groups deep)", most=MAX_DEPTH)]) from None


def _read_rules_file(path: Path, env: CompileEnv) -> list[Rule]:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{")):
        return parse_rules(_json_document(text, path), env)
    try:
        document: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if suffix != ".toml" and text.lstrip().startswith("["):
            return parse_rules(_json_document(text, path), env)
        raise RuleSetError([RuleError(path.name, "not valid TOML: %(problem)s", problem=exc)]) from None
    return parse_rules(document, env)


def _json_document(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError([RuleError(f"{path.name}:{exc.lineno}", "not valid JSON: %(problem)s",
                                      problem=exc.msg)]) from None
