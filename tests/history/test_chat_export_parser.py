"""The export parser: every supported layout from a fixture written for it, and the refusals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine.chat_export import MAX_LINES, DateOrderError, ExportError, parse_export, phone_digits

EXPORTS = Path(__file__).parent / "exports"


def parse(name: str, **options: str) -> object:
    return parse_export((EXPORTS / name).read_text(encoding="utf-8"), **options)  # type: ignore[arg-type]


def test_android_indonesian_day_first_24h_with_dots_multiline_media_and_system_lines() -> None:
    export = parse_export((EXPORTS / "android_id_dmy_24h.txt").read_text(encoding="utf-8"))
    assert (export.layout, export.date_order) == ("android", "dmy")
    assert export.system_lines == 3  # encryption notice, a deleted message, a number change
    assert export.unparsed == () and export.group_signals == 0
    first, offer, media, paid = export.messages
    assert first.at == datetime(2024, 3, 12, 9, 0) and first.author == "+62 812-3456-7890"
    assert offer.text == "Halo kak! Paket A Rp 150.000\nya kak, free ongkir Jabodetabek\n\ndan bisa COD"
    assert (media.type, media.has_media, media.text) == ("other", True, "")
    assert paid.at == datetime(2024, 3, 13, 14, 30) and paid.line == 8


def test_android_english_month_first_12h_with_narrow_no_break_space() -> None:
    export = parse_export((EXPORTS / "android_en_mdy_12h.txt").read_text(encoding="utf-8"))
    assert export.date_order == "mdy" and export.system_lines == 2  # encryption notice, missed call
    times = [m.at for m in export.messages]
    assert times == [datetime(2019, 1, 20, 23, 25), datetime(2019, 1, 20, 23, 26), datetime(2019, 1, 21, 0, 5),
                     datetime(2019, 1, 21, 9, 15), datetime(2019, 1, 21, 12, 40)]
    assert [(m.type, m.has_media) for m in export.messages][2:4] == [("other", True), ("image", True)]


def test_ios_month_first_with_seconds_marks_and_attachments() -> None:
    export = parse_export((EXPORTS / "ios_en_mdy_seconds.txt").read_text(encoding="utf-8"))
    assert (export.layout, export.date_order, export.system_lines) == ("ios", "mdy", 1)
    assert export.authors == ("Sari", "Toko Budi")
    kinds = [(m.type, m.text) for m in export.messages]
    assert kinds[2:4] == [("image", ""), ("image", "")]
    assert kinds[4] == ("text", "This one please\nsize M")
    assert export.messages[0].at == datetime(2019, 1, 20, 11, 23, 45)


def test_ios_day_first_with_spanish_markers_and_no_break_spaces() -> None:
    export = parse_export((EXPORTS / "ios_es_dmy_12h.txt").read_text(encoding="utf-8"))
    assert export.date_order == "dmy"
    assert [m.at for m in export.messages] == [datetime(2019, 1, 20, 23, 23, 45), datetime(2019, 1, 20, 23, 24),
                                               datetime(2019, 1, 21, 9, 0), datetime(2019, 1, 21, 12, 0)]
    assert export.messages[2].type == "video"


def test_year_first_dates_with_dashes_and_seconds_and_a_location() -> None:
    export = parse_export((EXPORTS / "android_ymd_dashes.txt").read_text(encoding="utf-8"))
    assert export.date_order == "ymd"
    assert export.messages[0].at == datetime(2024, 3, 12, 9, 0, 5)
    assert export.messages[2].type == "location" and "maps.google.com" in export.messages[2].text


def test_dotted_day_first_dates() -> None:
    export = parse_export((EXPORTS / "android_dots_dmy.txt").read_text(encoding="utf-8"))
    assert export.date_order == "dmy" and export.messages[1].at == datetime(2019, 1, 20, 11, 30)


def test_indonesian_parts_of_the_day() -> None:
    export = parse_export((EXPORTS / "android_id_12h_parts.txt").read_text(encoding="utf-8"))
    assert [m.at.strftime("%H:%M") for m in export.messages] == ["07:15", "12:30", "13:05", "16:45", "20:10"]


def test_an_ambiguous_date_order_is_refused_unless_given() -> None:
    text = (EXPORTS / "ambiguous.txt").read_text(encoding="utf-8")
    with pytest.raises(DateOrderError, match="--date-order dmy, mdy or ymd"):
        parse_export(text)
    assert parse_export(text, date_order="dmy").messages[0].at == datetime(2021, 4, 3, 10, 0)
    assert parse_export(text, date_order="mdy").messages[0].at == datetime(2021, 3, 4, 10, 0)


def test_an_ambiguous_order_is_decided_by_the_file_running_forward_in_time() -> None:
    text = "02/01/21, 10:00 - A: one\n01/02/21, 10:00 - A: two\n"  # mdy would run backwards
    export = parse_export(text)
    assert export.date_order == "dmy" and export.messages[1].at == datetime(2021, 2, 1, 10, 0)


def test_lines_before_the_first_header_and_impossible_dates_are_reported_with_numbers() -> None:
    text = "garbage first line\n31/02/24, 10:00 - A: no such day\n13/02/24, 10:00 - A: ok\n"
    export = parse_export(text)
    assert export.unparsed == ((1, "garbage first line"), (2, "date or time not valid as dmy"))
    assert export.unparsed_count == 2 and len(export.messages) == 1


def test_a_file_without_any_message_header_is_refused() -> None:
    with pytest.raises(ExportError, match="no line looks like a WhatsApp export message"):
        parse_export('{"id": "x"}\n{"id": "y"}\n')


def test_limits_are_refused_with_the_number() -> None:
    with pytest.raises(ExportError, match="the limit is 500,000"):
        parse_export("\n" * (MAX_LINES + 1))


def test_group_events_are_counted_as_group_signals() -> None:
    export = parse_export((EXPORTS / "group.txt").read_text(encoding="utf-8"))
    assert export.group_signals == 2 and export.system_lines == 2


@pytest.mark.parametrize(("name", "digits"), [("+62 812-3456-7890", "6281234567890"), ("Sari", None),
                                              ("(021) 555-0199", "0215550199"), ("12", None)])
def test_phone_digits_of_an_author(name: str, digits: str | None) -> None:
    assert phone_digits(name) == digits
