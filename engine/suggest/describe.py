"""What AI Suggest understood, in words: a phrase's meaning as the editor would say it.

English by default; a page passes its gettext as `_` and gets the same text in its language
(the engine imports no gettext: scripts/i18n extracts the `_("…")` texts here, and the notes
phrases mark with `N_`). Labels of fields, operators, actions, triggers and senders are the
engine registries' own, translated the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.actions import ACTIONS, PRESET_LABELS
from engine.errors import filled
from engine.fields import FIELDS, FieldKind
from engine.operators import OPERATORS
from engine.rules import SENDERS, TRIGGERS
from engine.suggest.meaning import Meaning

Translate = Callable[[str], str]


def same(text: str) -> str:
    """The English text as it is (no translation)."""
    return text


def _value_text(op: str, value: Any, _: Translate) -> str:
    if op in ("contains", "not_contains", "in_list", "not_in_list", "starts_with", "ends_with"):
        either = " " + _("or") + " "  # outside the f-string: Babel extracts no call inside one
        return either.join(f"“{w.strip()}”" for w in str(value).split(","))
    return str(value)


def describe_condition(cond: dict[str, Any], _: Translate = same) -> str:
    """A condition in the editor's words (the engine's field and operator labels)."""
    if "not" in cond:
        inner = cond["not"]
        children = inner.get("any") or inner.get("all") or [inner]
        return _("NONE of: %(conditions)s") % {"conditions": "; ".join(describe_condition(c, _) for c in children)}
    if "any" in cond:
        return (" " + _("OR") + " ").join(describe_condition(c, _) for c in cond["any"])
    if "all" in cond:
        return (" " + _("AND") + " ").join(describe_condition(c, _) for c in cond["all"])
    spec, op = FIELDS[cond["field"]], cond["op"]
    if spec.kind is FieldKind.BOOL:
        yes = bool(cond["value"]) is (op == "equal")
        answer = _("Yes") if yes else _("No")
        return f"{_(spec.label)}: {answer}"
    return f"{_(spec.label)} {_(OPERATORS[op].label).lower()} {_value_text(op, cond['value'], _)}"


def describe_action(action: dict[str, Any], _: Translate = same) -> str:
    """An action in the editor's words."""
    kind = action["type"]
    label = _(ACTIONS[kind].label)
    if kind == "set_status":
        return _("%(action)s to %(status)s") % {"action": label, "status": action["status"]}
    if kind == "update_value":
        return _("%(action)s (%(preset)s) into %(field)s") % {
            "action": label, "preset": _(PRESET_LABELS[action["preset"]]), "field": _(FIELDS[action["target"]].label)}
    if kind in ("add_tag", "remove_tag"):
        return f"{label} {action['tag']}"
    if kind == "adjust_score":
        return f"{label} {action['by']:+d}"
    if kind == "send_reply":
        return f"{label} “{action['text']}”"
    if kind == "send_webhook":
        target = action.get("url") or _("endpoint %(name)s") % {"name": action.get("endpoint")}
        return _("%(action)s to %(target)s") % {"action": label, "target": target}
    if kind == "set_field":
        return f"{label} {_(FIELDS[action['field']].label)} = {action['value']}"
    if kind == "conversion_event":
        return f"{label} ({action['event_name']})"
    params = ", ".join(f"{k} {v}" for k, v in action.items() if k != "type")
    return f"{label} {params}".strip()


def _describe_setting(key: str, value: Any, _: Translate) -> str:
    if key == "trigger":
        return _("Trigger: %(trigger)s") % {"trigger": _(TRIGGERS[value])}
    if key == "sender":
        return _("Sender: %(sender)s") % {"sender": _(SENDERS[value])}
    return _("Stop Processing: later rules do not run after this one")


def describe(meaning: Meaning, _: Translate = same) -> str:
    """Everything a phrase means, for the highlight's tooltip and the list under the sentence."""
    parts = [describe_condition(c, _) for c in meaning.conditions]
    parts += [describe_action(a, _) for a in meaning.actions]
    parts += [_describe_setting(k, v, _) for k, v in meaning.settings]
    text = "; ".join(parts)
    note = filled(_(meaning.note), dict(meaning.note_args)) if meaning.note else ""
    if not text:
        return note
    return f"{text} ({note})" if note else text
