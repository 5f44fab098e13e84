"""Evaluation: one event, one lead snapshot, the rules and the time in; a new lead,
outbox requests and rule-run records out. Pure: no I/O, no clock (DESIGN.md "Rules").

Semantics (also in the README):
- A pass evaluates every enabled rule of one trigger against the same lead snapshot,
  in priority order (ties: rule id). A fired rule with `stop_processing` keeps every
  lower-priority rule of that pass from firing. The fired rules' actions then apply in
  priority order, each seeing the lead as the previous action left it.
- A lead's first message runs a `lead.created` pass, then the `message.received` pass.
- After a pass, if the status differs from before it, a `lead.status_changed` pass runs
  with `status.from`/`status.to`; its own changes chain the same way, each rule at most
  once per chain and at most MAX_CHAIN links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from operator import itemgetter
from typing import NamedTuple

from engine.actions import Action, ActionRun, OutboxRequest
from engine.attribution import Upgrade, apply_upgrade
from engine.conditions import ConditionTrace, explain_condition
from engine.context import EvalCache, EvalContext
from engine.lead_draft import LeadDraft
from engine.model import Lead, Message
from engine.rules import MESSAGE_TRIGGER, Rule
from engine.ruleset import CompiledRule, RuleSet
from engine.verdicts import RuleExplanation

MAX_CHAIN = 8


class RuleRunRecord(NamedTuple):
    """One rule that fired (or failed) on one event: what the store keeps as a rule run.

    A named tuple rather than a frozen dataclass: a heavy rule set makes eight of these per
    message, and a frozen dataclass costs ten times as much to build (scripts/bench.py).
    """

    rule_id: int
    rule_name: str
    trigger: str
    fired: bool
    error: str | None = None
    notes: tuple[str, ...] = ()


# Builds a RuleRunRecord from a tuple of all its fields in C, skipping the named tuple's
# Python-level __new__ (a heavy rule set makes eight a message).
_new_record = tuple.__new__
_fired = itemgetter(RuleRunRecord._fields.index("fired"))  # read in C


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one event changes, to be committed in one transaction."""

    lead: Lead
    created: bool
    requests: tuple[OutboxRequest, ...]
    runs: tuple[RuleRunRecord, ...]
    status_changes: tuple[tuple[str, str], ...]

    @property
    def fired(self) -> int:
        """How many rules fired."""
        return sum(map(_fired, self.runs))


def new_lead(message: Message, now: datetime, statuses: Sequence[str]) -> Lead:
    """The lead a first message creates, in the workspace's first status."""
    return new_lead_draft(message, now, statuses).freeze()


def new_lead_draft(message: Message, now: datetime, statuses: Sequence[str]) -> LeadDraft:
    """`new_lead` as a draft, for the rules to change before it is frozen."""
    return LeadDraft.new(phone=message.lead_phone, jid=message.lead_jid, status=statuses[0],
                         name=None if message.from_me else message.sender_name, created_at=now, updated_at=now)


def _count_message(lead: LeadDraft, message: Message) -> bool:
    """Bookkeeping every message does before rules: chat count, name, ad referral.

    Returns whether this is the lead's first customer message (First Contact). An edit is
    the same message again: it counts nothing and is never a first contact.
    """
    if message.from_me or message.is_edit:
        return False
    count: int = lead.chat_count
    first = count == 0
    lead.set("chat_count", count + 1)
    if not lead.name and message.sender_name:
        lead.set("name", message.sender_name)
    referral = message.referral
    if referral is not None and not lead.ctwa_clid and not lead.ad_source_id:
        # Click-to-WhatsApp: the first ad click attributes the lead.
        lead.set("source", lead.source or "ads")
        lead.set("ctwa_clid", referral.ctwa_clid)
        lead.set("ad_source_id", referral.source_id)
        lead.set("ad_source_url", referral.source_url)
    return first


class _Run:
    """One event's processing: the draft lead, what was queued, what fired."""

    __slots__ = ("ruleset", "message", "now", "tz", "first_contact", "draft", "requests", "runs",
                 "status_changes", "explanations", "action_run", "cache", "origin")

    def __init__(self, ruleset: RuleSet, message: Message | None, now: datetime, tz: tzinfo,
                 draft: LeadDraft, explanations: list[RuleExplanation] | None,
                 origin: str = "message") -> None:
        self.ruleset = ruleset
        self.origin = origin  # change.by of the event's own passes; chained passes are "rule"
        self.message = message
        self.now = now
        self.tz = tz
        self.first_contact = False
        self.draft = draft
        self.requests: list[OutboxRequest] = []
        self.runs: list[RuleRunRecord] = []
        self.status_changes: list[tuple[str, str]] = []
        self.explanations = explanations
        self.action_run = ActionRun(message, 0, "", now)
        self.cache = EvalCache()

    def one_pass(self, trigger: str, status_from: str | None = None, status_to: str | None = None,
                 skip: set[int] | None = None, by: str | None = None) -> list[int]:
        """Evaluate a trigger's rules on the draft as it stands, then apply the fired ones."""
        sender = self.message.sender_type if self.message is not None else None
        explaining = self.explanations is not None
        if not explaining and not self.ruleset.has_rules(trigger, sender):
            return []
        # Every rule reads the same snapshot: the draft does not change until the apply phase.
        ctx = EvalContext(message=self.message, lead=self.draft, now=self.now, tz=self.tz,
                          first_contact=self.first_contact, status_from=status_from,
                          status_to=status_to, bank=self.ruleset.bank, cache=self.cache,
                          change_by=by or self.origin)
        if not explaining:
            return self._fast_pass(trigger, self.ruleset.candidates(trigger, sender, ctx), ctx, skip)
        # The dry run: every rule of the trigger, each with why it fired or not.
        fired: list[Rule] = []
        stopped_by: Rule | None = None
        for compiled in self.ruleset.all_of(trigger, sender):
            rule = compiled.rule
            if skip is not None and rule.id in skip:
                self._explain(rule, trigger, False, "chained")
                continue
            if stopped_by is not None:
                self._explain(rule, trigger, False, "stopped",
                              explain_condition(rule.conditions, ctx, self.ruleset.env, "conditions"),
                              stopped_by=stopped_by.name)
                continue
            passed = self._check(compiled, ctx, trigger)
            if passed is not True and passed is not False:
                self._explain(rule, trigger, False, "error", error=str(passed))
                continue
            trace = explain_condition(rule.conditions, ctx, self.ruleset.env, "conditions")
            self._explain(rule, trigger, passed, "passed" if passed else "failed", trace)
            if passed:
                fired.append(rule)
                if rule.stop_processing:
                    stopped_by = rule
        return self.apply(fired, trigger)

    def _fast_pass(self, trigger: str, rules: Sequence[CompiledRule], ctx: EvalContext,
                   skip: set[int] | None) -> list[int]:
        """`one_pass` without explanations: the path every message takes, kept lean."""
        fired: list[Rule] = []
        for compiled in rules:
            rule = compiled.rule
            if skip and rule.id in skip:
                continue
            try:  # _check, inlined: this runs ~18 times per message on a heavy rule set
                passed = compiled.check(ctx)
            except Exception as exc:
                self._condition_failed(rule, trigger, exc)
                continue
            if passed is True:
                fired.append(rule)
                if rule.stop_processing:
                    break
        return self.apply(fired, trigger) if fired else []

    def _check(self, compiled: CompiledRule, ctx: EvalContext, trigger: str) -> bool | Exception:
        """A rule's conditions on the snapshot. A condition that raises is false for this event,
        recorded as a failed run, and returned (guarantee 4: the other rules go on)."""
        try:
            return compiled.check(ctx)
        except Exception as exc:
            self._condition_failed(compiled.rule, trigger, exc)
            return exc

    def _condition_failed(self, rule: Rule, trigger: str, exc: Exception) -> None:
        self.runs.append(RuleRunRecord(rule.id, rule.name, trigger, False,
                                       error=f"condition failed: {type(exc).__name__}: {exc}"))

    def apply(self, fired: Sequence[Rule], trigger: str) -> list[int]:
        """Apply fired rules' actions in order, each rule's actions in order; a rule whose
        action raises has all its changes undone and is recorded as failed. Returns the ids of
        the rules applied. (One loop over the rules, no call per rule: a heavy rule set fires
        five or more a message.)"""
        run = self.action_run
        draft = self.draft
        journal = draft.journal
        applied: list[int] = []
        for rule in fired:
            run.rule_id = rule.id
            run.rule_name = rule.name
            mark = len(journal)  # where a failing rule's changes are undone to
            actions = rule.actions
            if len(actions) == 1:  # most rules: no inner loop, no list
                action = actions[0]
                try:
                    result = action.apply(draft, run)
                except Exception as exc:  # guarantee 4: the rule's changes are dropped, recorded
                    self._failed(rule, trigger, mark, 0, action, exc, [])
                    continue
                if result.requests:
                    self.requests.extend(result.requests)
                note = result.note
                notes: tuple[str, ...] = (f"{action.type}: {note}" if note else action.type,)
            else:
                done: list[str] = []
                requests: list[OutboxRequest] | None = None  # most rules queue nothing: no list for them
                failed = False
                for index, action in enumerate(actions):
                    try:
                        result = action.apply(draft, run)
                    except Exception as exc:  # the failing action is the one after those done
                        self._failed(rule, trigger, mark, index, action, exc, done)
                        failed = True
                        break
                    if result.requests:
                        if requests is None:
                            requests = []
                        requests.extend(result.requests)
                    note = result.note
                    done.append(f"{action.type}: {note}" if note else action.type)
                if failed:
                    continue
                if requests:
                    self.requests.extend(requests)
                notes = tuple(done)
            self.runs.append(_new_record(RuleRunRecord, (rule.id, rule.name, trigger, True, None, notes)))
            applied.append(rule.id)
            if self.explanations is not None:
                self._note(rule, list(notes))
        return applied

    def _failed(self, rule: Rule, trigger: str, mark: int, index: int, action: Action, exc: Exception,
                notes: list[str]) -> None:
        """An action raised: undo the rule's changes, record the run as failed (guarantee 4)."""
        self.draft.rollback(mark)
        error = f"actions[{index}] {action.type} failed: {type(exc).__name__}: {exc}"
        self.runs.append(RuleRunRecord(rule.id, rule.name, trigger, False, error, tuple(notes)))
        self._note(rule, [*notes, error])

    def pass_with_chain(self, trigger: str) -> None:
        """A pass, then the status-change passes it causes."""
        before = self.draft.status
        self.one_pass(trigger)
        self.chain(before, set())

    def chain(self, before: str, seen: set[int]) -> None:
        """Fire `lead.status_changed` passes while the status keeps changing (bounded)."""
        links = 0
        while self.draft.status != before and links < MAX_CHAIN:
            status_from, status_to = before, self.draft.status
            self.status_changes.append((status_from, status_to))
            before = status_to
            # A chained change was made by a rule's action (change.by = rule).
            seen.update(self.one_pass("lead.status_changed", status_from, status_to, seen, by="rule"))
            links += 1

    def _explain(self, rule: Rule, trigger: str, fired: bool, verdict: str,
                 trace: ConditionTrace | None = None, **args: str) -> None:
        if self.explanations is not None:
            self.explanations.append(RuleExplanation(rule.id, rule.name, trigger, fired, verdict,
                                                     tuple(sorted(args.items())), trace))

    def _note(self, rule: Rule, notes: list[str]) -> None:
        if self.explanations is None:
            return
        for index in range(len(self.explanations) - 1, -1, -1):
            item = self.explanations[index]
            if item.rule_id == rule.id and item.fired:
                self.explanations[index] = replace(item, fired=True, notes=tuple(notes))
                return

    def outcome(self, base: Lead | None, created: bool) -> Outcome:
        """Freeze the draft (stamping updated_at if anything changed) into the Outcome; `base`
        is the lead as it was, None for a lead this event creates."""
        if self.draft.changed:
            self.draft.set("updated_at", self.now)
            lead = self.draft.freeze()
        elif base is None:
            lead = self.draft.freeze()
        else:
            lead = base
        return Outcome(lead, created, tuple(self.requests), tuple(self.runs), tuple(self.status_changes))


def process_message(
    ruleset: RuleSet,
    lead: Lead | None,
    message: Message,
    *,
    now: datetime,
    tz: tzinfo,
    explanations: list[RuleExplanation] | None = None,
    upgrade: Upgrade | None = None,
) -> Outcome:
    """Run every pass one message causes on its lead (created if `lead` is None).

    `upgrade`: a visitor code this message carries (engine.attribution.decide); its
    attribution lands on the lead before any rule, `lead.created` included, sees it.
    """
    created = lead is None
    draft = new_lead_draft(message, now, ruleset.statuses) if lead is None else LeadDraft(lead)
    run = _Run(ruleset, message, now, tz, draft, explanations)
    run.first_contact = _count_message(draft, message)
    if upgrade is not None:
        apply_upgrade(draft, upgrade)
    if created:
        run.pass_with_chain("lead.created")
    run.pass_with_chain("message.received")
    return run.outcome(lead, created)


def process_lead_event(
    ruleset: RuleSet,
    lead: Lead,
    trigger: str,
    *,
    now: datetime,
    tz: tzinfo,
    status_from: str | None = None,
    explanations: list[RuleExplanation] | None = None,
    changed_by: str = "api",
) -> Outcome:
    """Run the passes of an event that has no message (a lead created or changed by hand).

    `changed_by` is the `change.by` its own pass sees (dashboard, api, import, cli); the
    status changes its rules then cause chain with `change.by = rule`.
    """
    run = _Run(ruleset, None, now, tz, LeadDraft(lead), explanations, origin=changed_by)
    if trigger == "lead.status_changed":
        if status_from is None or status_from == lead.status:
            raise ValueError("lead.status_changed needs the previous status (status_from)")
        # The change itself happened outside the rules: run its pass, then chain.
        run.status_changes.append((status_from, lead.status))
        fired = run.one_pass(trigger, status_from, lead.status)
        run.chain(lead.status, set(fired))
    else:
        run.pass_with_chain(trigger)
    return run.outcome(lead, trigger == "lead.created")


def process_change(
    ruleset: RuleSet,
    before: Lead | None,
    after: Lead,
    *,
    changed_by: str,
    now: datetime,
    tz: tzinfo,
    rules: bool = True,
) -> Outcome:
    """The rules a person's change fires: `after` is the lead with the change applied
    (engine.changes.apply_edit), `before` the lead it was (None: the change created it).

    A created lead runs the `lead.created` pass; a changed status the `lead.status_changed`
    pass (from, to), both with `change.by = changed_by`, then the usual chain. Any other
    change fires nothing. `rules=False` (an import with ?rules=false) records the status
    change without evaluating a rule.
    """
    created = before is None
    if before is None or before.status == after.status:
        status_changes: tuple[tuple[str, str], ...] = ()
    else:
        status_changes = ((before.status, after.status),)
    if rules and created:
        return process_lead_event(ruleset, after, "lead.created", now=now, tz=tz, changed_by=changed_by)
    if rules and before is not None and status_changes:
        return process_lead_event(ruleset, after, "lead.status_changed", now=now, tz=tz,
                                  status_from=before.status, changed_by=changed_by)
    return Outcome(after, created, (), (), status_changes)


def explain_message(
    ruleset: RuleSet, lead: Lead | None, message: Message, *, now: datetime, tz: tzinfo
) -> tuple[Outcome, list[RuleExplanation]]:
    """Dry run: the outcome plus, for every rule, whether it fired and why (not)."""
    explanations: list[RuleExplanation] = []
    outcome = process_message(ruleset, lead, message, now=now, tz=tz, explanations=explanations)
    reached = {e.rule_id for e in explanations}
    sender = message.sender_type
    for rule in ruleset.rules:
        if rule.id in reached and rule.enabled:
            continue
        args: tuple[tuple[str, str], ...] = ()
        if not rule.enabled:
            verdict = "disabled"
        elif rule.trigger == MESSAGE_TRIGGER and rule.sender not in (sender, "all"):
            verdict, args = "other_sender", (("rule_sender", rule.sender), ("sender", sender))
        elif rule.trigger == "lead.created":
            verdict = "lead_exists"
        elif rule.trigger == "lead.status_changed":
            verdict = "no_status_change"
        else:
            verdict = "not_reached"
        explanations.append(RuleExplanation(rule.id, rule.name, rule.trigger, False, verdict, args))
    order = {rule.id: index for index, rule in enumerate(ruleset.rules)}
    explanations.sort(key=lambda e: order.get(e.rule_id, 0))
    return outcome, explanations
