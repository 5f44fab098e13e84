"""Actions that change the lead: status, value capture, fields, tags, score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from engine.actions.base import ActionBase, ActionRun, Applied, _status_param, _text_param, action
from engine.amounts import parse_amount
from engine.errors import RuleError
from engine.lead_draft import LeadDraft
from engine.limits import MAX_SCORE_STEP
from engine.model import LEAD_NUMBER_FIELDS, LEAD_TEXT_FIELDS
from engine.operators import CompileEnv
from engine.text import cached_regex, compile_user_regex

MAX_KEPT_SCORE_NOTES = 1024  # results Adjust Score keeps, one per whole score it started from

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


@action("set_status", "Change Status")
class SetStatus(ActionBase):
    """Change Status."""

    notes = ("already %(status)s", "%(before)s -> %(status)s")

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


def _plain(number: float) -> str:
    """1500000.0 → "1500000", 12.5 → "12.5" (notes are read by people)."""
    if type(number) is int:  # a score is usually whole: skip the float round trip
        return str(number)
    return str(int(number)) if float(number).is_integer() else repr(float(number))


NUMERIC_TARGETS = tuple(f"lead.{name}" for name in LEAD_NUMBER_FIELDS)


@action("update_value", "Update Lead Value")
class UpdateValue(ActionBase):
    """Update Lead Value: capture a number from the message with a preset or custom regex."""

    notes = ("no match in the message: value unchanged", "the capture group matched nothing: value unchanged",
             "captured %(captured)s is not a number: value unchanged", "%(field)s = %(amount)s from %(captured)s")

    target: str
    preset: str
    pattern: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> UpdateValue:
        """Validate target, preset and pattern; the pattern must have a capture group."""
        target = _text_param(raw, "target", path, required=False) or "lead.value_actual"
        if target not in NUMERIC_TARGETS:
            raise RuleError(f"{path}.target", "%(value)s is not one of: %(known)s", value=repr(target),
                            known=", ".join(NUMERIC_TARGETS))
        preset = _text_param(raw, "preset", path, required=False)
        pattern = _text_param(raw, "pattern", path, required=False)
        if preset is None:
            preset = "custom" if pattern is not None else "rupiah_flexible"
        if preset == "custom":
            if pattern is None:
                raise RuleError(f"{path}.pattern", "is required with the custom preset")
        elif preset in REGEX_PRESETS:
            if pattern is not None and pattern != REGEX_PRESETS[preset]:
                raise RuleError(f"{path}.pattern", "give either preset %(preset)s or a pattern, not both",
                                preset=repr(preset))
            pattern = REGEX_PRESETS[preset]
        else:
            known = ", ".join([*REGEX_PRESETS, "custom"])
            raise RuleError(f"{path}.preset", "unknown preset %(value)s; known: %(known)s", value=repr(preset),
                            known=known)
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


@action("set_field", "Set Lead Field")
class SetField(ActionBase):
    """Set a lead field (priority, source, notes, city, ...)."""

    notes = ("%(field)s already %(value)s", "%(field)s = %(value)s")

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
            raise RuleError(f"{path}.field", "%(value)s cannot be set; settable: %(known)s", value=repr(name),
                            known=", ".join(SETTABLE_FIELDS))
        if "value" not in raw:
            raise RuleError(f"{path}.value", "is required (null clears the field)")
        value = raw["value"]
        if value == "":
            value = None  # TOML has no null: an empty value clears the field
        if name.removeprefix("lead.") in LEAD_NUMBER_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise RuleError(f"{path}.value", "must be a number for %(field)s", field=name)
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


@dataclass(frozen=True, slots=True)
class _TagAction(ActionBase):
    """Add Tag and Remove Tag: one `tag` parameter, parsed alike."""

    tag: str
    # The two results `apply` returns, built once: a heavy rule set tags most messages, and
    # formatting the note and building its result each time cost a fifth of Add Tag.
    _changed: Applied = field(init=False, repr=False, compare=False)
    _unchanged: Applied = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        changed, unchanged = self.notes[1], self.notes[0]
        object.__setattr__(self, "_changed", Applied(changed % {"tag": self.tag}))
        object.__setattr__(self, "_unchanged", Applied(unchanged % {"tag": self.tag}))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> Self:
        """Tags are stored lower-case with single spaces."""
        tag = _text_param(raw, "tag", path)
        assert tag is not None
        return cls(" ".join(tag.split()).lower())


@action("add_tag", "Add Tag")
class AddTag(_TagAction):
    """Add a tag to the lead."""

    notes = ("already tagged %(tag)s", "+%(tag)s")  # (unchanged, changed)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Add the tag (a set: adding twice is once)."""
        tag, tags = self.tag, lead.tags
        if tag in tags:
            return self._unchanged
        lead.set("tags", tags | {tag})
        return self._changed


@action("remove_tag", "Remove Tag")
class RemoveTag(_TagAction):
    """Remove a tag from the lead."""

    notes = ("no tag %(tag)s to remove", "-%(tag)s")  # (unchanged, changed)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Remove the tag if present."""
        tags = lead.tags
        if self.tag not in tags:
            return self._unchanged
        lead.set("tags", tags - {self.tag})
        return self._changed


@action("adjust_score", "Adjust Score")
class AdjustScore(ActionBase):
    """Add to (or subtract from) the lead score."""

    notes = ("score %(before)s -> %(after)s",)

    by: int
    # What `apply` returns from a whole score, built once per score: a heavy rule set scores
    # most messages, and building the note and its result each time cost ~1,700 instructions.
    _from_score: dict[int, Applied] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], path: str, env: CompileEnv) -> AdjustScore:
        """`by` is a whole number, negative to subtract."""
        by = raw.get("by")
        if isinstance(by, bool) or not isinstance(by, int):
            raise RuleError(f"{path}.by", "must be a whole number (negative to subtract)")
        if abs(by) > MAX_SCORE_STEP:
            raise RuleError(f"{path}.by", "must be between -%(most)s and %(most)s", most=f"{MAX_SCORE_STEP:,}")
        return cls(by)

    def apply(self, lead: LeadDraft, run: ActionRun) -> Applied:
        """Adjust the score."""
        before = lead.score or 0
        after = before + self.by
        lead.set("score", after)
        if type(before) is int:  # the usual case: whole scores, no formatting call
            applied = self._from_score.get(before)
            if applied is None:
                applied = Applied(f"score {before} -> {after}")
                if len(self._from_score) < MAX_KEPT_SCORE_NOTES:  # scores are few; bounded all the same
                    self._from_score[before] = applied
            return applied
        return Applied(f"score {_plain(before)} -> {_plain(after)}")
