"""Actions that reach outside: webhooks, replies, ad conversions, event check-ins.

They only queue requests; delivery is the shell's job (bridge/outbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from engine.actions.base import ActionBase, ActionRun, Applied, OutboxRequest, _text_param, action
from engine.actions.lead import NUMERIC_TARGETS
from engine.attendance import scan
from engine.errors import RuleError
from engine.lead_draft import LeadDraft
from engine.operators import CompileEnv
from engine.render import render, template_names
from engine.text import is_web_url

MAX_KEPT_RESULTS = 64  # results Send Webhook keeps, one per rule it belongs to (usually one)
WEBHOOK_EVENTS = ("rule.fired", "lead.status_changed", "lead.value_updated", "lead.created")


@action("send_webhook", "Send Webhook")
class SendWebhook(ActionBase):
    """Queue a signed webhook with the lead, the message and the rule."""

    notes = ("webhook %(event)s queued",)

    url: str | None = None  # exactly one of url and endpoint is set
    endpoint: str | None = None
    secret: str | None = field(default=None, repr=False)  # never in reprs or logs
    event: str = "rule.fired"
    # What `apply` returns, built once per rule (id, name) that has this action: a heavy rule
    # set queues a webhook a message. The request and its fields are never changed after.
    _applied: dict[tuple[int, str], Applied] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> SendWebhook:
        """Exactly one of url/endpoint; urls are http(s) only."""
        url = _text_param(raw, "url", path, required=False)
        endpoint = _text_param(raw, "endpoint", path, required=False)
        if (url is None) == (endpoint is None):
            raise RuleError(path, "give exactly one of `url` or `endpoint`")
        if url is not None and not is_web_url(url):
            raise RuleError(f"{path}.url", "%(value)s is not an http(s) URL", value=repr(url))
        if endpoint is not None and env.endpoints is not None and endpoint not in env.endpoints:
            known = ", ".join(sorted(env.endpoints)) or "none configured"
            raise RuleError(f"{path}.endpoint", "no webhook endpoint named %(value)s in config.toml (%(known)s)",
                            value=repr(endpoint), known=known)
        secret = _text_param(raw, "secret", path, required=False)
        event = _text_param(raw, "event", path, required=False) or "rule.fired"
        return cls(url, endpoint, secret, event)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Queue the webhook; the body is built from the lead as it stands after all actions."""
        rule = (run.rule_id, run.rule_name)
        applied = self._applied.get(rule)
        if applied is None:
            payload: dict[str, Any] = {"url": self.url, "endpoint": self.endpoint, "event": self.event}
            if self.secret:
                payload["secret"] = self.secret
            request = OutboxRequest("webhook", run.rule_id, run.rule_name, payload)
            applied = Applied(f"webhook {self.event} queued", (request,))
            if len(self._applied) < MAX_KEPT_RESULTS:  # one action object in many rules: bounded
                self._applied[rule] = applied
        return applied


@action("send_reply", "Send Reply")
class SendReply(ActionBase):
    """Queue a WhatsApp reply from the number that received the message."""

    notes = ("no message to reply to: nothing queued", "group chat and allow_group is false: nothing queued",
             "reply queued")

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


@action("conversion_event", "Sync CTWA Conversion")
class ConversionEvent(ActionBase):
    """Queue a click-to-WhatsApp conversion for the ads endpoint ([conversions] in config.toml)."""

    notes = ("the lead has no click-to-WhatsApp ad click id: nothing queued", "conversion %(event)s queued")

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
            raise RuleError(f"{path}.value_from", "%(value)s is not one of: %(known)s", value=repr(value_from),
                            known=", ".join(NUMERIC_TARGETS))
        return cls(event_name, value_from)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Queue it (the body is built from the lead as it stands after all actions, once per lead)."""
        if not lead.ctwa_clid:
            return Applied("the lead has no click-to-WhatsApp ad click id: nothing queued")
        payload = {"event_name": self.event_name, "value_from": self.value_from}
        request = OutboxRequest("conversion", run.rule_id, run.rule_name, payload)
        return Applied(f"conversion {self.event_name} queued", (request,))


@action("check_in", "Event Check-in")
class CheckIn(ActionBase):
    """Attendance / voucher check-in: find the code in the message; the store decides and records it.

    The decision needs facts only the store has at commit time (is the code used?), so this
    queues a `check_in` request that store.checkins resolves inside the message's transaction.
    """

    notes = ("no message: nothing to check in", "sent by the team's own phone: not a check-in",
             "group chat: check-ins only count in a direct chat", "no code in the message",
             "check-in of %(count)s code(s) queued")

    event: str  # an event slug or id; "*" for any event of the number that received the message
    reply: bool = True

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> CheckIn:
        """`event` is required; `reply = false` records without answering."""
        event = _text_param(raw, "event", path)
        assert event is not None
        if len(event) > 60 or (event != "*" and not event.replace("-", "").isalnum()):
            raise RuleError(f"{path}.event", "%(value)s is not an event slug or id (or \"*\" for any)",
                            value=repr(event))
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
