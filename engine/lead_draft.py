"""The lead as one event's actions change it: `LeadDraft`, mutable and journaled, frozen into
a `Lead` once at the end (engine.evaluate)."""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from engine.model import LEAD_FIELDS, Lead

_LEAD_POSITIONS = {name: position for position, name in enumerate(LEAD_FIELDS)}
# A new lead's values before its first message fills any in: each field's default (None for
# phone, jid and status, which every new lead sets).
_NEW_LEAD_VALUES = tuple(Lead._field_defaults.get(name) for name in LEAD_FIELDS)
_new_lead = tuple.__new__  # a Lead from a sequence of all its values, in C


class LeadDraft(list[Any]):
    """A lead being changed by one event's actions: mutable, journaled, frozen once at the end.

    Copying the frozen Lead for every action would dominate evaluation time; the journal
    lets a failing rule's changes be rolled back (guarantee 4). The draft is the list of the
    lead's values in field order (one C call fills it), each field a property reading its
    item in C (`itemgetter`): no Python frame per read, and no `__getattr__`, which kept
    Python from specialising any attribute access on a draft, its methods' included.
    """

    __slots__ = ("journal",)

    if TYPE_CHECKING:  # the fields are Lead's (properties set below), typed loosely
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, lead: Lead) -> None:
        list.__init__(self, lead)
        self.journal: list[tuple[int, Any]] = []  # (position, old value) of each change, in order

    @classmethod
    def new(cls, **values: Any) -> LeadDraft:
        """The draft of a lead no message has made yet: these fields set, the rest at their
        defaults. A first message changes it anyway: no Lead is built before it does."""
        draft = cls.__new__(cls)
        list.__init__(draft, _NEW_LEAD_VALUES)
        for name, value in values.items():
            draft[_LEAD_POSITIONS[name]] = value
        draft.journal = []
        return draft

    def set(self, name: str, value: Any) -> bool:
        """Change a field; return whether it changed."""
        position = _LEAD_POSITIONS[name]
        old = self[position]
        if old == value and type(old) is type(value):
            return False
        self.journal.append((position, old))
        self[position] = value
        return True

    def rollback(self, mark: int) -> None:
        """Undo every change made since `mark`, a length the journal had (`len(draft.journal)`)."""
        while len(self.journal) > mark:
            position, old = self.journal.pop()
            self[position] = old

    @property
    def changed(self) -> bool:
        """Whether any field changed (a set back to the original value still counts)."""
        return bool(self.journal)

    def freeze(self) -> Lead:
        """The resulting Lead (its fields were checked as they were set)."""
        lead: Lead = _new_lead(Lead, self)
        return lead


for _position, _name in enumerate(LEAD_FIELDS):
    setattr(LeadDraft, _name, property(itemgetter(_position), doc=f"The lead's {_name} as the draft has it."))
del _position, _name
