"""AI Suggest's meanings: what a matched phrase adds to a draft rule, and the builders phrases share.

`Meaning` is the contribution (conditions, actions, rule settings, a note on how it was read);
`Hit` is one match of a phrase, giving its groups as typed; `Phrase` and `TextHead` are the
entries of the registry in engine.suggest.phrases. Conditions and actions are the rule
file's own dicts (engine.rules), so a draft is checked by the engine as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.suggest.words import LIST_SEP, MASK, TIME


def N_(text: str) -> str:
    """Marks a text pages show translated (scripts/i18n extracts it); the engine imports no gettext."""
    return text


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a matched phrase adds to the draft: conditions, actions, rule settings, a reading note
    (a template, `note_args` its %(name)s arguments; engine.suggest.describe says it)."""

    conditions: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()  # rule keys: sender, trigger, stop_processing
    note: str = ""
    note_args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: on the lower-cased, quote-masked sentence, with the sentence as typed beside it."""

    match: re.Match[str]
    text: str
    statuses: Mapping[str, str]  # lower-cased word (or alias) → the workspace's status

    def typed(self, group: str | int = 0) -> str:
        """The group as the user typed it (case kept, quotes removed)."""
        start, end = self.match.span(group)
        value = self.text[start:end]
        if end - start > 2 and self.match.string[start + 1] == MASK:
            value = value[1:-1]  # a quoted value (%QUOTED%)
        return value.strip()

    def lower(self, group: str | int = 0) -> str:
        """The group lower-cased with single spaces."""
        return " ".join(self.match.group(group).split())

    def first(self, *groups: str) -> str:
        """The first of several alternative groups that matched."""
        return next((g for g in groups if self.match.group(g) is not None), groups[0])

    def status(self, group: str) -> str:
        """The workspace status a %STATUS% group names."""
        return self.statuses[self.lower(group)]

    def status_list(self, group: str) -> list[str]:
        """Every status named in a group ("hot atau purchase")."""
        found: list[str] = []
        for word in re.split(LIST_SEP, self.lower(group)):
            status = self.statuses.get(word.strip())
            if status is not None and status not in found:
                found.append(status)
        return found


Build = Callable[[Hit], Meaning | None]


@dataclass(frozen=True, slots=True)
class Phrase:
    """One registry entry: a pattern and what a match of it means."""

    pattern: str
    build: Build
    negatable: bool = False
    late: bool = False  # read after the keyword verbs: only words no keyword list took


@dataclass(frozen=True, slots=True)
class TextHead:
    """A verb whose following words are keywords of a text field ("bilang ...", "doesn't say ...")."""

    pattern: str
    field: str
    op: str


def leaf(field_name: str, op: str, value: Any) -> dict[str, Any]:
    """A condition leaf."""
    return {"field": field_name, "op": op, "value": value}


def one_or_list(field_name: str, values: list[str], single: str = "equal", many: str = "in_list") -> Meaning | None:
    if not values:
        return None
    if len(values) == 1:
        return Meaning(conditions=(leaf(field_name, single, values[0]),))
    return Meaning(conditions=(leaf(field_name, many, ", ".join(values)),))


def clock(raw: str) -> int | None:
    found = re.match(r"(\d{1,2})(?:[:.](\d{2}))?\s*([a-z.]+)?", raw.strip())
    if found is None:
        return None
    hour, minute, half = int(found.group(1)), int(found.group(2) or 0), (found.group(3) or "").strip(".")
    if half in ("pm", "p.m", "sore", "malam") and hour < 12:
        hour += 12
    elif half == "siang" and hour < 11:
        hour += 12
    elif half in ("am", "a.m", "pagi") and hour == 12:
        hour = 0
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return hour * 60 + minute


def hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"  # 24:00 is written 00:00 (the editor's time inputs)


def window(hit: Hit, *, outside: bool = False) -> Meaning | None:
    """A time window from the two times in the match; `outside` swaps it (the engine wraps midnight)."""
    times = [m.group(0) for m in re.finditer(TIME, hit.lower())]
    if len(times) != 2:
        return None
    start, end = clock(times[0]), clock(times[1])
    if start is None or end is None:
        return None
    note = ""
    note_args: tuple[tuple[str, str], ...] = ()
    no_half = not re.search(r"[a-z]", times[0] + times[1])
    if no_half and end < start and end <= 12 * 60 and end + 12 * 60 > start:  # "9 to 5": 17:00, not a night
        end += 12 * 60
        note, note_args = N_("%(said)s read as %(time)s"), (("said", f"“{times[1]}”"), ("time", hhmm(end)))
    if start % 1440 == end % 1440:
        return None
    if outside:
        start, end = end, start
    return Meaning(conditions=(leaf("time.local", "between", f"{hhmm(start)}-{hhmm(end)}"),), note=note,
                   note_args=note_args)


def open_window(hit: Hit, *, after: bool) -> Meaning | None:
    times = [m.group(0) for m in re.finditer(TIME, hit.lower())]
    minute = clock(times[0]) if len(times) == 1 else None
    if minute is None or minute % 1440 == 0:
        return None
    value = f"{hhmm(minute)}-00:00" if after else f"00:00-{hhmm(minute)}"
    return Meaning(conditions=(leaf("time.local", "between", value),))


def act(kind: str, **params: Any) -> Meaning:
    """An action."""
    return Meaning(actions=({"type": kind, **params},))
