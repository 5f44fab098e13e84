"""Reply templates: `{name}`-style placeholders over the lead and the message.

Deliberately small: names only, no attribute access or format specs, and an unknown
placeholder is refused when the rule is saved rather than at send time.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from typing import Any

from engine.errors import RuleError
from engine.lead_draft import LeadDraft
from engine.model import Lead, Message

# `lead` is a Lead or a LeadDraft: both read fields as attributes.
Source = Callable[[Any, Message | None], Any]

PLACEHOLDERS: dict[str, Source] = {}


def _placeholder(name: str, source: Source) -> None:
    if name in PLACEHOLDERS:
        raise RuntimeError(f"placeholder {name!r} registered twice")
    PLACEHOLDERS[name] = source


def _lead_field(name: str) -> Source:
    def read(lead: Any, message: Message | None) -> Any:
        return getattr(lead, name)

    return read


for _attr in ("name", "phone", "status", "priority", "score", "source", "city", "region",
              "country", "value_actual", "value_potential", "utm_source", "utm_medium",
              "utm_campaign", "utm_term", "utm_content", "chat_count"):
    _placeholder(_attr, _lead_field(_attr))
_placeholder("text", lambda lead, msg: msg.text if msg else None)
_placeholder("sender_name", lambda lead, msg: msg.sender_name if msg else lead.name)
_placeholder("number", lambda lead, msg: msg.session if msg else None)
_placeholder("customer", lambda lead, msg: lead.name or (msg.sender_name if msg else None)
             or lead.phone)


def _placeholders(template: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The `{name}` placeholders of a template; RuleError (its path left to the caller) naming
    a malformed or unknown one."""
    names: list[str] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RuleError("", "is not a valid template (%(problem)s); write {{ and }} for braces",
                        problem=exc) from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion or name not in allowed:
            raise RuleError("", "unknown placeholder %(name)s; known: %(known)s", name="{" + name + "}",
                            known=", ".join("{" + p + "}" for p in allowed))
        names.append(name)
    return tuple(names)


def placeholder_names(template: str, known: Iterable[str]) -> tuple[str, ...]:
    """The `{name}` placeholders of a template; ValueError naming a malformed or unknown one.

    Shared by rule replies and event reply texts, which differ only in their vocabulary.
    """
    try:
        return _placeholders(template, tuple(known))
    except RuleError as exc:
        raise ValueError(exc.message) from None


def template_names(template: str, path: str) -> tuple[str, ...]:
    """Return the placeholders of a reply template, refusing unknown or malformed ones."""
    try:
        return _placeholders(template, tuple(sorted(PLACEHOLDERS)))
    except RuleError as exc:
        raise exc.at(path) from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, lead: Lead | LeadDraft, message: Message | None) -> str:
    """Fill a validated template; unset values become empty text."""
    values = {name: _text(PLACEHOLDERS[name](lead, message)) for name in template_names(template, "text")}
    return template.format_map(values)
