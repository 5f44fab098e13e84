"""Every problem of a rule (RuleError), a lead change (ChangeError) or a lead CSV (ImportProblem)
is a template a page can translate (bridge.i18n.Wording.problem): a literal text whose %(name)s
placeholders are exactly the parameters its call passes. A text built with an f-string cannot be
translated, and a placeholder without its parameter would turn a clear 400 into a KeyError."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import RuleError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATED = ("RuleError", "ChangeError")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# RuleError's own copies (named, at) pass a template along; every other call writes one.
PASSED_ON = {"engine/errors.py"}


def _calls(names: tuple[str, ...]) -> Iterator[tuple[str, ast.Call]]:
    for folder in ("engine", "store", "bridge"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            if where in PASSED_ON:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
                    yield f"{where}:{node.lineno}", node


def test_every_rule_and_change_problem_is_a_template_with_its_parameters() -> None:
    problems: list[str] = []
    templates = 0
    for where, call in _calls(TEMPLATED):
        message = call.args[1] if len(call.args) > 1 else None
        if not (isinstance(message, ast.Constant) and isinstance(message.value, str)):
            problems.append(f"{where}: the problem is not a literal template, so pages cannot translate it")
            continue
        templates += 1
        named = set(PLACEHOLDER.findall(message.value))
        passed = {keyword.arg for keyword in call.keywords}
        if named != passed:
            problems.append(f"{where}: the template names {sorted(named)}, the call passes {sorted(passed)}")
        if named and "%" in PLACEHOLDER.sub("", message.value):
            problems.append(f"{where}: a % that is not a placeholder (write %% in a template with parameters)")
    assert templates > 100  # the scan found the problems (and cannot pass by finding none)
    assert not problems, "\n".join(problems)


def test_every_lead_csv_problem_is_a_template_with_its_parameters() -> None:
    """ImportProblem(N_("template"), {"name": …}, change): the dict's keys, and `problem` for a
    bad row's change, are the template's placeholders."""
    problems: list[str] = []
    found = 0
    for where, call in _calls(("ImportProblem",)):
        marked = call.args[0] if call.args else None
        if not (isinstance(marked, ast.Call) and isinstance(marked.func, ast.Name) and marked.func.id == "N_"
                and isinstance(marked.args[0], ast.Constant) and isinstance(marked.args[0].value, str)):
            problems.append(f"{where}: the problem is not N_(\"a literal template\")")
            continue
        found += 1
        named = set(PLACEHOLDER.findall(marked.args[0].value))
        params = call.args[1] if len(call.args) > 1 else None
        passed: set[str] = set()
        if isinstance(params, ast.Dict):
            passed = {key.value for key in params.keys if isinstance(key, ast.Constant)}
        if len(call.args) > 2:
            passed.add("problem")  # the bad row's own change, filled in as %(problem)s
        if named != passed:
            problems.append(f"{where}: the template names {sorted(named)}, the call passes {sorted(passed)}")
    assert found >= 9
    assert not problems, "\n".join(problems)


def test_the_english_message_is_the_filled_template() -> None:
    error = RuleError("rule.actions", "has %(count)s actions; a rule may have at most %(most)s", count=25, most=20)
    assert error.message == "has 25 actions; a rule may have at most 20"
    assert (error.template, error.params) == ("has %(count)s actions; a rule may have at most %(most)s",
                                              {"count": "25", "most": "20"})
    assert str(error) == "rule.actions: has 25 actions; a rule may have at most 20"
    named = error.named("Too busy").at("rules[3].actions")
    assert str(named) == 'rule "Too busy": rules[3].actions: has 25 actions; a rule may have at most 20'
    assert (named.template, named.params) == (error.template, error.params)


@pytest.mark.parametrize("text", ["100% sure", "50%"])
def test_a_problem_without_parameters_keeps_its_percent_signs(text: str) -> None:
    assert RuleError("x", text).message == text
