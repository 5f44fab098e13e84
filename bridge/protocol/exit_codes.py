"""How a worker process ends: its exit code (the meaning of each: `bridge.worker`)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Worker process exit codes; the supervisor's restart policy keys on them."""

    OK = 0  # clean stop (stop frame, stdin EOF, SIGTERM)
    INTERNAL_ERROR = 1  # unexpected bug in the worker itself: restart with backoff
    BAD_ARGS = 2  # bad command line: do not restart
    WRONG_NUMBER = 3  # a different phone was linked and has been logged out
    LOGGED_OUT = 4  # device unlinked: report LOGGED_OUT, do not restart
    STREAM_REPLACED = 5  # the session runs elsewhere: do not auto-restart
    BANNED_OR_OUTDATED = 6  # temporary ban / client outdated: no quick restart
    TEMPFAIL = 75  # EX_TEMPFAIL: connection failed, restart in a fresh process
    GO_ABORT = 134  # Go runtime abort (also seen as returncode -6, SIGABRT)
