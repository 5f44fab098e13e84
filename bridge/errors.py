"""Errors of the shell, and the documented exit codes the CLI and the daemon use."""

from __future__ import annotations

import errno

# Exit codes (README "Exit codes"): stable, so scripts and systemd can act on them.
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found problems (invalid rules, bad lines, ...)
EXIT_USAGE = 2  # wrong arguments
EXIT_CONFIG = 11  # config.toml missing keys, wrong values, unknown keys
EXIT_STORE = 25  # the database cannot be opened or migrated
EXIT_CORRUPT = 26  # the database fails PRAGMA quick_check at start: restore it (systemd does not restart)
EXIT_BUSY = 27  # the data dir is held by another daemon or a restore (or a restore was interrupted)

# OSError numbers that mean the machine is out of descriptors, processes or memory, not that
# the thing tried is at fault: what failed with one is tried again once they are back.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM, errno.ENOBUFS})


class BridgeError(Exception):
    """Root of every error raised by `bridge`."""


class ConfigError(BridgeError):
    """A config value that is wrong: names the key, the value and what was expected."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        shown = "(missing)" if value is _MISSING else repr(value)
        super().__init__(f"config: {key} = {shown}: expected {expected}")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()
MISSING: object = _MISSING
