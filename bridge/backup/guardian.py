"""`python -m bridge.backup.guardian PARENT_PID LITESTREAM ARGS…`: runs Litestream for the
daemon and gives it exactly one SIGTERM when the daemon stops it or dies.

Litestream ships the last commits on its first SIGTERM and skips that final sync when a
second signal arrives. A parent-death signal set on Litestream itself can arrive several
times (once for each thread of a killed daemon it is reparented through), and a terminal's
Ctrl-C reaches the whole process group; so this small process takes those signals, and
Litestream, in its own process group, hears one SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """Start Litestream, forward one SIGTERM, exit with its exit code."""
    parent, command = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        if not forwarded and child.poll() is None:
            forwarded = True
            child.send_signal(signal.SIGTERM)

    for each in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(each, forward)
    if os.getppid() != parent:  # the daemon died before the parent-death signal was set
        forward(signal.SIGTERM, None)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
