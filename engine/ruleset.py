"""A rule set compiled for evaluation: each enabled rule's condition compiled once into a
closure, the rules indexed by trigger, sender type and anchor (engine.anchors) so an event
evaluates only the rules that could fire on it. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engine.anchors import TEXT_FIELD, Feature, FeatureIndex, find_anchor
from engine.conditions import compile_condition
from engine.context import EvalContext
from engine.errors import RuleError
from engine.model import DEFAULT_STATUSES
from engine.operators import CompileEnv
from engine.regexes import RegexBank
from engine.rules import MESSAGE_TRIGGER, Rule
from engine.text import normalise

MASK_CACHE_SIZE = 8192  # candidate lists kept, by rule mask


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule plus its single-closure condition check and its anchor (see engine.anchors)."""

    rule: Rule
    check: Callable[[EvalContext], bool]
    anchor: frozenset[Feature] | None
    position: int  # evaluation order: (priority, id)


class RuleSet:
    """Enabled rules compiled once and indexed by trigger, sender type and lead status."""

    def __init__(
        self,
        rules: Iterable[Rule],
        statuses: Sequence[str] = DEFAULT_STATUSES,
        endpoints: frozenset[str] | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: (r.priority, r.id)))
        self.statuses = tuple(statuses)
        self.bank = RegexBank()
        self.env = CompileEnv(self.bank, self.statuses, endpoints)
        by_folded = {normalise(st): st for st in self.statuses}
        checks: list[tuple[Rule, Callable[[EvalContext], bool]]] = []
        skipped: list[tuple[Rule, str]] = []
        for rule in self.rules:
            if not rule.enabled:
                continue
            try:
                checks.append((rule, compile_condition(rule.conditions, self.env)))
            except (RuleError, RecursionError, ValueError) as exc:
                # One rule that cannot compile is skipped and reported; the others still run.
                skipped.append((rule, str(exc) or type(exc).__name__))
        self.skipped: tuple[tuple[Rule, str], ...] = tuple(skipped)
        if skipped:
            dropped = {id(r) for r, _ in skipped}
            self.rules = tuple(r for r in self.rules if id(r) not in dropped)
        self.bank.freeze()
        regex_index = self.bank.indices(TEXT_FIELD)
        compiled = [
            CompiledRule(r, check, find_anchor(r.conditions, regex_index, by_folded), position)
            for position, (r, check) in enumerate(checks)
        ]
        self._by_key: dict[tuple[str, str | None], tuple[CompiledRule, ...]] = {}
        self._free: dict[tuple[str, str | None], int] = {}
        masks: dict[Feature, int] = {}
        self._compiled = compiled
        for trigger in ("message.received", "lead.created", "lead.status_changed"):
            of_trigger = [c for c in compiled if c.rule.trigger == trigger]
            senders: tuple[str | None, ...] = ("customer", "team") if trigger == MESSAGE_TRIGGER else (None,)
            for sender in senders:
                key = (trigger, sender)
                members = tuple(c for c in of_trigger if sender is None or c.rule.sender in (sender, "all"))
                self._by_key[key] = members
                self._free[key] = sum(1 << c.position for c in members if c.anchor is None)
        for c in compiled:
            for feature in c.anchor or ():
                masks[feature] = masks.get(feature, 0) | (1 << c.position)
        # Rules of other triggers/senders share features: keep each key's own rules only.
        self._key_mask = {key: sum(1 << c.position for c in members)
                          for key, members in self._by_key.items()}
        self.features = FeatureIndex(masks)
        self._by_mask: dict[int, tuple[CompiledRule, ...]] = {}  # candidates by mask, see candidates()
        # The action types the enabled rules use: the store skips what no rule can ask (check-ins).
        self.action_types = frozenset(action.type for c in compiled for action in c.rule.actions)

    def has_rules(self, trigger: str, sender: str | None) -> bool:
        """Whether any enabled rule listens to this trigger (and sender type)."""
        return bool(self._key_mask.get((trigger, sender if trigger == MESSAGE_TRIGGER else None)))

    def candidates(self, trigger: str, sender: str | None, ctx: EvalContext) -> tuple[CompiledRule, ...]:
        """Rules that could fire on this event (their anchor is present), in evaluation order."""
        key = (trigger, sender if trigger == MESSAGE_TRIGGER else None)
        allowed = self._key_mask.get(key, 0)
        if not allowed:
            return ()
        mask = (self.features.reachable(ctx) & allowed) | self._free[key]
        found = self._by_mask.get(mask)
        if found is None:
            # Events share few masks (a heavy bench: 2,573 among 37,174 passes): the bit walk
            # below runs once per mask. Bounded: a pathological stream only refills it.
            if len(self._by_mask) >= MASK_CACHE_SIZE:
                self._by_mask.clear()
            found = self._by_mask[mask] = self._rules_of(mask)
        return found

    def _rules_of(self, mask: int) -> tuple[CompiledRule, ...]:
        compiled = self._compiled
        found: list[CompiledRule] = []
        while mask:
            low = mask & -mask
            found.append(compiled[low.bit_length() - 1])
            mask ^= low
        return tuple(found)

    def all_of(self, trigger: str, sender: str | None) -> tuple[CompiledRule, ...]:
        """Every enabled rule of a trigger and sender type, unfiltered (for explanations)."""
        return self._by_key.get((trigger, sender if trigger == MESSAGE_TRIGGER else None), ())
