"""Condition trees: a list is AND; any/all/not nest; errors carry the nested path."""

from __future__ import annotations

from typing import Any

import pytest

from engine.conditions import AllOf, AnyOf, Leaf, Not
from engine.errors import RuleSetError
from tests.engine.engine_factories import fires, leaf, make_lead, make_message, parse, rule

ORDER = leaf("message.text", "contains", "order")
HOT = leaf("lead.status", "equal", "hot")
JAKARTA = leaf("lead.city", "equal", "jakarta")


def _event(text: str, status: str = "new", city: str | None = None) -> dict[str, Any]:
    return {"message": make_message(text=text), "lead": make_lead(status=status, city=city)}


@pytest.mark.parametrize(("conditions", "event", "expected"), [
    ([], _event("x"), True),  # no conditions: always
    ([ORDER, HOT], _event("order", "hot"), True),  # list = AND
    ([ORDER, HOT], _event("order", "new"), False),
    ([ORDER, HOT], _event("halo", "hot"), False),
    ([{"all": [ORDER, HOT]}], _event("order", "hot"), True),
    ([{"all": [ORDER, HOT]}], _event("order"), False),
    ([{"any": [ORDER, HOT]}], _event("halo", "hot"), True),
    ([{"any": [ORDER, HOT]}], _event("order"), True),
    ([{"any": [ORDER, HOT]}], _event("halo"), False),
    ([{"not": ORDER}], _event("halo"), True),
    ([{"not": ORDER}], _event("order"), False),
    ([{"not": {"any": [ORDER, HOT]}}], _event("halo"), True),
    ([{"not": {"any": [ORDER, HOT]}}], _event("halo", "hot"), False),
    ([JAKARTA, {"any": [ORDER, {"all": [HOT, {"not": ORDER}]}]}],
     _event("halo", "hot", "Jakarta"), True),
    ([JAKARTA, {"any": [ORDER, {"all": [HOT, {"not": ORDER}]}]}],
     _event("halo", "new", "Jakarta"), False),
    ([JAKARTA, {"any": [ORDER, {"all": [HOT, {"not": ORDER}]}]}],
     _event("order", "new", "Bogor"), False),
    ([{"not": JAKARTA}], _event("x", city=None), True),  # missing: equal false, not true
    (ORDER, _event("order"), True),  # a single table is a one-item list
])
def test_nesting(conditions: Any, event: dict[str, Any], expected: bool) -> None:
    assert fires(conditions, **event) is expected


def test_parsed_tree_shape() -> None:
    (parsed,) = parse([rule(conditions=[ORDER, {"any": [HOT, {"not": JAKARTA}]}])])
    assert parsed.conditions == AllOf((
        Leaf("message.text", "contains", "order"),
        AnyOf((Leaf("lead.status", "equal", "hot"), Not(Leaf("lead.city", "equal", "jakarta")))),
    ))


@pytest.mark.parametrize(("conditions", "path"), [
    ([ORDER, {"any": [leaf("chat.count", "gt", "many")]}], "rules[0].conditions[1].any[0].value"),
    ([ORDER, {"all": [HOT, leaf("lead.city", "gt", 1)]}], "rules[0].conditions[1].all[1].op"),
    ([{"not": leaf("lead.nope", "equal", 1)}], "rules[0].conditions[0].not.field"),
    ([{"any": [ORDER, {"all": [HOT, leaf("lead.status", "equal", "x")]}]}],
     "rules[0].conditions[0].any[1].all[1].value"),
    ([{"any": []}], "rules[0].conditions[0].any"),
    ([{"all": "x"}], "rules[0].conditions[0].all"),
    ([{"any": [ORDER], "op": "x"}], "rules[0].conditions[0].op"),
    ([{"field": "message.text", "op": "contains", "value": "x", "negate": True}],
     "rules[0].conditions[0].negate"),
    (["message.text contains x"], "rules[0].conditions[0]"),
    ("order", "rules[0].conditions"),
])
def test_error_paths(conditions: Any, path: str) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=conditions)] if not isinstance(conditions, str)
              else [{"name": "R", "conditions": conditions,
                     "actions": [{"type": "add_tag", "tag": "x"}]}])
    assert [e.path for e in info.value.errors] == [path]
