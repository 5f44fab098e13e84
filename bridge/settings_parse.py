"""Value checks shared by the config-section parsers (bridge.attribution.settings, bridge.outbox.settings).

bridge.config's section reader calls each as `check(value, key)`: it returns the value (cleaned)
or raises ConfigError naming the key, the value and what was expected. Pure stdlib apart from
bridge.errors, so any settings module that bridge.config imports can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bridge.errors import ConfigError
from engine.text import is_web_url


class SectionReader(Protocol):
    """bridge.config's table reader: `get(key, default, check)` records the key as known."""

    def get(self, key: str, default: Any, check: Callable[[Any, str], Any]) -> Any: ...


class Section(SectionReader, Protocol):
    """The table reader with `finish()`, which refuses the keys nobody asked for."""

    def finish(self) -> None: ...


def non_empty_text(value: Any, key: str) -> str:
    """A string with something besides white space, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "a non-empty string")
    return value.strip()


def flag(value: Any, key: str) -> bool:
    """true or false (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


SECONDS_IN_A_DAY = 24 * 3600
HOURS_IN_10_YEARS = 10 * 366 * 24
DAYS_IN_100_YEARS = 36_525


def positive_int(most: int) -> Callable[[Any, str], int]:
    """A check: a whole number from 1 to `most`. Every setting has a top far past real use that a
    timer, a timedelta or SQLite can still hold: a typo of a few zeros is refused at start, naming
    the key, instead of failing later (a retention of 10**12 days cannot be subtracted from today)."""

    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ConfigError(key, value, f"a whole number from 1 to {most:,}")
        return value

    return check


def one_of(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    """A check that accepts exactly one of `choices`."""

    def check(value: Any, key: str) -> str:
        if value not in choices:
            raise ConfigError(key, value, f"one of {', '.join(choices)}")
        return str(value)

    return check


def http_url(value: Any, key: str) -> str:
    """An http:// or https:// URL a request can be sent to (engine.text.is_web_url)."""
    text = non_empty_text(value, key)
    if not is_web_url(text):
        raise ConfigError(key, value, "an http:// or https:// URL")
    return text
