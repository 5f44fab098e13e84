"""A message is kept readably whatever its JSON escapes: half of a UTF-16 pair ("\\ud800", which
a partner's JSON may carry) becomes U+FFFD in every text of the message, so it can be stored as
UTF-8; whole characters, emoji included, are kept as they are."""

from __future__ import annotations

import json

from engine.model import parse_message
from engine.text import readable


def test_readable_replaces_only_lone_surrogates() -> None:
    assert readable("halo kak 😀") == "halo kak 😀"
    assert readable("a\ud800b") == "a\ufffdb"
    assert readable("\udfff\ud800") == "\ufffd\ufffd"
    text = "halo"
    assert readable(text) is text  # the usual case: no copy


def test_every_text_of_a_message_is_made_readable() -> None:
    raw = json.loads('{"id": "m\\ud800", "session": "s", "chat": "6281234567890@s.whatsapp.net", '
                     '"sender": "6281234567890@s.whatsapp.net", "timestamp": "2026-11-23T10:00:00+07:00", '
                     '"text": "mau order \\ud83d\\ude00 \\udfff", "sender_name": "Sari \\ud800", '
                     '"room_tags": ["vip\\ud800"], "referral": {"source_url": "https://x\\ud800"}}')
    message = parse_message(raw)
    assert message.text == "mau order 😀 \ufffd" and message.sender_name == "Sari \ufffd"
    assert message.id == "m\ufffd" and message.room_tags == ("vip\ufffd",)
    assert message.referral is not None and message.referral.source_url == "https://x\ufffd"
    json.dumps(message.to_dict(), ensure_ascii=False).encode("utf-8")  # storable: no UnicodeEncodeError


def test_a_time_no_zone_could_show_is_refused_and_never_breaks_a_page() -> None:
    """Year 9999 at -12:00 (or year 1 at +14:00) cannot be moved into the workspace zone: such a
    message is unreadable, kept with its reason; a time already stored so shows as it is."""
    from zoneinfo import ZoneInfo

    import pytest

    from bridge.i18n import Wording
    from engine.model import MessageFormatError, parse_timestamp

    for value in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", 10**11 - 1):
        with pytest.raises(MessageFormatError, match="out of range for a time"):
            parse_timestamp(value)
    assert parse_timestamp("2026-11-23T10:00:00+07:00").year == 2026
    words = Wording("id", ZoneInfo("Asia/Jakarta"))
    assert words.when("9999-12-31T23:59:59-12:00") == "9999-12-31T23:59:59-12:00"
    assert words.iso("9999-12-31T23:59:59-12:00") is None
    assert words.when("2026-11-23T03:00:00+00:00") == "23 Nov 2026 10:00 WIB"
