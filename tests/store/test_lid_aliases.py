"""One customer, one lead, on linked devices: a customer WhatsApp names only by a LID (no
phone number in the stanza, none in whatsmeow's LID map) gets a lead keyed by the LID; the
first message that carries both the phone and the LID merges that lead into the phone's,
and later LID-only messages land on the phone's lead.

The messages are real neonize 0.5.2 `MessageEv` protobufs normalised by the worker's
normaliser, ingested and processed by the store as the daemon does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WaMessage

from bridge.worker.normalise import normalise_message_event
from engine.model import DEFAULT_STATUSES, parse_message
from engine.rules import default_env, parse_rules
from engine.ruleset import RuleSet
from store.db import open_db
from store.inbox import ingest_many
from store.leads import get_lead, lead_changes
from store.processor import Processor
from store.rules import load_rules, save_rules
from store.runs import recent_runs
from tests.conftest import Clock
from tests.store.test_guarantees import processor
from tests.worker.test_normalise import ALICE_LID, ALICE_PN, GROUP, ME, jid, make_ev

LID_KEY = "123456789012345"  # ALICE_LID's digits: her lead's key while no phone is known
PHONE = "6281200000002"  # ALICE_PN's
RULES = [
    {"name": "tag every customer message", "trigger": "message.received", "sender": "customer",
     "conditions": [], "actions": [{"type": "add_tag", "tag": "chatted"}, {"type": "adjust_score", "by": 1}]},
    {"name": "price asked", "trigger": "message.received", "sender": "customer",
     "conditions": [{"field": "message.text", "op": "contains", "value": "harga"}],
     "actions": [{"type": "add_tag", "tag": "asked-price"}]},
]


def _setup(tmp_path: Path, clock: Clock) -> Processor:
    db = open_db(tmp_path / "w.db")
    env = default_env(DEFAULT_STATUSES)
    save_rules(db, parse_rules(RULES, env), clock())
    return processor(db, RuleSet(load_rules(db, env).rules), clock)


def _deliver(proc: Processor, clock: Clock, *events: Any, careful: bool = False) -> None:
    """Normalise, ingest and process; `careful`: by the path a failed batch takes instead
    (message by message, store.careful)."""
    messages = []
    for ev in events:
        normalised = normalise_message_event(ev, session=ME)  # no resolver: the LID stays unknown
        assert normalised is not None
        messages.append(parse_message(normalised))
    ingest_many(proc.db, messages, clock())
    if careful:
        pending = proc.db.conn.execute("SELECT id, payload FROM inbox WHERE state = 'pending' ORDER BY id")
        proc._careful_batch(pending.fetchall(), clock())
    else:
        proc.run()


def _lid_only(text: str, msg_id: str) -> Any:
    return make_ev(WaMessage(conversation=text), chat=ALICE_LID, sender=ALICE_LID, msg_id=msg_id)


def _with_phone(text: str, msg_id: str) -> Any:
    return make_ev(WaMessage(conversation=text), chat=ALICE_LID, sender=ALICE_LID, sender_alt=ALICE_PN,
                   msg_id=msg_id)


def _inbox_leads(proc: Processor) -> dict[str, str]:
    return dict(proc.db.conn.execute("SELECT message_id, lead_phone FROM inbox"))


@pytest.mark.parametrize("way", ["apart", "one batch", "careful path"])
def test_a_lid_only_lead_joins_the_phone_lead_once_a_message_carries_both(
        tmp_path: Path, clock: Clock, way: str) -> None:
    proc = _setup(tmp_path, clock)
    _deliver(proc, clock, _lid_only("halo kak", "L1"), _lid_only("berapa harga nya?", "L2"))
    lid_lead = get_lead(proc.db, LID_KEY)
    assert lid_lead is not None and lid_lead.jid == f"{LID_KEY}@lid" and lid_lead.chat_count == 2
    assert get_lead(proc.db, PHONE) is None

    revealing = _with_phone("saya transfer ya", "P1")
    later = _lid_only("sudah ya kak", "L3")  # the LID map forgot her again: LID only
    if way == "apart":
        _deliver(proc, clock, revealing)
        _deliver(proc, clock, later)
    else:  # both at once: the merge comes before the LID-only message is placed
        _deliver(proc, clock, revealing, later, careful=way == "careful path")

    assert get_lead(proc.db, LID_KEY) is None  # nothing left under the LID
    lead = get_lead(proc.db, PHONE)
    assert lead is not None and lead.jid == f"{PHONE}@s.whatsapp.net"
    assert lead.chat_count == 4 and lead.score == 4
    assert lead.tags == frozenset({"chatted", "asked-price"})
    assert _inbox_leads(proc) == {"L1": PHONE, "L2": PHONE, "P1": PHONE, "L3": PHONE}
    assert proc.db.conn.execute("SELECT alias, phone FROM lead_aliases").fetchall() == [(LID_KEY, PHONE)]
    assert any(change["changes"].get("merged") == [LID_KEY, PHONE]
               for change in lead_changes(proc.db, PHONE))
    # The LID-only message was processed as hers, its LID kept beside her phone JID.
    (payload,) = proc.db.conn.execute("SELECT payload FROM inbox WHERE message_id = 'L3'").fetchone()
    assert '"sender_lid":"123456789012345@lid"' in payload.replace(" ", "")


def test_a_group_message_from_a_known_lid_lands_on_the_phone_lead_and_the_group_stays(
        tmp_path: Path, clock: Clock) -> None:
    proc = _setup(tmp_path, clock)
    _deliver(proc, clock, _with_phone("halo", "P1"))  # the pair is learnt (no LID lead to merge)
    _deliver(proc, clock, make_ev(WaMessage(conversation="harga?"), chat=GROUP, sender=ALICE_LID, msg_id="G1"))
    lead = get_lead(proc.db, PHONE)
    assert lead is not None and lead.chat_count == 2 and "asked-price" in lead.tags
    assert get_lead(proc.db, LID_KEY) is None
    row = proc.db.conn.execute("SELECT chat, lead_phone FROM inbox WHERE message_id = 'G1'").fetchone()
    assert row == (f"{GROUP.User}@g.us", PHONE)


def test_the_team_writing_into_a_known_lid_chat_counts_on_the_phone_lead(tmp_path: Path, clock: Clock) -> None:
    proc = _setup(tmp_path, clock)
    _deliver(proc, clock, _with_phone("halo", "P1"))
    me = jid(ME, "s.whatsapp.net")
    _deliver(proc, clock, make_ev(WaMessage(conversation="siap kak"), chat=ALICE_LID, sender=me, from_me=True,
                                  msg_id="T1"))
    assert get_lead(proc.db, LID_KEY) is None
    assert _inbox_leads(proc)["T1"] == PHONE


def test_a_phone_lead_is_never_merged_away_whatever_its_digits(tmp_path: Path, clock: Clock) -> None:
    """A lead keyed by digits that happen to equal a LID's, but with a phone JID, is a phone
    number's own lead: a message pairing that LID with another phone leaves it alone."""
    proc = _setup(tmp_path, clock)
    twin = jid(LID_KEY, "s.whatsapp.net")
    _deliver(proc, clock, make_ev(WaMessage(conversation="halo"), chat=twin, sender=twin, msg_id="X1"))
    _deliver(proc, clock, _with_phone("halo", "P1"))
    kept = get_lead(proc.db, LID_KEY)
    assert kept is not None and kept.jid == f"{LID_KEY}@s.whatsapp.net" and kept.chat_count == 1
    lead = get_lead(proc.db, PHONE)
    assert lead is not None and lead.chat_count == 1


def test_rule_runs_carry_the_lead_jid_so_a_lid_lead_is_not_read_as_a_phone(tmp_path: Path, clock: Clock) -> None:
    """The Activity screen names each run's lead by its key and jid (store.runs.recent_runs):
    a LID key until the phone is known, then the phone's."""
    proc = _setup(tmp_path, clock)
    _deliver(proc, clock, _lid_only("berapa harga nya?", "L1"))
    runs = recent_runs(proc.db, limit=10)
    assert {(r["rule_name"], r["lead_phone"], r["lead_jid"]) for r in runs} == {
        ("tag every customer message", LID_KEY, f"{LID_KEY}@lid"), ("price asked", LID_KEY, f"{LID_KEY}@lid")}
    assert [r["lead_jid"] for r in recent_runs(proc.db, limit=10, lead_phone=LID_KEY)] == [f"{LID_KEY}@lid"] * 2

    _deliver(proc, clock, _with_phone("saya transfer ya", "P1"))
    newest = recent_runs(proc.db, limit=1)[0]
    assert (newest["lead_phone"], newest["lead_jid"]) == (PHONE, f"{PHONE}@s.whatsapp.net")
    # The LID lead is gone (merged): its old runs keep their key, with no jid to mistake.
    oldest = recent_runs(proc.db, limit=10)[-1]
    assert (oldest["lead_phone"], oldest["lead_jid"]) == (LID_KEY, None)
