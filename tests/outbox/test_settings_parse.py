"""The value checks bridge.attribution.settings and bridge.outbox.settings share: each returns the
cleaned value or refuses with the key, the value and what was expected, in bridge.config's wording."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.settings_parse import flag, http_url, non_empty_text, one_of, positive_int

STRATEGY = one_of(("weighted", "round_robin"))


@pytest.mark.parametrize(("check", "value", "cleaned"), [
    (non_empty_text, "  hi ", "hi"),
    (flag, False, False),
    (positive_int(10), 3, 3),
    (positive_int(10), 10, 10),
    (STRATEGY, "round_robin", "round_robin"),
    (http_url, " https://crm.example/hook ", "https://crm.example/hook"),
])
def test_accepted(check: Any, value: Any, cleaned: Any) -> None:
    assert check(value, "sec.key") == cleaned


@pytest.mark.parametrize(("check", "value", "expected"), [
    (non_empty_text, "  ", "a non-empty string"),
    (non_empty_text, 5, "a non-empty string"),
    (flag, 1, "true or false"),
    (positive_int(10), 0, "a whole number from 1 to 10"),
    (positive_int(10), True, "a whole number from 1 to 10"),
    (positive_int(10), 2.0, "a whole number from 1 to 10"),
    (positive_int(86_400), 10**12, "a whole number from 1 to 86,400"),
    (STRATEGY, "random", "one of weighted, round_robin"),
    (http_url, "ftp://crm.example", "an http:// or https:// URL"),
    (http_url, "https://", "an http:// or https:// URL"),
    (http_url, "http://[::1", "an http:// or https:// URL"),
    (http_url, "https://crm.example:0/hook", "an http:// or https:// URL"),
    (http_url, "", "a non-empty string"),
])
def test_refused(check: Any, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        check(value, "sec.key")
    assert (info.value.key, info.value.value, info.value.expected) == ("sec.key", value, expected)
    assert str(info.value) == f"config: sec.key = {value!r}: expected {expected}"
