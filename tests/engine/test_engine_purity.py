"""The engine is a pure core: it imports nothing that does I/O and reads no clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
MODULES = sorted(ENGINE.rglob("*.py"))

ALLOWED = {
    "__future__", "abc", "collections", "dataclasses", "datetime", "decimal", "enum",
    "functools", "itertools", "math", "operator", "re", "string", "typing", "urllib",
    "zoneinfo", "fractions", "numbers", "types",
    "re2",  # linear-time regexes
    "hashlib",  # deterministic ids of imported export messages (pure computation)
    "json",  # measuring a rule's serialised size (engine.limits); no I/O
    "ipaddress",  # telling an IP host from a name in a webhook URL (engine.text.is_web_url); no I/O
    "engine",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_modules_found() -> None:
    names = {str(p.relative_to(ENGINE)) for p in MODULES}
    assert names >= {"evaluate.py", "rules.py", "actions/base.py", "actions/lead.py", "fields.py"}


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ENGINE)) for p in MODULES])
def test_imports_only_pure_modules(path: Path) -> None:
    extra = _imports(path) - ALLOWED
    assert not extra, f"engine/{path.name} imports {sorted(extra)}"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ENGINE)) for p in MODULES])
def test_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr in CLOCK_CALLS]
    assert not calls, f"engine/{path.name} calls {calls}"


def test_importing_engine_loads_no_io_modules() -> None:
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.iter_modules(engine.__path__):\n"
        "    importlib.import_module('engine.' + m.name)\n"
        "bad = {'bridge', 'store', 'sqlite3', 'socket', 'subprocess', 'neonize', 'aiohttp',\n"
        "       'asyncio', 'sqlite_utils', 'apscheduler', 'structlog', 'http', 'ssl'}\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ENGINE.parent, check=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout
