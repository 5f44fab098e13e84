"""Actions: one frozen dataclass per action type, registered by its `type` string.

`parse` validates a rule's action once (path-qualified errors); `apply` is pure: it
takes the lead as it stands and returns the new lead, any outbox requests, and a note
for the trace. Delivery of outbox requests is the shell's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from engine.amounts import parse_amount
from engine.attendance import scan
from engine.errors import RuleError
from engine.model import LEAD_NUMBER_FIELDS, LEAD_TEXT_FIELDS, LeadDraft, Message
from engine.operators import CompileEnv
from engine.render import render, template_names
from engine.text import cached_regex, compile_user_regex, normalise

# Update Lead Value presets (DESIGN.md; the seed page's dropdown).
REGEX_PRESETS: dict[str, str] = {
    "rupiah_flexible": r"(?:Rp\s*)?([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)",
    "rupiah_dots": r"Rp\s*([0-9]{1,3}(?:\.[0-9]{3})+)",
    "rupiah_plain": r"Rp\s*([0-9]+)",
    "total": r"Total\s*:?\s*([0-9.]+)",
    "numbers": r"([0-9]+)",
}
PRESET_LABELS: dict[str, str] = {
    "rupiah_flexible": "Flexible Rupiah",
    "rupiah_dots": "Rp with dots",
    "rupiah_plain": "Rp without dots",
    "total": "Total:1500000",
    "numbers": "Numbers Only",
    "custom": "Custom",
}


@dataclass(frozen=True, slots=True)
class OutboxRequest:
    """Something to deliver after the transaction commits (webhook, reply, ...)."""

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
    """An action's result besides its changes to the draft: outbox requests, a trace note."""

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


def parse_action(raw: object, path: str, env: CompileEnv) -> Action:
    """Parse one `{type = ..., ...}` action table."""
    if not isinstance(raw, Mapping):
        raise RuleError(path, "must be a table/object with a `type`")
    kind = raw.get("type")
    if kind == "identity_upgrade":  # DESIGN lists it as an action; here it is built into processing
        raise RuleError(f"{path}.type", "identity_upgrade is automatic: every customer message carrying a "
                        "visitor code [K-XXXX] upgrades that visitor before rules run; remove this action")
    if not isinstance(kind, str) or kind not in ACTIONS:
        raise RuleError(f"{path}.type", f"unknown action {kind!r}; known: {', '.join(ACTIONS)}")
    cls = ACTIONS[kind]
    allowed = set(cls.keys) | {"type"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RuleError(
            f"{path}.{unknown[0]}", f"is not a parameter of {kind} (it takes: {', '.join(cls.keys) or 'none'})"
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
        raise RuleError(f"{path}.status", f"{status!r} is not one of: {', '.join(env.statuses)}")
    return by_folded[normalise(status)]


@register
@dataclass(frozen=True, slots=True)
class SetStatus:
    """Change Status."""

    type: ClassVar[str] = "set_status"
    label: ClassVar[str] = "Change Status"
    keys: ClassVar[tuple[str, ...]] = ("status",)
    status: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> SetStatus:
        """Validate the status against the workspace's list."""
        return cls(_status_param(raw, path, env))

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Move the lead to the status."""
        before = lead.status
        if not lead.set("status", self.status):
            return Applied(f"already {self.status}")
        return Applied(f"{before} -> {self.status}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"type": self.type, "status": self.status}


def _plain(number: float) -> str:
    """1500000.0 → "1500000", 12.5 → "12.5" (notes are read by people)."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


NUMERIC_TARGETS = tuple(f"lead.{name}" for name in LEAD_NUMBER_FIELDS)


@register
@dataclass(frozen=True, slots=True)
class UpdateValue:
    """Update Lead Value: capture a number from the message with a preset or custom regex."""

    type: ClassVar[str] = "update_value"
    label: ClassVar[str] = "Update Lead Value"
    keys: ClassVar[tuple[str, ...]] = ("target", "preset", "pattern")
    target: str
    preset: str
    pattern: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> UpdateValue:
        """Validate target, preset and pattern; the pattern must have a capture group."""
        target = _text_param(raw, "target", path, required=False) or "lead.value_actual"
        if target not in NUMERIC_TARGETS:
            raise RuleError(f"{path}.target", f"{target!r} is not one of: {', '.join(NUMERIC_TARGETS)}")
        preset = _text_param(raw, "preset", path, required=False)
        pattern = _text_param(raw, "pattern", path, required=False)
        if preset is None:
            preset = "custom" if pattern is not None else "rupiah_flexible"
        if preset == "custom":
            if pattern is None:
                raise RuleError(f"{path}.pattern", "is required with the custom preset")
        elif preset in REGEX_PRESETS:
            if pattern is not None and pattern != REGEX_PRESETS[preset]:
                raise RuleError(f"{path}.pattern", f"give either preset {preset!r} or a pattern, not both")
            pattern = REGEX_PRESETS[preset]
        else:
            known = ", ".join([*REGEX_PRESETS, "custom"])
            raise RuleError(f"{path}.preset", f"unknown preset {preset!r}; known: {known}")
        regex = compile_user_regex(pattern, f"{path}.pattern")
        if regex.groups < 1:
            raise RuleError(f"{path}.pattern", "needs a capture group ( ... ) around the amount")
        return cls(target, preset, pattern)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Set the target to the first capture group's amount; no match changes nothing."""
        text = run.message.text if run.message is not None else ""
        found = cached_regex(self.pattern).search(text)
        if found is None:
            return Applied("no match in the message: value unchanged")
        captured = found.group(1)
        if captured is None:
            return Applied("the capture group matched nothing: value unchanged")
        amount = parse_amount(captured)
        if amount is None:
            return Applied(f"captured {captured!r} is not a number: value unchanged")
        attr = self.target.removeprefix("lead.")
        lead.set(attr, amount)
        return Applied(f"{attr} = {_plain(amount)} from {captured!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form (preset, or the pattern for custom)."""
        out: dict[str, Any] = {"type": self.type, "target": self.target}
        if self.preset == "custom":
            out["pattern"] = self.pattern
        else:
            out["preset"] = self.preset
        return out


SETTABLE_FIELDS = tuple(f"lead.{n}" for n in (*LEAD_TEXT_FIELDS, *LEAD_NUMBER_FIELDS))


@register
@dataclass(frozen=True, slots=True)
class SetField:
    """Set a lead field (priority, source, notes, city, ...)."""

    type: ClassVar[str] = "set_field"
    label: ClassVar[str] = "Set Lead Field"
    keys: ClassVar[tuple[str, ...]] = ("field", "value")
    field: str
    value: str | float | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> SetField:
        """Validate the field name and the value's kind."""
        name = _text_param(raw, "field", path)
        assert name is not None
        if not name.startswith("lead."):
            name = f"lead.{name}"
        if name not in SETTABLE_FIELDS:
            raise RuleError(f"{path}.field", f"{name!r} cannot be set; settable: {', '.join(SETTABLE_FIELDS)}")
        if "value" not in raw:
            raise RuleError(f"{path}.value", "is required (null clears the field)")
        value = raw["value"]
        if value == "":
            value = None  # TOML has no null: an empty value clears the field
        if name.removeprefix("lead.") in LEAD_NUMBER_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise RuleError(f"{path}.value", f"must be a number for {name}")
            return cls(name, float(value) if value is not None else None)
        if value is not None and not isinstance(value, str | int | float):
            raise RuleError(f"{path}.value", "must be a text")
        return cls(name, str(value) if value is not None else None)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Set the field."""
        attr = self.field.removeprefix("lead.")
        if not lead.set(attr, self.value):
            return Applied(f"{attr} already {self.value!r}")
        return Applied(f"{attr} = {self.value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"type": self.type, "field": self.field, "value": self.value}


def _tag_param(raw: Mapping[str, Any], path: str) -> str:
    tag = _text_param(raw, "tag", path)
    assert tag is not None
    return " ".join(tag.split()).lower()


@register
@dataclass(frozen=True, slots=True)
class AddTag:
    """Add a tag to the lead."""

    type: ClassVar[str] = "add_tag"
    label: ClassVar[str] = "Add Tag"
    keys: ClassVar[tuple[str, ...]] = ("tag",)
    tag: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> AddTag:
        """Tags are stored lower-case with single spaces."""
        return cls(_tag_param(raw, path))

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Add the tag (a set: adding twice is once)."""
        if self.tag in lead.tags:
            return Applied(f"already tagged {self.tag}")
        lead.set("tags", lead.tags | {self.tag})
        return Applied(f"+{self.tag}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"type": self.type, "tag": self.tag}


@register
@dataclass(frozen=True, slots=True)
class RemoveTag:
    """Remove a tag from the lead."""

    type: ClassVar[str] = "remove_tag"
    label: ClassVar[str] = "Remove Tag"
    keys: ClassVar[tuple[str, ...]] = ("tag",)
    tag: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> RemoveTag:
        """Tags are stored lower-case with single spaces."""
        return cls(_tag_param(raw, path))

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Remove the tag if present."""
        if self.tag not in lead.tags:
            return Applied(f"no tag {self.tag} to remove")
        lead.set("tags", lead.tags - {self.tag})
        return Applied(f"-{self.tag}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"type": self.type, "tag": self.tag}


@register
@dataclass(frozen=True, slots=True)
class AdjustScore:
    """Add to (or subtract from) the lead score."""

    type: ClassVar[str] = "adjust_score"
    label: ClassVar[str] = "Adjust Score"
    keys: ClassVar[tuple[str, ...]] = ("by",)
    by: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> AdjustScore:
        """`by` is a whole number, negative to subtract."""
        by = raw.get("by")
        if isinstance(by, bool) or not isinstance(by, int):
            raise RuleError(f"{path}.by", "must be a whole number (negative to subtract)")
        return cls(by)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Adjust the score."""
        before = lead.score or 0
        lead.set("score", before + self.by)
        return Applied(f"score {_plain(before)} -> {_plain(before + self.by)}")

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        return {"type": self.type, "by": self.by}


WEBHOOK_EVENTS = ("rule.fired", "lead.status_changed", "lead.value_updated", "lead.created")


@register
@dataclass(frozen=True, slots=True)
class SendWebhook:
    """Queue a signed webhook with the lead, the message and the rule."""

    type: ClassVar[str] = "send_webhook"
    label: ClassVar[str] = "Send Webhook"
    keys: ClassVar[tuple[str, ...]] = ("url", "endpoint", "secret", "event")
    url: str | None
    endpoint: str | None
    secret: str | None = field(default=None, repr=False)  # never in reprs or logs
    event: str = "rule.fired"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> SendWebhook:
        """Exactly one of url/endpoint; urls are http(s) only."""
        url = _text_param(raw, "url", path, required=False)
        endpoint = _text_param(raw, "endpoint", path, required=False)
        if (url is None) == (endpoint is None):
            raise RuleError(path, "give exactly one of `url` or `endpoint`")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise RuleError(f"{path}.url", f"{url!r} is not an http(s) URL")
        if endpoint is not None and env.endpoints is not None and endpoint not in env.endpoints:
            known = ", ".join(sorted(env.endpoints)) or "none configured"
            raise RuleError(f"{path}.endpoint", f"no webhook endpoint named {endpoint!r} in config.toml ({known})")
        secret = _text_param(raw, "secret", path, required=False)
        event = _text_param(raw, "event", path, required=False) or "rule.fired"
        return cls(url, endpoint, secret, event)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Queue the webhook; the body is built from the lead as it stands after all actions."""
        payload: dict[str, Any] = {"url": self.url, "endpoint": self.endpoint, "event": self.event}
        if self.secret:
            payload["secret"] = self.secret
        request = OutboxRequest("webhook", run.rule_id, run.rule_name, payload)
        return Applied(f"webhook {self.event} queued", (request,))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        out: dict[str, Any] = {"type": self.type}
        if self.url:
            out["url"] = self.url
        if self.endpoint:
            out["endpoint"] = self.endpoint
        if self.secret:
            out["secret"] = self.secret
        if self.event != "rule.fired":
            out["event"] = self.event
        return out


@register
@dataclass(frozen=True, slots=True)
class SendReply:
    """Queue a WhatsApp reply from the number that received the message."""

    type: ClassVar[str] = "send_reply"
    label: ClassVar[str] = "Send Reply"
    keys: ClassVar[tuple[str, ...]] = ("text", "allow_group", "cooldown_hours")
    text: str
    allow_group: bool = False
    cooldown_hours: float | None = None  # at most one reply of this rule per lead per N hours

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> SendReply:
        """The text is a template; unknown placeholders are refused here, not at send time."""
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RuleError(f"{path}.text", "is required")
        if len(text) > 4096:
            raise RuleError(f"{path}.text", "is longer than 4096 characters")
        template_names(text, f"{path}.text")
        allow_group = raw.get("allow_group", False)
        if not isinstance(allow_group, bool):
            raise RuleError(f"{path}.allow_group", "must be true or false")
        cooldown = raw.get("cooldown_hours")
        if cooldown is not None and (isinstance(cooldown, bool) or not isinstance(cooldown, int | float)
                                     or not 0 < cooldown <= 24 * 365):
            raise RuleError(f"{path}.cooldown_hours", "must be a number of hours above 0 (at most a year)")
        return cls(text, allow_group, float(cooldown) if cooldown is not None else None)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Render the text now (it sees earlier actions' changes) and queue it."""
        message = run.message
        if message is None:
            return Applied("no message to reply to: nothing queued")
        if message.is_group and not self.allow_group:
            return Applied("group chat and allow_group is false: nothing queued")
        payload: dict[str, Any] = {
            "session": message.session,
            "to": message.chat,
            "text": render(self.text, lead, message),
            "in_reply_to": message.id,
        }
        if self.cooldown_hours is not None:
            payload["cooldown_hours"] = self.cooldown_hours  # enforced when queued (store.outbox)
        return Applied("reply queued", (OutboxRequest("reply", run.rule_id, run.rule_name, payload),))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        out: dict[str, Any] = {"type": self.type, "text": self.text}
        if self.allow_group:
            out["allow_group"] = True
        if self.cooldown_hours is not None:
            hours = self.cooldown_hours
            out["cooldown_hours"] = int(hours) if hours.is_integer() else hours
        return out


@register
@dataclass(frozen=True, slots=True)
class ConversionEvent:
    """Queue a click-to-WhatsApp conversion for the ads endpoint ([conversions] in config.toml)."""

    type: ClassVar[str] = "conversion_event"
    label: ClassVar[str] = "Sync CTWA Conversion"
    keys: ClassVar[tuple[str, ...]] = ("event_name", "value_from")
    event_name: str
    value_from: str = "lead.value_actual"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> ConversionEvent:
        """`event_name` is Meta's (Purchase, LeadSubmitted, ...); `value_from` a numeric lead field."""
        event_name = _text_param(raw, "event_name", path)
        assert event_name is not None
        value_from = _text_param(raw, "value_from", path, required=False) or "lead.value_actual"
        if not value_from.startswith("lead."):
            value_from = f"lead.{value_from}"
        if value_from not in NUMERIC_TARGETS:
            raise RuleError(f"{path}.value_from", f"{value_from!r} is not one of: {', '.join(NUMERIC_TARGETS)}")
        return cls(event_name, value_from)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Queue it (the body is built from the lead as it stands after all actions, once per lead)."""
        if not lead.ctwa_clid:
            return Applied("the lead has no click-to-WhatsApp ad click id: nothing queued")
        payload = {"event_name": self.event_name, "value_from": self.value_from}
        request = OutboxRequest("conversion", run.rule_id, run.rule_name, payload)
        return Applied(f"conversion {self.event_name} queued", (request,))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        out: dict[str, Any] = {"type": self.type, "event_name": self.event_name}
        if self.value_from != "lead.value_actual":
            out["value_from"] = self.value_from
        return out


@register
@dataclass(frozen=True, slots=True)
class CheckIn:
    """Attendance / voucher check-in: find the code in the message; the store decides and records it.

    The decision needs facts only the store has at commit time (is the code used?), so this
    queues a `check_in` request that store.checkins resolves inside the message's transaction.
    """

    type: ClassVar[str] = "check_in"
    label: ClassVar[str] = "Event Check-in"
    keys: ClassVar[tuple[str, ...]] = ("event", "reply")
    event: str  # an event slug or id; "*" for any event of the number that received the message
    reply: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> CheckIn:
        """`event` is required; `reply = false` records without answering."""
        event = _text_param(raw, "event", path)
        assert event is not None
        if len(event) > 60 or (event != "*" and not event.replace("-", "").isalnum()):
            raise RuleError(f"{path}.event", f"{event!r} is not an event slug or id (or \"*\" for any)")
        reply = raw.get("reply", True)
        if not isinstance(reply, bool):
            raise RuleError(f"{path}.reply", "must be true or false")
        return cls(event.lower(), reply)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Queue the codes found in a customer's direct message; groups and the team's own phone never count."""
        message = run.message
        if message is None:
            return Applied("no message: nothing to check in")
        if message.from_me:
            return Applied("sent by the team's own phone: not a check-in")
        if message.is_group:
            return Applied("group chat: check-ins only count in a direct chat")
        found = scan(message.text)
        if found.empty:
            return Applied("no code in the message")
        payload = {"event": self.event, "codes": list(found.codes), "near": list(found.near),
                   "overflow": found.overflow, "reply": self.reply}
        return Applied(f"check-in of {len(found.codes)} code(s) queued",
                       (OutboxRequest("check_in", run.rule_id, run.rule_name, payload),))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule-file form."""
        out: dict[str, Any] = {"type": self.type, "event": self.event}
        if not self.reply:
            out["reply"] = False
        return out
