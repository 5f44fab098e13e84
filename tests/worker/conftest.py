"""A real worker subprocess driven over its pipes, as the supervisor would drive it.

Frames come back typed `Any` so tests can read their fields without casts.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.protocol import Frame, decode, encode

ADMIN = "6281100000001"
CUSTOMER = "6281200000002"


class WorkerProc:
    """One `python -m bridge.worker` process; every stdout line must be a valid frame."""

    def __init__(self, kind: str, session_db: Path, env: dict[str, str], phone: str = ADMIN):
        self.session_db = session_db
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge.worker", "--kind", kind, "--phone", phone]
            + ["--session-db", str(session_db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.seen: list[Frame] = []
        self.stdout_lines: list[bytes] = []
        self.stderr_lines: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            self.frames.put(decode(line))  # raises (and the test fails) on a corrupt line

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def send(self, frame: Frame) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(encode(frame))
        self.proc.stdin.flush()

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def next_frame(self, timeout: float = 10.0) -> Any:
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout} s; seen: {self.seen}") from None
        self.seen.append(frame)
        return frame

    def expect(
        self,
        type_name: str,
        timeout: float = 10.0,
        where: Callable[[Frame], bool] = lambda _f: True,
    ) -> Any:
        """Return the next frame of that type (skipping others), within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next_frame(max(0.01, deadline - time.monotonic()))
            if frame.TYPE == type_name and where(frame):
                return frame

    def expect_state(self, state: str, timeout: float = 10.0) -> Any:
        return self.expect("state", timeout, lambda f: getattr(f, "state", None) == state)

    def no_frame(self, within: float) -> None:
        try:
            frame = self.frames.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected frame {frame}")

    def wait_exit(self, timeout: float = 10.0) -> int:
        code = self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    def stderr_json(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stderr_lines]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    """Factory: start a worker subprocess (killed at teardown if still running)."""
    started: list[WorkerProc] = []

    def start(
        kind: str = "sim",
        session_db: Path | None = None,
        phone: str = ADMIN,
        **extra_env: str,
    ) -> WorkerProc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WABRIDGE_")}
        env.update(extra_env)
        worker = WorkerProc(kind, session_db or tmp_path / "sessions" / f"{phone}.sqlite3", env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
