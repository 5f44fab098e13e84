"""The lead as one event's actions change it: `LeadDraft`, mutable and journaled, frozen into
a `Lead` once at the end (engine.evaluate)."""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any

from engine.model import Lead

_LEAD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Lead))
_lead_values = attrgetter(*_LEAD_FIELDS)
_LEAD_SETTERS = tuple(getattr(Lead, name).__set__ for name in _LEAD_FIELDS)
_LEAD_POSITIONS = {name: position for position, name in enumerate(_LEAD_FIELDS)}


class LeadDraft:
    """A lead being changed by one event's actions: mutable, journaled, frozen once at the end.

    Copying the frozen Lead for every action would dominate evaluation time; the journal
    lets a failing rule's changes be rolled back (guarantee 4).
    """

    __slots__ = ("_values", "_journal")

    def __init__(self, lead: Lead) -> None:
        self._values: list[Any] = list(_lead_values(lead))  # in field order: a dict cost 3x
        self._journal: list[tuple[int, Any]] = []

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[_LEAD_POSITIONS[name]]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, name: str, value: Any) -> bool:
        """Change a field; return whether it changed."""
        position = _LEAD_POSITIONS[name]
        old = self._values[position]
        if old == value and type(old) is type(value):
            return False
        self._journal.append((position, old))
        self._values[position] = value
        return True

    def mark(self) -> int:
        """A point to roll back to."""
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        """Undo every change made since `mark`."""
        while len(self._journal) > mark:
            position, old = self._journal.pop()
            self._values[position] = old

    @property
    def changed(self) -> bool:
        """Whether any field changed (a set back to the original value still counts)."""
        return bool(self._journal)

    def freeze(self) -> Lead:
        """The resulting Lead (its fields were checked as they were set)."""
        # The slot setters directly: the frozen dataclass __init__ costs twice as much, per message.
        lead: Lead = object.__new__(Lead)
        for set_slot, value in zip(_LEAD_SETTERS, self._values, strict=False):  # as long
            set_slot(lead, value)
        return lead


def _draft_field(name: str) -> property:
    position = _LEAD_POSITIONS[name]
    return property(lambda draft: draft._values[position], doc=f"The lead's {name} as the draft has it.")


# A property per lead field: read for every condition and action, and a property costs a
# sixth of a failed attribute lookup falling through to __getattr__ (which stays for typing).
for _name in _LEAD_FIELDS:
    setattr(LeadDraft, _name, _draft_field(_name))
del _name
