"""Rule pre-filtering by anchors: a feature a message must have for a rule to fire.

Each rule is filed under one *anchor*: a set of alternative features of which at least
one must be present (a keyword in the message text, a regex hit, the lead's status, a
true/false message flag, the time of day in a window). Per event the rule set computes
which features are present (one RE2::Set pass for all keywords, one for all regexes, one
table lookup for the minute of the day) and evaluates only the rules filed under them,
plus the rules without an anchor. An anchor is a necessary condition,
never a sufficient one: every candidate still runs its full condition check.
"""

from __future__ import annotations

from typing import Any

import re2  # type: ignore[import-untyped]

from engine.conditions import AnyOf, Condition, Leaf, Not
from engine.context import EvalContext
from engine.memo import TextMemo
from engine.operators import time_window
from engine.text import keyword_list, normalise

Feature = tuple[Any, ...]
TEXT_FIELD = "message.text"
FLAG_FIELDS = ("message.has_media", "message.is_group", "message.is_reply", "message.first_contact")
# How selective each kind of anchor tends to be (lower is better).
_RANK = {"kw": 0, "re": 0, "to": 0, "from": 0, "status": 1, "time": 1, "flag": 2}
MINUTES_A_DAY = 1440
_STATUS_FEATURES = {"lead.status": "status", "status.to": "to", "status.from": "from"}


def _leaf_anchor(leaf: Leaf, regex_index: dict[str, int], statuses: dict[str, str]) -> frozenset[Feature] | None:
    if leaf.field == TEXT_FIELD:
        if leaf.op in ("contains", "starts_with", "ends_with"):
            return frozenset(("kw", w) for w in keyword_list(leaf.value, "value"))
        if leaf.op == "equal":
            return frozenset({("kw", normalise(str(leaf.value)))}) if normalise(str(leaf.value)) else None
        if leaf.op == "matches" and isinstance(leaf.value, str) and leaf.value in regex_index:
            return frozenset({("re", regex_index[leaf.value])})
        return None
    if leaf.field in _STATUS_FEATURES and leaf.op in ("equal", "in_list"):
        names = keyword_list(leaf.value, "value")
        kind = _STATUS_FEATURES[leaf.field]
        return frozenset((kind, statuses[n]) for n in names if n in statuses)
    if leaf.field == "time.local" and leaf.op == "between":
        # Shift and business-hours rules: without an anchor each was checked on every event.
        return frozenset({("time", *time_window(leaf.value, "value"))})
    if leaf.field in FLAG_FIELDS and leaf.op == "equal" and isinstance(leaf.value, bool | str):
        flag = leaf.value if isinstance(leaf.value, bool) else leaf.value.strip().lower() in ("true", "yes", "1")
        return frozenset({("flag", leaf.field, flag)})
    return None


def find_anchor(cond: Condition, regex_index: dict[str, int], statuses: dict[str, str]) -> frozenset[Feature] | None:
    """The best set of alternative features the condition requires, or None."""
    if isinstance(cond, Leaf):
        return _leaf_anchor(cond, regex_index, statuses)
    if isinstance(cond, Not):
        return None
    if isinstance(cond, AnyOf):
        union: set[Feature] = set()
        for child in cond.children:
            alt = find_anchor(child, regex_index, statuses)
            if alt is None:
                return None  # one unanchored alternative: the group needs nothing in particular
            union |= alt
        return frozenset(union)
    best: frozenset[Feature] | None = None
    for child in cond.children:
        alt = find_anchor(child, regex_index, statuses)
        if alt is not None and (best is None or _score(alt) < _score(best)):
            best = alt
    return best


def _score(alt: frozenset[Feature]) -> tuple[int, int]:
    return (max(_RANK[f[0]] for f in alt), len(alt))


class FeatureIndex:
    """Which anchored rules an event can reach, as a bitmask over rule positions.

    Built once per rule set: every feature maps to the mask of the rules filed under it,
    keywords are found by one RE2::Set pass over the normalised message text.
    """

    def __init__(self, masks: dict[Feature, int]) -> None:
        self.masks = masks
        self.keywords: tuple[str, ...] = tuple(sorted(f[1] for f in masks if f[0] == "kw"))
        self._keyword_masks = [masks[("kw", w)] for w in self.keywords]
        self._regex_masks = {f[1]: m for f, m in masks.items() if f[0] == "re"}
        self._status = {f[1]: m for f, m in masks.items() if f[0] == "status"}
        self._to = {f[1]: m for f, m in masks.items() if f[0] == "to"}
        self._from = {f[1]: m for f, m in masks.items() if f[0] == "from"}
        self._flags = [(name.removeprefix("message."), masks.get(("flag", name, True), 0),
                        masks.get(("flag", name, False), 0))
                       for name in FLAG_FIELDS
                       if ("flag", name, True) in masks or ("flag", name, False) in masks]
        self._minutes = _minute_masks({(f[1], f[2]): m for f, m in masks.items() if f[0] == "time"})
        self._set: Any = None
        self._text_masks: TextMemo[str, int] = TextMemo()
        if self.keywords:
            options = re2.Options()
            options.case_sensitive = True  # both sides are already casefolded
            options.log_errors = False
            self._set = re2.Set.SearchSet(options)
            for word in self.keywords:
                self._set.Add(re2.escape(word))
            self._set.Compile()

    def reachable(self, ctx: EvalContext) -> int:
        """The mask of anchored rules whose anchor is present in this event."""
        mask = self._status.get(ctx.lead.status, 0)
        if self._minutes is not None:
            local = ctx.local_time()
            mask |= self._minutes[local.hour * 60 + local.minute]
        if ctx.status_to is not None:
            mask |= self._to.get(ctx.status_to, 0) | self._from.get(ctx.status_from or "", 0)
        if ctx.message is None:
            return mask
        cache = ctx.cache
        if cache.message_mask is None:  # the message's part is the same in every pass of the event
            cache.message_mask = self._message_mask(ctx)
        return mask | cache.message_mask

    def _message_mask(self, ctx: EvalContext) -> int:
        message = ctx.message
        assert message is not None
        mask = 0
        for name, if_true, if_false in self._flags:
            value = ctx.first_contact if name == "first_contact" else getattr(message, name)
            mask |= if_true if value else if_false
        text = message.text
        if self._set is not None or self._regex_masks:
            text_mask = self._text_masks.values.get(text)
            if text_mask is None:
                text_mask = self._text_masks.keep(text, text, self._text_mask(ctx, text))
            mask |= text_mask
        return mask

    def _text_mask(self, ctx: EvalContext, text: str) -> int:
        """The mask of the keywords and regexes found in a text (a pure function of it)."""
        mask = 0
        if self._set is not None and text:
            hits = self._set.Match(ctx.normalised(TEXT_FIELD, text))
            if hits:
                masks = self._keyword_masks
                for index in hits:
                    mask |= masks[index]
        if self._regex_masks:
            for index in ctx.regex_hits(TEXT_FIELD, text):
                mask |= self._regex_masks.get(index, 0)
        return mask


def _minute_masks(windows: dict[tuple[int, int], int]) -> list[int] | None:
    """For each minute of the day, the mask of the rules whose time window holds it (as the
    `between` operator reads a window: engine.operators.time_window), or None without any."""
    if not windows:
        return None
    minutes = [0] * MINUTES_A_DAY
    for (start, end), mask in windows.items():
        held = range(start, end) if start < end else [*range(start, MINUTES_A_DAY), *range(end)]
        for minute in held:
            minutes[minute] |= mask
    return minutes
