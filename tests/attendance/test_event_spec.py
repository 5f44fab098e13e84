"""Creating an event: every setting validated once, each problem naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.event_spec import DEFAULT_TEXTS, REPLY_KINDS, EventSpecError, parse_event_spec, slugify, text_placeholders
from engine.model import DEFAULT_STATUSES

TZ = ZoneInfo("Asia/Jakarta")
BASE = {"name": "Grand Opening", "number": "+62 811-0000-0001", "start": "2026-11-23 08:00",
        "end": "2026-11-23 17:00"}


def parse(**changes: Any) -> Any:
    raw = {**BASE, **changes}
    return parse_event_spec({k: v for k, v in raw.items() if v is not None}, tz=TZ, statuses=DEFAULT_STATUSES,
                            numbers=frozenset({"6281100000001"}))


def test_defaults() -> None:
    spec = parse()
    assert (spec.number, spec.mode, spec.max_uses, spec.keyword, spec.tag) == (
        "6281100000001", "ticket", 1, "CHECKIN", "attended")
    assert spec.starts_at == datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    assert parse(mode="voucher", uses=5).keyword == "REDEEM"
    assert parse(start="2026-11-23T01:00:00Z").starts_at == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert parse(end=datetime(2026, 11, 24, 1, 0)).ends_at == datetime(2026, 11, 24, 1, 0, tzinfo=TZ)


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": " "}, "name"),
    ({"number": "12"}, "number"),
    ({"number": "6281100000009"}, "number"),  # not a configured admin number
    ({"mode": "party"}, "mode"),
    ({"start": "tomorrow"}, "start"),
    ({"end": None}, "end"),
    ({"end": "2026-11-23 07:00"}, "end"),
    ({"end": "2028-11-23 07:00"}, "end"),
    ({"uses": 3}, "uses"),  # only vouchers
    ({"mode": "voucher", "uses": 0}, "uses"),
    ({"slug": "Grand Opening"}, "slug"),
    ({"slug": "123"}, "slug"),
    ({"prefix": "EV0"}, "prefix"),
    ({"prefix": "E"}, "prefix"),
    ({"keyword": "check in"}, "keyword"),
    ({"status": "vip"}, "status"),
    ({"capacity": -1}, "capacity"),
    ({"texts": {"hello": "x"}}, "texts.hello"),
    ({"texts": {"welcome": "Hi {nama}"}}, "texts.welcome"),
    ({"texts": {"welcome": "Hi {name"}}, "texts.welcome"),
    ({"texts": {"closed": ""}}, "texts.closed"),
    ({"colour": "red"}, "colour"),
])
def test_each_problem_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EventSpecError) as info:
        parse(**changes)
    assert info.value.field == field, str(info.value)


def test_default_texts_cover_every_reply_and_placeholder_is_known() -> None:
    for mode, texts in DEFAULT_TEXTS.items():
        assert set(texts) == set(REPLY_KINDS), mode
        for kind, text in texts.items():
            text_placeholders(text, f"{mode}.{kind}")
            assert "\n" in text  # Indonesian first line, English second


def test_slugs() -> None:
    assert slugify("Grand Opening 2026!") == "grand-opening-2026"
    assert slugify("🎉") == "event"
    assert parse(end=datetime(2026, 11, 23, 9, 0, tzinfo=TZ) + timedelta(hours=1)).ends_at.hour == 10
