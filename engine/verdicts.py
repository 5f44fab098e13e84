"""A dry run's answer for one rule (`explain_message`): whether it fired and why, as a verdict
key with its arguments (pages translate VERDICTS; bridge.i18n reads the registry for the catalogs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.conditions import ConditionTrace
from engine.errors import filled


@dataclass(frozen=True, slots=True)
class RuleExplanation:
    """The dry run's answer for one rule on one pass: `reason` is VERDICTS[verdict] filled in
    with `verdict_args` (English; pages translate the template, bridge.i18n)."""

    rule_id: int
    rule_name: str
    trigger: str
    fired: bool
    verdict: str
    verdict_args: tuple[tuple[str, str], ...] = ()
    conditions: ConditionTrace | None = None
    notes: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why, in English."""
        return filled(VERDICTS[self.verdict], dict(self.verdict_args))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form."""
        return {
            "rule_id": self.rule_id,
            "rule": self.rule_name,
            "trigger": self.trigger,
            "fired": self.fired,
            "reason": self.reason,
            "verdict": self.verdict,
            "verdict_args": dict(self.verdict_args),
            "conditions": self.conditions.to_dict() if self.conditions else None,
            "notes": list(self.notes),
        }


# Why a rule fires or not in a dry run, by verdict: templates with %(name)s arguments, in
# English; pages show them translated (bridge.i18n reads this registry for the catalogs).
VERDICTS: dict[str, str] = {
    "passed": "conditions passed",
    "failed": "a condition failed",
    "chained": "already fired in this status chain",
    "stopped": 'not evaluated: "%(stopped_by)s" fired with stop_processing',
    "error": "error: %(error)s",
    "disabled": "disabled",
    "other_sender": "sender is %(rule_sender)s, this message is from the %(sender)s",
    "lead_exists": "the lead already exists (lead.created runs on its first message)",
    "no_status_change": "no status change happened",
    "not_reached": "not reached",
}
