"""Shared fixtures: real SQLite files in a temp dir, the CLI run in-process."""

from __future__ import annotations

import io
import json
import os
import resource
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parent.parent
JAKARTA = ZoneInfo("Asia/Jakarta")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def wabridge(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `wabridge ARGS` in-process against a fresh data dir; returns code/stdout/stderr."""
    from bridge.cli import main

    monkeypatch.chdir(data_dir.parent)

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--data-dir", str(data_dir), *args])
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def message(**overrides: Any) -> dict[str, Any]:
    """A normalised message dict with sensible defaults (a customer writing to CS)."""
    base: dict[str, Any] = {
        "id": "MSG1",
        "session": "6281100000001",
        "chat": "6281234567890@s.whatsapp.net",
        "sender": "6281234567890@s.whatsapp.net",
        "from_me": False,
        "sender_name": "Sari",
        "timestamp": "2026-11-20T09:00:00+07:00",
        "type": "text",
        "text": "halo",
    }
    base.update(overrides)
    if base.get("from_me") and "sender" not in overrides:
        base["sender"] = f"{base['session']}@s.whatsapp.net"
    return base


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _restore_stdio() -> Iterator[None]:
    yield
    sys.stdout.flush()


@contextmanager
def no_descriptor_left() -> Iterator[None]:
    """While inside, this process cannot open one more descriptor (EMFILE), as when a flood of
    clients took them all; those already open work on.

    The soft limit becomes the lowest free descriptor number: the kernel always hands out
    the lowest, so every open, pipe or socket is refused. (A limit counted from the open
    descriptors would leave the holes of a long test session usable.)
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.open(os.devnull, os.O_RDONLY)
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
