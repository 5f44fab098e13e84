"""The house rules, checked: import direction, engine purity, the example config."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bridge.config import load_config
from tests.conftest import ROOT

SHELL_ONLY = {"bridge", "store", "sqlite3", "sqlite_utils", "neonize", "aiohttp", "apscheduler",
              "structlog", "socket", "subprocess", "requests", "httpx", "qrcode", "os", "time"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_nothing_of_the_shell() -> None:
    for path in sorted((ROOT / "engine").rglob("*.py")):
        bad = _imports(path) & SHELL_ONLY
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_store_never_imports_bridge_or_neonize() -> None:
    for path in sorted((ROOT / "store").rglob("*.py")):
        bad = _imports(path) & {"bridge", "neonize", "aiohttp", "apscheduler"}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_engine_never_reads_the_clock() -> None:
    for path in sorted((ROOT / "engine").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "time.time(", "date.today(", "datetime.utcnow("):
            assert call not in text, f"{path.name} calls {call}"


def test_import_linter_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_example_config_parses() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.workspace.timezone == "Asia/Jakarta"
    assert [n.phone for n in config.numbers] == ["6281100000001", "6281100000002"]
    assert config.http.token is None
