"""Condition trees: a list means AND; `any`/`all`/`not` nest; leaves are {field, op, value}.

Parsing validates once (with path-qualified errors). Compiling turns a tree into one
closure for the hot path; `explain` walks the same tree and records what it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.context import EvalContext
from engine.errors import RuleError
from engine.fields import FIELDS, FieldKind, FieldSpec, FieldValue
from engine.operators import OPERATORS, CompileEnv, prepare
from engine.regexes import RegexBank
from engine.text import compile_user_regex, normalise


@dataclass(frozen=True, slots=True)
class Leaf:
    """`{field, op, value}`: one test of one field."""

    field: str
    op: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every child holds (the meaning of a plain list)."""

    children: tuple[Condition, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"all": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one child holds."""

    children: tuple[Condition, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"any": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not hold."""

    child: Condition

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"not": self.child.to_dict()}


Condition = Leaf | AllOf | AnyOf | Not
Check = Callable[[EvalContext], bool]

# Cheap tests first: an AND stops at the first false child, and a status or number
# check costs far less than a keyword scan or a regex.
_COST = {FieldKind.BOOL: 0, FieldKind.NUMBER: 0, FieldKind.TAGS: 1, FieldKind.TIME: 1,
         FieldKind.TEXT: 2}


def parse_conditions(raw: object, path: str, env: CompileEnv, trigger: str) -> AllOf:
    """Parse a rule's `conditions` (a list = AND) into a tree, validating every leaf."""
    if raw is None:
        return AllOf(())
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise RuleError(path, "must be a list of conditions")
    return AllOf(tuple(_parse(item, f"{path}[{i}]", env, trigger) for i, item in enumerate(raw)))


def _parse(raw: object, path: str, env: CompileEnv, trigger: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise RuleError(path, "must be a table/object: {field, op, value} or any/all/not")
    groups = [k for k in ("any", "all", "not") if k in raw]
    if groups:
        if len(raw) != 1:
            extra = sorted(set(raw) - {groups[0]})
            raise RuleError(f"{path}.{extra[0]}", "cannot sit beside %(group)s", group=repr(groups[0]))
        key = groups[0]
        body = raw[key]
        if key == "not":
            return Not(_parse(body, f"{path}.not", env, trigger))
        if not isinstance(body, list | tuple) or not body:
            raise RuleError(f"{path}.{key}", "must be a non-empty list of conditions")
        children = tuple(_parse(c, f"{path}.{key}[{i}]", env, trigger) for i, c in enumerate(body))
        return AnyOf(children) if key == "any" else AllOf(children)
    unknown = sorted(set(raw) - {"field", "op", "value"})
    if unknown:
        raise RuleError(f"{path}.{unknown[0]}", "is not a condition key (field, op, value)")
    field_name = raw.get("field")
    if not isinstance(field_name, str) or field_name not in FIELDS:
        raise RuleError(f"{path}.field", "unknown field %(value)s; known: %(known)s", value=repr(field_name),
                        known=", ".join(FIELDS))
    spec = FIELDS[field_name]
    if trigger not in spec.triggers:
        raise RuleError(f"{path}.field", "%(field)s has no value for trigger %(trigger)s",
                        field=field_name, trigger=trigger)
    op_name = raw.get("op")
    if not isinstance(op_name, str) or op_name not in OPERATORS:
        raise RuleError(f"{path}.op", "unknown operator %(value)s; known: %(known)s", value=repr(op_name),
                        known=", ".join(OPERATORS))
    op = OPERATORS[op_name]
    if spec.kind not in op.kinds:
        fitting = [o.name for o in OPERATORS.values() if spec.kind in o.kinds]
        raise RuleError(
            f"{path}.op", "%(op)s does not apply to %(field)s; use one of: %(known)s", op=op_name,
            field=field_name, known=", ".join(fitting)
        )
    if "value" not in raw:
        raise RuleError(f"{path}.value", "is required")
    value = raw["value"]
    op.build(_in_form(value, spec, op_name), spec, CompileEnv(RegexBank(), env.statuses), f"{path}.value")
    return Leaf(field_name, op_name, tuple(value) if isinstance(value, list) else value)


def _in_form(value: Any, spec: FieldSpec, op: str) -> Any:
    """The rule's value in the field's canonical form (see FieldSpec.value_form)."""
    form = spec.value_form
    if form is None or op == "matches":  # a pattern is matched against the canonical form as is
        return value
    if isinstance(value, str):
        return ",".join(form(part) for part in value.split(",")) if "," in value else form(value)
    if isinstance(value, list | tuple):
        return [form(v) if isinstance(v, str) else v for v in value]
    return value


def compile_condition(cond: Condition, env: CompileEnv) -> Check:
    """Turn a validated tree into a single closure (cheap children first in AND)."""
    if isinstance(cond, Leaf):
        return _compile_leaf(cond, env)
    if isinstance(cond, Not):
        inner = compile_condition(cond.child, env)
        return lambda ctx: not inner(ctx)
    children = [compile_condition(c, env) for c in _by_cost(cond.children)]
    if not children:
        return lambda ctx: True
    combined = children[-1]
    for check in reversed(children[:-1]):
        combined = _either(check, combined) if isinstance(cond, AnyOf) else _both(check, combined)
    return combined


def _both(first: Check, rest: Check) -> Check:
    return lambda ctx: first(ctx) and rest(ctx)


def _either(first: Check, rest: Check) -> Check:
    return lambda ctx: first(ctx) or rest(ctx)


def _compile_leaf(cond: Leaf, env: CompileEnv) -> Check:
    spec = FIELDS[cond.field]
    op = OPERATORS[cond.op]
    predicate = op.build(_in_form(cond.value, spec, cond.op), spec, env, cond.field)
    getter = spec.get
    missing = op.true_when_missing
    name = spec.name
    if spec.kind is FieldKind.TEXT and cond.op != "matches":
        # The common case, inlined: normalised once per event and field, then compared.
        def text_leaf(ctx: EvalContext) -> bool:
            value = getter(ctx)
            if value is None:
                return missing
            return predicate(ctx.normalised(name, value) if isinstance(value, str) else
                             normalise(str(value)), ctx)

        return text_leaf
    if spec.kind in (FieldKind.NUMBER, FieldKind.BOOL, FieldKind.TIME):
        def plain_leaf(ctx: EvalContext) -> bool:
            value = getter(ctx)
            if value is None:
                return missing
            return predicate(value, ctx)

        return plain_leaf
    op_name = cond.op

    def leaf(ctx: EvalContext) -> bool:
        value: FieldValue = getter(ctx)
        if value is None:
            return missing
        return predicate(prepare(value, spec, op_name, ctx), ctx)

    return leaf


def _by_cost(children: Sequence[Condition]) -> list[Condition]:
    return sorted(children, key=_cost)


_LONG_TEXT = frozenset({"message.text", "lead.notes"})


def _cost(cond: Condition) -> int:
    if isinstance(cond, Leaf):
        base = _COST[FIELDS[cond.field].kind]
        if base == _COST[FieldKind.TEXT] and cond.field not in _LONG_TEXT:
            base -= 1  # a status or a name compares in no time; message text takes a scan
        return base + (3 if cond.op == "matches" else 0)
    if isinstance(cond, Not):
        return _cost(cond.child)
    return max((_cost(c) for c in cond.children), default=0) + 1


# ---------------------------------------------------------------- explanation


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """What one condition saw: for leaves the value and result; for groups, the children."""

    path: str
    kind: str  # "leaf", "all", "any", "not"
    passed: bool
    field: str | None = None
    label: str | None = None
    op: str | None = None
    expected: Any = None
    seen: Any = None
    children: tuple[ConditionTrace, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "passed": self.passed}
        if self.kind == "leaf":
            out.update(field=self.field, label=self.label, op=self.op,
                       expected=list(self.expected) if isinstance(self.expected, tuple)
                       else self.expected, seen=self.seen)
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        if self.error:
            out["error"] = self.error
        return out


def _shown(value: FieldValue) -> Any:
    if isinstance(value, str) and len(value) > 160:
        return value[:157] + "..."
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[union-attr]
    return value


def explain_condition(cond: Condition, ctx: EvalContext, env: CompileEnv, path: str) -> ConditionTrace:
    """Evaluate a tree in order (no short-circuit) and record every leaf's value and result."""
    if isinstance(cond, Leaf):
        spec = FIELDS[cond.field]
        try:
            value = spec.get(ctx)
            if cond.op == "matches" and value is not None:
                # The rule set's RE2::Set is frozen; explain searches the pattern alone.
                passed = compile_user_regex(cond.value, path).search(str(value)) is not None
            else:
                passed = compile_condition(cond, env)(ctx)
            return ConditionTrace(path, "leaf", passed, cond.field, spec.label, cond.op,
                                  cond.value, _shown(value))
        except Exception as exc:  # a broken condition is false and says why
            return ConditionTrace(path, "leaf", False, cond.field, spec.label, cond.op,
                                  cond.value, None, error=f"{type(exc).__name__}: {exc}")
    if isinstance(cond, Not):
        inner = explain_condition(cond.child, ctx, env, f"{path}.not")
        return ConditionTrace(path, "not", not inner.passed, children=(inner,))
    key = "any" if isinstance(cond, AnyOf) else "all"
    kids = tuple(
        explain_condition(c, ctx, env, f"{path}[{i}]" if path.endswith("conditions") else
                          f"{path}.{key}[{i}]")
        for i, c in enumerate(cond.children)
    )
    passed = any(k.passed for k in kids) if key == "any" else all(k.passed for k in kids)
    return ConditionTrace(path, key, passed, children=kids)
