"""Fixtures for the engine tests; the factories live in `tests.engine.engine_factories`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from tests.engine.engine_factories import TZ, make_lead, make_message, make_ruleset

__all__ = ["make_lead", "make_message", "make_ruleset"]


@pytest.fixture
def tz() -> ZoneInfo:
    """The workspace timezone every test uses."""
    return TZ
