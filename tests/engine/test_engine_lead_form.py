"""A lead's export form (`Lead.to_dict`), what webhooks, the API and exports show: every
field of the Lead, in its order, with the documented conversions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from engine.evaluate import new_lead, process_message
from engine.memo import sorted_tags
from engine.model import Lead
from engine.ruleset import RuleSet
from tests.engine.engine_factories import NOW, TZ, make_message


def test_every_field_is_exported_in_its_order() -> None:
    """A field added to Lead and forgotten here would be missing from every webhook."""
    lead = Lead("6281234567890", "6281234567890@s.whatsapp.net", "new")
    assert list(lead.to_dict()) == list(Lead._fields)


def test_each_field_is_exported_under_its_own_name() -> None:
    """`to_dict` unpacks the lead in field order: a field added or moved in Lead and not in the
    unpacking would put one field's value under another's name."""
    texts = {name: f"value of {name}" for name in Lead._fields}
    converted = {"score": 7, "value_actual": 10, "value_potential": 20, "tags": frozenset({"b", "a"}),
                 "chat_count": 3, "created_at": datetime(2026, 11, 1, tzinfo=UTC),
                 "updated_at": datetime(2026, 11, 2, tzinfo=UTC)}
    out = Lead(**{**texts, **converted}).to_dict()
    assert {name: out[name] for name in texts if name not in converted} == {
        name: text for name, text in texts.items() if name not in converted}
    assert (out["score"], out["value_actual"], out["value_potential"], out["tags"], out["chat_count"]) == (
        7, 10, 20, ["a", "b"], 3)
    assert (out["created_at"], out["updated_at"]) == ("2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00")


def test_the_conversions_users_read() -> None:
    jakarta = datetime(2026, 11, 23, 10, 15, 0, 250, tzinfo=ZoneInfo("Asia/Jakarta"))
    lead = Lead("6281234567890", "6281234567890@s.whatsapp.net", "hot", name="Budi", score=7.0,
                value_actual=1500000.0, value_potential=12.5, tags=frozenset({"vip", "b2b", "akhir tahun"}),
                chat_count=3, created_at=jakarta, updated_at=datetime(2026, 11, 24, tzinfo=UTC), city="Bandung")
    out = lead.to_dict()
    assert out["tags"] == ["akhir tahun", "b2b", "vip"]
    assert (out["score"], type(out["score"])) == (7, int)  # a whole number reads as one
    assert (out["value_actual"], type(out["value_actual"])) == (1500000, int)
    assert out["value_potential"] == 12.5
    assert out["created_at"] == "2026-11-23T10:15:00.000250+07:00"
    assert out["updated_at"] == "2026-11-24T00:00:00+00:00"
    assert (out["name"], out["city"], out["priority"], out["chat_count"]) == ("Budi", "Bandung", None, 3)
    bare = Lead("62811", "62811@s.whatsapp.net", "new").to_dict()
    assert (bare["created_at"], bare["value_actual"], bare["tags"], bare["score"]) == (None, None, [], 0)


def test_a_first_message_makes_the_lead_the_dataclass_would() -> None:
    """A new lead is built from its fields' defaults without the dataclass's __init__
    (engine.lead_draft): a default added to Lead must reach it the same."""
    for message in (make_message(text="halo", sender_name="Budi"), make_message(text="halo", from_me=True)):
        made = new_lead(message, NOW, ("New", "Hot"))
        expected = Lead(message.lead_phone, message.lead_jid, "New",
                        name=None if message.from_me else message.sender_name, created_at=NOW, updated_at=NOW)
        assert made == expected and made.tags == frozenset()
        first = process_message(RuleSet([], ("New", "Hot")), None, message, now=NOW, tz=TZ).lead
        assert first == expected.with_changes(chat_count=0 if message.from_me else 1)


def test_tags_read_in_order_each_time_the_same_set_is_exported() -> None:
    """A tag set's order is remembered by the set (engine.memo.sorted_tags): each export is
    its own list, and another set with the same id later is not given the first one's tags."""
    lead = Lead("62811", "62811@s.whatsapp.net", "new", tags=frozenset({"vip", "b2b"}))
    first, second = lead.to_dict()["tags"], lead.to_dict()["tags"]
    assert first == second == ["b2b", "vip"] and first is not second
    first.append("changed by a caller")
    assert lead.to_dict()["tags"] == ["b2b", "vip"]
    for round_ in range(3):  # sets made and dropped in turn often reuse an id
        tags = frozenset({f"t{round_}", "a"})
        assert Lead("62811", "62811@s.whatsapp.net", "new", tags=tags).to_dict()["tags"] == ["a", f"t{round_}"]
    changing = {"b", "a"}  # not a lead's own kind of set: never remembered
    assert sorted_tags(changing) == ["a", "b"]  # type: ignore[arg-type]
    changing.add("0")
    assert sorted_tags(changing) == ["0", "a", "b"]  # type: ignore[arg-type]
