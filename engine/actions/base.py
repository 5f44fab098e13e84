"""The action framework: outbox requests, the registry, parsing helpers shared by actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar, dataclass_transform

from engine.errors import RuleError
from engine.lead_draft import LeadDraft
from engine.model import Message
from engine.operators import CompileEnv
from engine.text import normalise


class OutboxRequest(NamedTuple):
    """Something to deliver after the transaction commits (webhook, reply, ...).

    A named tuple rather than a frozen dataclass: a heavy rule set queues a webhook a message,
    and a frozen dataclass took three times as long to build (650 against 200 ns).
    """

    kind: str
    rule_id: int
    rule_name: str
    payload: Mapping[str, Any]


@dataclass(slots=True)
class ActionRun:
    """What an action may read besides the lead: the message, the rule, the time."""

    message: Message | None
    rule_id: int
    rule_name: str
    now: datetime


@dataclass(slots=True)
class Applied:
    """An action's result besides its changes to the draft: outbox requests, a trace note.

    Never changed once built: an action may return the same one every time (Add Tag does).
    """

    note: str | None = None
    requests: tuple[OutboxRequest, ...] = ()


class Action(Protocol):
    """The shape every registered action has."""

    type: ClassVar[str]
    label: ClassVar[str]

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied: ...

    def to_dict(self) -> dict[str, Any]: ...


class ActionClass(Protocol):
    """The class side: how an action is parsed from a rule file."""

    type: ClassVar[str]
    label: ClassVar[str]

    def parse(self, raw: Mapping[str, Any], path: str, env: CompileEnv) -> Action: ...


ACTIONS: dict[str, Any] = {}


def register(cls: Any) -> Any:
    """Class decorator: add an action type to the registry (names are unique)."""
    if cls.type in ACTIONS:
        raise RuntimeError(f"action {cls.type!r} registered twice")
    ACTIONS[cls.type] = cls
    return cls


class ActionBase:
    """What every registered action shares: its registry data (set by `action`) and its rule-file form."""

    __slots__ = ()
    type: ClassVar[str]
    label: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]  # its rule-file parameters: the dataclass fields, in order
    defaults: ClassVar[Mapping[str, object]]  # the parameters that may be left out, and their values then
    # The notes its apply writes, as %(name)s templates of the English text: pages read a stored
    # note back through them (engine.notes) to say it in their language.
    notes: ClassVar[tuple[str, ...]] = ()
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # set by `action` (makes it a dataclass for mypy)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form: the type and every parameter not at its default."""
        out: dict[str, Any] = {"type": self.type}
        for key in self.keys:
            value = getattr(self, key)
            if key not in self.defaults or value != self.defaults[key]:
                out[key] = value
        return out


A = TypeVar("A", bound=ActionBase)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def action(name: str, label: str) -> Callable[[type[A]], type[A]]:
    """Class decorator: a frozen dataclass whose fields are the parameters, registered as `name` with `label`."""

    def entry(cls: type[A]) -> type[A]:
        made = dataclass(frozen=True, slots=True)(cls)
        made.type, made.label = name, label
        # Its parameters; a field it computes itself (init=False) is none.
        parameters = [f for f in fields(made) if f.init]
        made.keys = tuple(f.name for f in parameters)
        made.defaults = {f.name: f.default for f in parameters if f.default is not MISSING}
        register(made)
        return made

    return entry


def parse_action(raw: object, path: str, env: CompileEnv) -> Action:
    """Parse one `{type = ..., ...}` action table."""
    if not isinstance(raw, Mapping):
        raise RuleError(path, "must be a table/object with a `type`")
    kind = raw.get("type")
    if kind == "identity_upgrade":  # DESIGN lists it as an action; here it is built into processing
        raise RuleError(f"{path}.type", "identity_upgrade is automatic: every customer message carrying a "
                        "visitor code [K-XXXX] upgrades that visitor before rules run; remove this action")
    if not isinstance(kind, str) or kind not in ACTIONS:
        raise RuleError(f"{path}.type", "unknown action %(value)s; known: %(known)s", value=repr(kind),
                        known=", ".join(ACTIONS))
    cls = ACTIONS[kind]
    allowed = set(cls.keys) | {"type"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RuleError(
            f"{path}.{unknown[0]}", "is not a parameter of %(action)s (it takes: %(known)s)", action=kind,
            known=", ".join(cls.keys) or "none"
        )
    action: Action = cls.parse(raw, path, env)
    return action


def _text_param(raw: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise RuleError(f"{path}.{key}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{path}.{key}", "must be a non-empty text")
    return value.strip()


def _status_param(raw: Mapping[str, Any], path: str, env: CompileEnv) -> str:
    status = _text_param(raw, "status", path)
    assert status is not None
    by_folded = {normalise(s): s for s in env.statuses}
    if normalise(status) not in by_folded:
        raise RuleError(f"{path}.status", "%(value)s is not one of: %(known)s", value=repr(status),
                        known=", ".join(env.statuses))
    return by_folded[normalise(status)]
