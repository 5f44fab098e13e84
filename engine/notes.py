"""A rule run's notes read back, so a page can say them in its language.

A note is stored as the English line its action wrote ("add_tag: +vip", "set_status: new -> hot"):
scripts and the API read that. Each action lists the notes it writes as %(name)s templates
(`ActionBase.notes`); reading a line finds its action, the template it fits and the values, which
a page fills into the translated template (bridge.i18n.Wording.note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from engine.actions import ACTIONS

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True, slots=True)
class NoteReading:
    """One note line read back: the action type, the template it fits ("" for a bare type), the values."""

    action: str
    template: str
    params: dict[str, str]


@cache
def _patterns(action: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for template in ACTIONS[action].notes:
        pieces = _PLACEHOLDER.split(template)  # literal, name, literal, name, …, literal
        regex = "".join(f"(?P<{piece}>.+?)" if index % 2 else re.escape(piece) for index, piece in enumerate(pieces))
        out.append((template, re.compile(regex, re.S)))
    return tuple(out)


def read_note(line: str) -> NoteReading | None:
    """The action and template a note line fits, with its values; None for any other line."""
    action, separator, said = line.partition(": ")
    if action not in ACTIONS:
        return None
    if not separator:
        return NoteReading(action, "", {}) if line == action else None
    for template, pattern in _patterns(action):
        found = pattern.fullmatch(said)
        if found is not None:
            return NoteReading(action, template, found.groupdict())
    return None
