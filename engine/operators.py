"""Condition operators: one registry entry per operator (name, label, field kinds, builder).

A builder validates the rule's value once, at load time, and returns a predicate over
the field's (present) value, prepared by the condition leaf: text normalised (case
folded, whitespace collapsed), tags as a tuple of normalised texts, numbers, booleans
and local times as they are. Only `matches` sees the raw text (RE2 folds case itself).
Missing values never reach a predicate: the condition is false, except for the
negative operators, which are true (DESIGN.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.amounts import parse_amount
from engine.context import EvalContext
from engine.errors import RuleError
from engine.fields import FieldKind, FieldSpec, FieldValue
from engine.regexes import RegexBank
from engine.text import compile_user_regex, keyword_list, normalise

Predicate = Callable[[FieldValue, EvalContext], bool]


@dataclass(frozen=True, slots=True)
class CompileEnv:
    """What building a predicate may consult: the rule set's regex bank, the statuses."""

    bank: RegexBank
    statuses: tuple[str, ...]
    endpoints: frozenset[str] | None = None  # named webhook endpoints; None: not checked


Builder = Callable[[object, FieldSpec, CompileEnv, str], Predicate]


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """One operator: its name in rules, its UI label, the field kinds it fits, its builder."""

    name: str
    label: str
    kinds: frozenset[FieldKind]
    build: Builder
    true_when_missing: bool = False
    value_hint: str = ""


OPERATORS: dict[str, OperatorSpec] = {}


def _operator(spec: OperatorSpec) -> None:
    if spec.name in OPERATORS:
        raise RuntimeError(f"operator {spec.name!r} registered twice")
    OPERATORS[spec.name] = spec


# ---------------------------------------------------------------- value parsing


def _number(value: object, path: str) -> float:
    if isinstance(value, bool):
        raise RuleError(path, "must be a number, not true/false")
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        negative = text.startswith("-")
        parsed = parse_amount(text.lstrip("-"))  # "1.500.000", "1,000", "2,5" as people write them
        number = -parsed if negative and parsed is not None else parsed
    if number is None or not math.isfinite(number):
        raise RuleError(path, "must be a number, got %(value)s", value=repr(value))
    return number


def _boolean(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().casefold() in {"true", "yes", "1"}
    raise RuleError(path, "must be true or false, got %(value)s", value=repr(value))


def _check_vocabulary(words: tuple[str, ...], spec: FieldSpec, env: CompileEnv, path: str) -> None:
    from engine.fields import STATUS_FIELDS

    allowed: tuple[str, ...] = spec.choices
    if spec.name in STATUS_FIELDS:
        allowed = env.statuses
    if not allowed:
        return
    folded = {normalise(a) for a in allowed}
    for word in words:
        if word not in folded:
            raise RuleError(path, "%(value)s is not one of: %(known)s", value=repr(word), known=", ".join(allowed))


def prepare(value: FieldValue, spec: FieldSpec, op: str, ctx: EvalContext) -> FieldValue:
    """Turn a field's raw value into what predicates compare (see the module docstring)."""
    kind = spec.kind
    if kind is FieldKind.TEXT:
        if op == "matches":
            return value if isinstance(value, str) else str(value)
        return ctx.normalised(spec.name, value) if isinstance(value, str) else normalise(str(value))
    if kind is FieldKind.TAGS:
        if isinstance(value, tuple):
            return tuple(normalise(t) for t in value)
        return (normalise(str(value)),)
    return value


# ---------------------------------------------------------------- builders


def _build_equal(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    if spec.kind is FieldKind.NUMBER:
        target = _number(value, path)
        return lambda v, ctx: v == target
    if spec.kind is FieldKind.BOOL:
        flag = _boolean(value, path)
        return lambda v, ctx: bool(v) is flag
    if isinstance(value, list | tuple | dict) or value is None:
        raise RuleError(path, "must be a single text (use in_list for several)")
    word = normalise(str(value))
    _check_vocabulary((word,), spec, env, path)
    if spec.kind is FieldKind.TAGS:
        return lambda v, ctx: word in v  # type: ignore[operator]
    return lambda v, ctx: v == word


def _build_contains(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    words = keyword_list(value, path)
    if spec.kind is FieldKind.TAGS:
        return lambda v, ctx: any(w in tag for tag in v for w in words)  # type: ignore[union-attr]
    if len(words) == 1:
        (word,) = words
        return lambda v, ctx: word in v  # type: ignore[operator]

    def any_word(v: FieldValue, ctx: EvalContext) -> bool:
        for word in words:
            if word in v:  # type: ignore[operator]
                return True
        return False

    return any_word


def _build_in_list(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    if spec.kind is FieldKind.NUMBER:
        raw = value.split(",") if isinstance(value, str) else value
        if not isinstance(raw, list | tuple) or not raw:
            raise RuleError(path, "must be a list of numbers or a comma-separated text")
        numbers = frozenset(_number(item, f"{path}[{i}]") for i, item in enumerate(raw))
        return lambda v, ctx: v in numbers
    words = keyword_list(value, path)
    _check_vocabulary(words, spec, env, path)
    allowed = frozenset(words)
    if spec.kind is FieldKind.TAGS:
        return lambda v, ctx: any(tag in allowed for tag in v)  # type: ignore[union-attr]
    return lambda v, ctx: v in allowed


def _build_starts_with(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    words = keyword_list(value, path)
    return lambda v, ctx: v.startswith(words)  # type: ignore[union-attr]


def _build_ends_with(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    words = keyword_list(value, path)
    return lambda v, ctx: v.endswith(words)  # type: ignore[union-attr]


def _compare(test: Callable[[float, float], bool]) -> Builder:
    def build(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
        target = _number(value, path)
        return lambda v, ctx: test(v, target)  # type: ignore[arg-type]

    return build


def _build_matches(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    compile_user_regex(value, path)  # refuse what RE2 refuses, with its reason
    assert isinstance(value, str)
    index = env.bank.add(spec.name, value)
    name = spec.name
    return lambda v, ctx: index in ctx.regex_hits(name, v)  # type: ignore[arg-type]


def parse_time_window(value: object, path: str) -> tuple[int, int]:
    """Parse `"09:00-17:00"` into start and end minutes of the day (end excluded)."""
    if not isinstance(value, str) or value.count("-") != 1:
        raise RuleError(path, 'must be a time window like "09:00-17:00", got %(value)s', value=repr(value))
    bounds: list[int] = []
    for part in value.split("-"):
        pieces = part.strip().split(":")
        if len(pieces) != 2 or not all(p.isdigit() for p in pieces):
            raise RuleError(path, "%(value)s is not a time like 09:00", value=repr(part.strip()))
        hour, minute = int(pieces[0]), int(pieces[1])
        if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute):
            raise RuleError(path, "%(value)s is not a time of day", value=repr(part.strip()))
        bounds.append(hour * 60 + minute)
    start, end = bounds
    if start == end:
        raise RuleError(path, "start and end are the same: the window would be empty")
    return start, end


def time_window(value: object, path: str) -> tuple[int, int]:
    """The minutes of the day a `between` window holds: start <= minute < end, or when end
    comes first, minute >= start or minute < end (it wraps past midnight)."""
    start, end = parse_time_window(value, path)
    return start, end % 1440 if end == 1440 and start > 0 else end


def _build_between(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
    start, end = time_window(value, path)

    def inside(v: FieldValue, ctx: EvalContext) -> bool:
        if not isinstance(v, datetime):
            return False
        minute = v.hour * 60 + v.minute
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end  # wraps past midnight

    return inside


def _negate(build: Builder) -> Builder:
    def negated(value: object, spec: FieldSpec, env: CompileEnv, path: str) -> Predicate:
        positive = build(value, spec, env, path)
        return lambda v, ctx: not positive(v, ctx)

    return negated


_T, _N, _B, _TM, _TG = FieldKind.TEXT, FieldKind.NUMBER, FieldKind.BOOL, FieldKind.TIME, FieldKind.TAGS
for _spec in (
    OperatorSpec("equal", "Equal", frozenset({_T, _N, _B, _TG}), _build_equal),
    OperatorSpec("not_equal", "Not Equal", frozenset({_T, _N, _B, _TG}), _negate(_build_equal),
                 true_when_missing=True),
    OperatorSpec("contains", "Contains", frozenset({_T, _TG}), _build_contains,
                 value_hint="keywords, comma-separated: any of them"),
    OperatorSpec("not_contains", "Not Contains", frozenset({_T, _TG}), _negate(_build_contains),
                 true_when_missing=True),
    OperatorSpec("in_list", "In List", frozenset({_T, _N, _TG}), _build_in_list,
                 value_hint="a list, or comma-separated"),
    OperatorSpec("not_in_list", "Not In List", frozenset({_T, _N, _TG}),
                 _negate(_build_in_list), true_when_missing=True),
    OperatorSpec("gt", "Greater Than", frozenset({_N}), _compare(lambda a, b: a > b)),
    OperatorSpec("gte", "Greater or Equal", frozenset({_N}), _compare(lambda a, b: a >= b)),
    OperatorSpec("lt", "Less Than", frozenset({_N}), _compare(lambda a, b: a < b)),
    OperatorSpec("lte", "Less or Equal", frozenset({_N}), _compare(lambda a, b: a <= b)),
    OperatorSpec("starts_with", "Starts With", frozenset({_T}), _build_starts_with),
    OperatorSpec("ends_with", "Ends With", frozenset({_T}), _build_ends_with),
    OperatorSpec("matches", "Matches Regex", frozenset({_T}), _build_matches,
                 value_hint="RE2 regular expression, case-insensitive, found anywhere"),
    OperatorSpec("between", "Between", frozenset({_TM}), _build_between,
                 value_hint='"09:00-17:00", may wrap past midnight'),
):
    _operator(_spec)
