"""Changes people and other systems make to leads (issue #13): what may be changed, how a
typed value is checked, and what a change does to a lead. Pure: the store commits the
change as an event and runs it through the same processor as messages.

A change names its origin (`change.by` in rules): `dashboard`, `api`, `import` or `cli`.
Messages are `message`; a rule's own Set Status is `rule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.amounts import parse_amount
from engine.errors import Templated
from engine.model import Lead, phone_to_jid

CHANGE_SOURCES: tuple[str, ...] = ("message", "rule", "dashboard", "api", "import", "cli")
PERSON_SOURCES: tuple[str, ...] = ("dashboard", "api", "import", "cli")
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "urgent")
TEXT_FIELDS: tuple[str, ...] = ("name", "notes", "city", "region", "country", "source", "utm_source",
                                "utm_medium", "utm_campaign", "utm_term", "utm_content")
NUMBER_FIELDS: tuple[str, ...] = ("score", "value_actual", "value_potential")
# Every field a person may set, in the order forms and docs list them.
EDITABLE: tuple[str, ...] = ("name", "status", "priority", "score", "notes", "city", "region", "country",
                             "source", "value_actual", "value_potential", "tags", "utm_source",
                             "utm_medium", "utm_campaign", "utm_term", "utm_content")
TAG_LISTS: tuple[str, ...] = ("add_tags", "remove_tags")
MAX_TEXT = 200  # characters of a short field (name, city, UTM values)
MAX_NOTES = 5000  # characters of the notes
MAX_TAGS = 50  # tags on one lead
MAX_TAG = 50  # characters of one tag
MAX_NUMBER = 1e15  # a value or score beyond this is a typo
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab and line ends


class ChangeError(Templated, ValueError):
    """A value a person typed that cannot be stored; names the field.

    `problem` is a template with %(name)s placeholders filled from `params` (as engine.errors.
    RuleError): `problem` reads the English, pages translate the template (scripts/i18n extracts
    the second argument of every `ChangeError(...)`)."""

    def __init__(self, field: str, problem: str, **params: object) -> None:
        self.problem = self._say(problem, params)
        super().__init__(f"{field}: {self.problem}")
        self.field = field


@dataclass(frozen=True, slots=True)
class LeadEdit:
    """Checked values of one change: fields to set (None clears), tags to add and remove."""

    values: tuple[tuple[str, Any], ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the change event."""
        values = {name: sorted(value) if name == "tags" else value for name, value in self.values}
        return {"set": values, "add_tags": list(self.add_tags), "remove_tags": list(self.remove_tags)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LeadEdit:
        """Read the JSON form back (values were checked before the event was written)."""
        values = tuple((name, frozenset(value) if name == "tags" else value)
                       for name, value in dict(raw.get("set") or {}).items())
        return cls(values, tuple(raw.get("add_tags") or ()), tuple(raw.get("remove_tags") or ()))

    @property
    def empty(self) -> bool:
        """Whether the edit changes nothing at all."""
        return not self.values and not self.add_tags and not self.remove_tags


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ChangeError(name, "must be text")
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    limit = MAX_NOTES if name == "notes" else MAX_TEXT
    if len(text) > limit:
        raise ChangeError(name, "is %(length)s characters long; at most %(most)s", length=len(text), most=limit)
    if _CONTROL.search(text):
        raise ChangeError(name, "contains control characters")
    return text or None


def _number(name: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ChangeError(name, "must be a number")
    if isinstance(value, int | float):
        number: float | None = float(value)
    elif isinstance(value, str):
        # Values are typed as Rupiah: "Rp 1.500.000", "1500000", "1.500.000,50".
        number = parse_amount(value)
        if number is None:
            raise ChangeError(name, "%(value)s is not a number (e.g. 1500000 or Rp 1.500.000)", value=repr(value))
    else:
        raise ChangeError(name, "must be a number")
    if number is None or number != number or abs(number) > MAX_NUMBER:
        raise ChangeError(name, "%(value)s is not a number in range", value=repr(value))
    if name != "score" and number < 0:
        raise ChangeError(name, "must not be negative")
    return number


def _tags(name: str, value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        items: Iterable[Any] = value.replace(";", ",").split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ChangeError(name, "must be a list of tags")
    tags: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ChangeError(name, "must be a list of texts")
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise ChangeError(name, "tag %(tag)s… is longer than %(most)s characters", tag=repr(tag[:20]), most=MAX_TAG)
        tags.add(tag)
    if len(tags) > MAX_TAGS:
        raise ChangeError(name, "%(count)s tags; at most %(most)s", count=len(tags), most=MAX_TAGS)
    return frozenset(tags)


def check_value(name: str, value: Any, statuses: Sequence[str]) -> Any:
    """One field's value as it is stored, or ChangeError naming the field."""
    if name == "status":
        text = _text(name, value)
        folded = {status.casefold(): status for status in statuses}
        if text is None or text.casefold() not in folded:
            raise ChangeError(name, "%(value)s is not one of %(known)s", value=repr(value), known=", ".join(statuses))
        return folded[text.casefold()]
    if name == "priority":
        text = _text(name, value)
        if text is not None and text.casefold() not in PRIORITIES:
            raise ChangeError(name, "%(value)s is not one of %(known)s", value=repr(value), known=", ".join(PRIORITIES))
        return text.casefold() if text else None
    if name in NUMBER_FIELDS:
        number = _number(name, value)
        if name == "score":
            return number or 0.0
        return number
    if name == "tags":
        return _tags(name, value)
    if name in TEXT_FIELDS:
        return _text(name, value)
    raise ChangeError(name, "is not a lead field you can change (known: %(known)s)", known=", ".join(EDITABLE))


def parse_edit(raw: Mapping[str, Any], statuses: Sequence[str], *, ignore: Iterable[str] = ()) -> LeadEdit:
    """Check every field of a change (a JSON object or a CSV row); the first problem raises."""
    skipped = set(ignore)
    values: list[tuple[str, Any]] = []
    lists: dict[str, tuple[str, ...]] = {}
    for name, value in raw.items():
        if name in skipped:
            continue
        if name in TAG_LISTS:
            lists[name] = tuple(sorted(_tags(name, value)))
            continue
        values.append((name, check_value(name, value, statuses)))
    return LeadEdit(tuple(values), lists.get("add_tags", ()), lists.get("remove_tags", ()))


def apply_edit(lead: Lead, edit: LeadEdit, now: datetime) -> Lead:
    """The lead with the edit applied (updated_at stamped only when something changed)."""
    changes = dict(edit.values)
    tags = set(changes.get("tags", lead.tags))
    tags |= set(edit.add_tags)
    tags -= set(edit.remove_tags)
    if len(tags) > MAX_TAGS:
        raise ChangeError("tags", "the lead would have %(count)s tags; at most %(most)s", count=len(tags),
                          most=MAX_TAGS)
    changes["tags"] = frozenset(tags)
    if all(getattr(lead, name) == value for name, value in changes.items()):
        return lead
    changes["updated_at"] = now
    return lead.with_changes(**changes)


def new_lead_from_edit(phone: str, edit: LeadEdit, now: datetime, statuses: Sequence[str]) -> Lead:
    """A lead a person creates: the first status unless the edit names one."""
    base = Lead(phone=phone, jid=phone_to_jid(phone), status=statuses[0], created_at=now, updated_at=now)
    created = apply_edit(base, edit, now)
    return created if created.updated_at == now else created.with_changes(updated_at=now)
