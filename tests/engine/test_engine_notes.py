"""A rule run's notes can be read back (engine.notes): every note an action writes fits one of the
templates it lists, with the values it wrote, so a page can say it in its language. Each action
is applied here in each of its branches; a note changed without its template fails this."""

from __future__ import annotations

from typing import Any

import pytest

from engine.actions import ACTIONS, ActionRun, parse_action
from engine.attendance import display, make_code
from engine.lead_draft import LeadDraft
from engine.model import DEFAULT_STATUSES, Message
from engine.notes import read_note
from engine.rules import default_env
from tests.engine.engine_factories import NOW, make_lead, make_message

CODE = display(make_code("EVT7", "K3Q9T"))


def _note(raw: dict[str, Any], message: Message | None = None, **lead: Any) -> str:
    action = parse_action(raw, "a", default_env(DEFAULT_STATUSES))
    applied = action.apply(LeadDraft(make_lead(**lead)), ActionRun(message, 1, "r", NOW))
    return f"{action.type}: {applied.note}" if applied.note else action.type


CASES: list[tuple[dict[str, Any], Message | None, dict[str, Any], dict[str, str]]] = [
    ({"type": "set_status", "status": "hot"}, None, {}, {"before": "new", "status": "hot"}),
    ({"type": "set_status", "status": "hot"}, None, {"status": "hot"}, {"status": "hot"}),
    ({"type": "update_value"}, make_message(text="total Rp 1.500.000 ya"), {},
     {"field": "value_actual", "amount": "1500000", "captured": "'1.500.000'"}),
    ({"type": "update_value"}, make_message(text="halo"), {}, {}),
    ({"type": "update_value", "pattern": "harga (x)?y"}, make_message(text="harga y"), {}, {}),
    ({"type": "update_value", "pattern": "kode ([a-z]+)"}, make_message(text="kode abc"), {}, {"captured": "'abc'"}),
    ({"type": "set_field", "field": "lead.city", "value": "Bandung"}, None, {},
     {"field": "city", "value": "'Bandung'"}),
    ({"type": "set_field", "field": "lead.city", "value": "Bandung"}, None, {"city": "Bandung"},
     {"field": "city", "value": "'Bandung'"}),
    ({"type": "add_tag", "tag": "vip"}, None, {}, {"tag": "vip"}),
    ({"type": "add_tag", "tag": "vip"}, None, {"tags": frozenset({"vip"})}, {"tag": "vip"}),
    ({"type": "remove_tag", "tag": "vip"}, None, {"tags": frozenset({"vip"})}, {"tag": "vip"}),
    ({"type": "remove_tag", "tag": "vip"}, None, {}, {"tag": "vip"}),
    ({"type": "adjust_score", "by": 5}, None, {"score": 2}, {"before": "2", "after": "7"}),
    ({"type": "adjust_score", "by": -1}, None, {"score": 2.5}, {"before": "2.5", "after": "1.5"}),
    ({"type": "send_webhook", "url": "https://crm.example/hook"}, make_message(), {}, {"event": "rule.fired"}),
    ({"type": "send_reply", "text": "Halo {name}"}, make_message(), {}, {}),
    ({"type": "send_reply", "text": "Halo"}, None, {}, {}),
    ({"type": "send_reply", "text": "Halo"}, make_message(is_group=True, chat="1203@g.us"), {}, {}),
    ({"type": "conversion_event", "event_name": "Purchase"}, make_message(), {}, {}),
    ({"type": "conversion_event", "event_name": "Purchase"}, make_message(), {"ctwa_clid": "ARAkLk"},
     {"event": "Purchase"}),
    ({"type": "check_in", "event": "*"}, None, {}, {}),
    ({"type": "check_in", "event": "*"}, make_message(from_me=True, text=f"CHECKIN {CODE}"), {}, {}),
    ({"type": "check_in", "event": "*"}, make_message(is_group=True, chat="1203@g.us", text=f"CHECKIN {CODE}"), {}, {}),
    ({"type": "check_in", "event": "*"}, make_message(text="halo kak"), {}, {}),
    ({"type": "check_in", "event": "*"}, make_message(text=f"CHECKIN {CODE}"), {}, {"count": "1"}),
]


@pytest.mark.parametrize(("raw", "message", "lead", "params"), CASES)
def test_every_note_an_action_writes_reads_back(raw: dict[str, Any], message: Message | None,
                                                 lead: dict[str, Any], params: dict[str, str]) -> None:
    line = _note(raw, message, **lead)
    reading = read_note(line)
    assert reading is not None, f"{line!r} fits no template of {raw['type']}"
    assert reading.action == raw["type"] and reading.template in ACTIONS[raw["type"]].notes
    assert reading.params == params
    assert reading.template % reading.params == line.partition(": ")[2]


def test_every_template_is_written_by_some_branch() -> None:
    """The templates are the notes the actions write: none is listed that no branch writes."""
    written = {read_note(_note(raw, message, **lead)).template for raw, message, lead, _ in CASES}  # type: ignore[union-attr]
    listed = {template for cls in ACTIONS.values() for template in cls.notes}
    assert listed == written


def test_what_is_not_a_note_is_not_read() -> None:
    assert read_note("add_tag: ???") is None and read_note("no_such_action: +vip") is None
    assert read_note("identity_upgrade") is None and read_note("") is None
