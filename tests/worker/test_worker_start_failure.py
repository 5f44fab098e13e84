"""A worker that cannot be started is a failed start of that number, never the daemon's end.

Starting a worker needs three pipes and a process. Out of descriptors (a flood of clients
once took them all), `create_subprocess_exec` raised EMFILE out of the supervisor and the
daemon exited 1 during start-up. Now the number shows start_failed: out of resources it is
retried until they are back; a start that can never succeed (no such program) opens the
breaker like repeated crashes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import NumberConfig
from bridge.daemon import supervisor
from bridge.daemon.sessions import SessionState, SessionView
from bridge.daemon.supervisor import Session, WorkerSpec
from tests.conftest import no_descriptor_left

ADMIN = "6281100000001"


async def _sink(number: str, raw: Any) -> None:
    raise AssertionError("no message is expected")


def _session(spec: WorkerSpec) -> Session:
    return Session(NumberConfig(phone=ADMIN, label="CS"), spec, _sink, lambda s: None)


async def test_out_of_descriptors_at_start_is_retried_until_they_are_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Descriptors run out for a while (a flood, a busy host): more failed starts than the
    # breaker allows crashes, and the number still comes up once they are back.
    monkeypatch.setattr(supervisor, "BACKOFF_BASE", 0.005)
    session = _session(WorkerSpec(kind="sim", sessions_dir=tmp_path / "sessions"))
    with no_descriptor_left():
        await session.start()  # its pipes cannot be made: EMFILE, and start() returns
        failing = await session.wait_for(lambda v: v.restarts > supervisor.BREAKER_CRASHES, 20)
    try:
        assert failing.state is SessionState.DISCONNECTED and failing.reason == "start_failed"
        assert "Too many open files" in (failing.detail or "")
        view = await session.wait_for(lambda v: v.state is SessionState.SCAN_QR, 30)  # a retry starts it
        assert view.worker_pid is not None and session.proc is not None
        assert SessionState.FAILED not in {t.state for t in view.transitions}
    finally:
        await session.stop()


async def test_a_start_that_never_succeeds_opens_the_breaker(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "BACKOFF_BASE", 0.01)
    missing = tmp_path / "no-such-worker"
    session = _session(WorkerSpec(kind="sim", sessions_dir=tmp_path / "sessions", launcher=(str(missing),)))
    await session.start()
    stopped: SessionView = await session.wait_for(lambda v: v.state is SessionState.FAILED, 30)
    assert stopped.reason == "too_many_failures"
    assert stopped.restarts == supervisor.BREAKER_CRASHES
    assert "No such file" in (stopped.detail or "") and str(missing) in (stopped.detail or "")
    assert [t.reason for t in stopped.transitions].count("start_failed") == supervisor.BREAKER_CRASHES - 1
    assert not session.wanted and session.proc is None
