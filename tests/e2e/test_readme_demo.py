"""The README's demos, word for word, from a fresh data directory: what its comments promise happens.

The commands are read from README.md itself (the first code block after "Then, in another terminal",
and the replay sentence), so the README cannot drift from what the test runs.
"""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from store.db import open_db
from store.leads import lead_changes
from tests.conftest import ROOT, CliResult
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text(encoding="utf-8")
SARI = "6281234567890"
STATUSES = ("new", "responded", "hot", "purchase")


def _simulated_demo() -> list[tuple[list[str], str]]:
    """(arguments after `wabridge`, the comment) of every wabridge line of the simulated demo."""
    block = README.split("Then, in another terminal:", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        if command.strip().startswith(".venv/bin/wabridge "):
            lines.append((shlex.split(command)[1:], comment.strip()))
    return lines


def _status_in(comment: str) -> str | None:
    found = [word for word in re.findall(r"[a-z]+", comment) if word in STATUSES]
    return found[-1] if found else None


def test_the_readme_never_says_open_and_names_the_project_docs() -> None:
    assert not re.search(r"^open http", README, flags=re.M)  # `open` is macOS; Linux has xdg-open
    assert "DESIGN.md" not in README and (ROOT / "docs" / "message-format.md").exists()


def test_the_replay_demo_goes_new_responded_hot_purchase(wabridge: Callable[..., CliResult], data_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's commands run in the repository
    command = re.search(r"`\.venv/bin/wabridge (replay [^`]+)`", README)
    assert command, "the README's replay demo"
    done = wabridge(*shlex.split(command.group(1)))
    assert done.code == 0, done.err
    db = open_db(data_dir / "wabridge.db")
    history = list(reversed(lead_changes(db, SARI)))
    statuses = [change["changes"]["status"][1] for change in history if "status" in change["changes"]]
    assert statuses == ["responded", "hot", "purchase"]  # from new, as the README says
    exported = wabridge("leads", "export", "--format", "csv")
    sari = next(line for line in exported.out.splitlines() if line.startswith(SARI))
    assert ",purchase,Sari," in sari and ",1500000," in sari


def test_the_simulated_demo_shows_every_status_it_promises(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path, numbers=("6281100000001",))
    # What ./scripts/run does on a first simulated run.
    installed = daemon.cli("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing")
    assert installed.returncode == 0, installed.stderr
    daemon.start()
    try:
        daemon.wait_state("6281100000001", "SCAN_QR")
        seen = []
        for arguments, comment in _simulated_demo():
            done = daemon.cli(*arguments)
            assert done.returncode == 0, (arguments, done.stderr)
            if arguments[:2] == ["sim", "scan"]:
                assert '"state": "CONNECTED"' in done.stdout  # the state after the scan, not before
                again = daemon.cli(*arguments)  # nothing is waiting to be scanned now: says so, fails
                assert again.returncode != 0 and "nothing is waiting to be scanned" in again.stderr
            expected = _status_in(comment)
            if arguments[:2] == ["sim", "send"] and expected:
                daemon.wait(lambda e=expected: any(lead["status"] == e for lead in daemon.leads(phone=SARI)),
                            what=f"Sari {expected} after {arguments}")
                seen.append(expected)
            if arguments[:2] == ["leads", "export"]:
                daemon.wait(lambda: daemon.leads(phone=SARI)[0]["status"] == "purchase", what="purchase")
                sari = next(line for line in daemon.cli(*arguments).stdout.splitlines() if line.startswith(SARI))
                assert ",purchase,Sari," in sari and ",1500000," in sari
        assert seen == ["new", "new", "responded", "hot"]  # Hot is visible on its own message
    finally:
        daemon.stop(signal.SIGTERM)
