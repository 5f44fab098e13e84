"""Bounded memos: of pure functions of a message's text, of times' ISO text, and of tag sets
in order.

Why: customers send the same short texts over and over ("halo kak", "berapa?", the text a
click-to-WhatsApp ad pre-fills), and every message runs its text through the rule set's
RE2 sets and normalisation. The heavy bench replays 30,000 messages with 4,410 distinct
texts; remembering what a text matched skips most of that work (scripts/bench.py).
Bounded twice: only texts up to MEMO_TEXT_CHARS are kept, at most MEMO_ENTRIES of them, and
a full memo is emptied (a stream of distinct texts only refills it). The memos share the
texts themselves, so the worst case is the normalised memo's 8,192 pairs of 512-character
texts: about 8 MB of ASCII (up to four times that for emoji-only texts); real chats' short
texts take about a megabyte.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Generic, TypeVar

MEMO_TEXT_CHARS = 512  # longer texts are rarely repeated and costly to hold
MEMO_ENTRIES = 8192
ISO_ENTRIES = 4096
TAG_SET_ENTRIES = 4096

K = TypeVar("K")
V = TypeVar("V")


class TextMemo(Generic[K, V]):
    """Values of a pure function, by key (a text, or a field and a text)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[K, V] = {}

    def keep(self, key: K, text: str, value: V) -> V:
        """Remember `value` for `key` (whose text is `text`) when the text is short; return it."""
        if len(text) <= MEMO_TEXT_CHARS:
            values = self.values
            if len(values) >= MEMO_ENTRIES:
                values.clear()
            values[key] = value
        return value


_ISO_TEXTS: dict[datetime, tuple[str, tzinfo | None, int]] = {}


def iso_text(value: datetime) -> str:
    """`value.isoformat()`, remembered. A batch stamps every lead it updates and every webhook
    it queues with the same time, and an isoformat call cost a heavy replay ~0.9 µs each."""
    known = _ISO_TEXTS.get(value)
    # Equal aware times (the same instant, or the same wall time in one zone whatever their
    # fold) may differ in offset: the zone and the fold must match too.
    if known is not None and known[1] is value.tzinfo and known[2] == value.fold:
        return known[0]
    if len(_ISO_TEXTS) >= ISO_ENTRIES:
        _ISO_TEXTS.clear()
    text = value.isoformat()
    _ISO_TEXTS[value] = (text, value.tzinfo, value.fold)
    return text


_SORTED_TAGS: dict[int, tuple[frozenset[str], tuple[str, ...]]] = {}


def sorted_tags(tags: frozenset[str]) -> list[str]:
    """`sorted(tags)`, remembered for that very set: a lead keeps one tag set from the message
    that changed it to the next change, and a message's lead diff, its row and its webhooks
    each put it in order (3.7 sorts a message on a heavy rule set, ~3,600 instructions each).
    Kept by identity, the set held with its order so its id is not another's meanwhile; only
    a frozenset, which cannot change after."""
    if type(tags) is not frozenset:
        return sorted(tags)
    known = _SORTED_TAGS.get(id(tags))
    if known is not None and known[0] is tags:
        return list(known[1])
    ordered = sorted(tags)
    if len(_SORTED_TAGS) >= TAG_SET_ENTRIES:
        _SORTED_TAGS.clear()
    _SORTED_TAGS[id(tags)] = (tags, tuple(ordered))
    return ordered
