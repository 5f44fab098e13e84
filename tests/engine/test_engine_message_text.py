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
