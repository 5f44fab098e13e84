"""A newcomer's first hour on the command line (issue #15): a version, honest warnings, quiet ticks."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from importlib import metadata

import pytest

from bridge.logs import configure_logging
from tests.conftest import ROOT, CliResult

Run = Callable[..., CliResult]


def test_version() -> None:
    from bridge.cli import main

    buffer = io.StringIO()
    with pytest.raises(SystemExit) as done, redirect_stdout(buffer):
        main(["--version"])
    assert done.value.code == 0 and buffer.getvalue().strip() == f"wabridge {metadata.version('wabridge')}"


def test_install_service_print_warns_about_a_missing_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "--data-dir", str(tmp_path / "data"),
                           "install-service", "--print"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "[Service]" in done.stdout
    assert f"the unit reads {tmp_path / 'config.toml'}, which does not exist yet" in done.stderr


def test_an_event_that_ended_already_is_created_with_a_warning(wabridge: Run) -> None:
    past = wabridge("events", "create", "--name", "Kemarin", "--number", "6281100000001",
                    "--start", "2020-01-01 08:00", "--end", "2020-01-01 17:00")
    assert past.code == 0 and "created ticket event" in past.out
    assert "warning: the end (01 Jan 2020 17:00 WIB) is already past" in past.err
    future = wabridge("events", "create", "--name", "Besok", "--number", "6281100000001",
                      "--start", "2099-01-01 08:00", "--end", "2099-01-01 17:00")
    assert future.code == 0 and "warning" not in future.err


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_scheduler_ticks_are_debug(level: str, shown: bool) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(level, "console")
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO) is shown
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("apscheduler").setLevel(logging.NOTSET)
