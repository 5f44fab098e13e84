"""The naive reference scripts/bench.py measures wabridge against: every rule of a trigger
checked in a plain loop, text normalised per condition, every regex searched alone. Same
rules, same decisions (the bench checks that), none of the engine's indexing or caching."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workload import STATUSES  # noqa: E402

from engine.conditions import AnyOf, Condition, Leaf, Not  # noqa: E402
from engine.context import EvalContext  # noqa: E402
from engine.fields import FIELDS, FieldKind  # noqa: E402
from engine.operators import OPERATORS, CompileEnv  # noqa: E402
from engine.regexes import RegexBank  # noqa: E402
from engine.rules import Rule  # noqa: E402
from engine.ruleset import CompiledRule, RuleSet  # noqa: E402
from engine.text import cached_regex, normalise  # noqa: E402


def naive_check(cond: Condition, env: CompileEnv) -> Callable[[EvalContext], bool]:
    """A plain interpreter: text normalised per condition, every regex searched alone."""
    if isinstance(cond, Leaf):
        spec, op = FIELDS[cond.field], OPERATORS[cond.op]
        if cond.op == "matches":
            regex = cached_regex(str(cond.value))

            def regex_leaf(ctx: EvalContext) -> bool:
                value = spec.get(ctx)
                return value is not None and regex.search(str(value)) is not None

            return regex_leaf
        predicate = op.build(cond.value, spec, env, "value")

        def leaf(ctx: EvalContext) -> bool:
            value = spec.get(ctx)
            if value is None:
                return op.true_when_missing
            if spec.kind is FieldKind.TEXT:
                value = normalise(str(value))
            elif spec.kind is FieldKind.TAGS:
                value = tuple(normalise(t) for t in value)  # type: ignore[union-attr]
            return predicate(value, ctx)

        return leaf
    if isinstance(cond, Not):
        inner = naive_check(cond.child, env)
        return lambda ctx: not inner(ctx)
    kids = [naive_check(c, env) for c in cond.children]
    if isinstance(cond, AnyOf):
        return lambda ctx: any(k(ctx) for k in kids)
    return lambda ctx: all(k(ctx) for k in kids)


class NaiveRuleSet(RuleSet):
    """Same rules and semantics, but every rule of the trigger is checked in a plain loop."""

    def __init__(self, rules: list[Rule]) -> None:
        super().__init__(rules, STATUSES)
        env = CompileEnv(RegexBank(), tuple(STATUSES))
        self._naive = {
            key: [CompiledRule(c.rule, naive_check(c.rule.conditions, env), None, c.position)
                  for c in compiled]
            for key, compiled in self._by_key.items()
        }

    def candidates(self, trigger: str, sender: str | None, ctx: EvalContext) -> list[CompiledRule]:
        key = (trigger, sender if trigger == "message.received" else None)
        return self._naive.get(key, [])
