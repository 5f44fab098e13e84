"""`between` time windows: workspace timezone, start included, end excluded, wrapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.errors import RuleSetError
from tests.engine.engine_factories import fires, leaf, make_lead, make_message, parse, rule


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("window", "utc", "expected"), [
    ("09:00-17:00", "2026-11-23T02:30:00", True),  # 09:30 in Jakarta (UTC 02:30)
    ("09:00-17:00", "2026-11-23T10:30:00", False),  # 17:30 Jakarta, though 10:30 UTC
    ("09:00-17:00", "2026-11-23T02:00:00", True),  # 09:00: start minute included
    ("09:00-17:00", "2026-11-23T01:59:59", False),  # 08:59:59
    ("09:00-17:00", "2026-11-23T09:59:59", True),  # 16:59:59
    ("09:00-17:00", "2026-11-23T10:00:00", False),  # 17:00: end minute excluded
    ("22:00-06:00", "2026-11-23T15:00:00", True),  # 22:00
    ("22:00-06:00", "2026-11-23T17:00:00", True),  # 00:00
    ("22:00-06:00", "2026-11-23T22:59:00", True),  # 05:59
    ("22:00-06:00", "2026-11-23T23:00:00", False),  # 06:00
    ("22:00-06:00", "2026-11-23T05:00:00", False),  # 12:00
    ("22:00-06:00", "2026-11-23T14:59:00", False),  # 21:59
    ("00:00-24:00", "2026-11-23T16:59:00", True),  # 23:59
    ("12:00-24:00", "2026-11-23T16:59:00", True),  # 23:59
    ("12:00-24:00", "2026-11-23T17:00:00", False),  # 00:00
    (" 09:00 - 17:00 ", "2026-11-23T02:30:00", True),
])
def test_window_in_workspace_timezone(window: str, utc: str, expected: bool) -> None:
    message = make_message(timestamp=_utc(utc))
    assert fires(leaf("time.local", "between", window), message=message) is expected


def test_message_timestamp_offset_does_not_matter() -> None:
    # The same instant written with another offset is the same local time.
    moment = datetime(2026, 11, 23, 11, 30, tzinfo=timezone(timedelta(hours=11)))  # 07:30 Jkt
    message = make_message(timestamp=moment)
    assert not fires(leaf("time.local", "between", "09:00-17:00"), message=message)
    assert fires(leaf("time.local", "between", "07:00-08:00"), message=message)


def test_window_uses_message_time_not_processing_time() -> None:
    # A replayed message from 23:00 Jakarta is outside office hours even if processed at 10:00.
    message = make_message(timestamp=_utc("2026-11-23T16:00:00"))
    assert not fires(leaf("time.local", "between", "09:00-17:00"), message=message)


def test_status_change_without_message_uses_now() -> None:
    # engine_factories.NOW is 10:00 in Jakarta.
    lead = make_lead(status="hot")
    assert fires(leaf("time.local", "between", "09:00-17:00"), trigger="lead.status_changed",
                 lead=lead, status_from="new")
    assert not fires(leaf("time.local", "between", "17:00-09:00"), trigger="lead.status_changed",
                     lead=lead, status_from="new")


@pytest.mark.parametrize("window", ["25:00-26:00", "09:00-09:00", "9-17", "09:00", "09:00-17:60",
                                    "09:00-17:00-18:00", "ab:cd-ef:gh", "24:30-01:00", 900, ""])
def test_invalid_windows_refused(window: object) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("time.local", "between", window)])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"
