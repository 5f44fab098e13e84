"""[history] in config.toml: defaults, and wrong values refused with key, value and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import parse_config
from bridge.errors import ConfigError


def test_defaults_store_history_without_rules_for_90_days() -> None:
    history = parse_config({}, base_dir=Path(".")).history
    assert (history.enabled, history.run_rules, history.max_age_days) == (True, False, 90)


@pytest.mark.parametrize(("table", "message"), [
    ({"run_rules": "yes"}, "history.run_rules = 'yes': expected true or false"),
    ({"enabled": 1}, "history.enabled = 1: expected true or false"),
    ({"max_age_days": 0}, "history.max_age_days = 0: expected a whole number of days from 1 to 3650"),
    ({"max_age_days": 90.5}, "history.max_age_days = 90.5: expected a whole number of days"),
    ({"max_age": 9}, "history.max_age = 9: expected no such setting"),
])
def test_wrong_values_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"history": table}, base_dir=Path("."))
    assert message in str(caught.value)
