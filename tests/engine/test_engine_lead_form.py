"""A lead's export form (`Lead.to_dict`), what webhooks, the API and exports show: every
field of the Lead, in its order, with the documented conversions."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from engine.model import Lead


def test_every_field_is_exported_in_its_order() -> None:
    """A field added to Lead and forgotten here would be missing from every webhook."""
    lead = Lead("6281234567890", "6281234567890@s.whatsapp.net", "new")
    assert list(lead.to_dict()) == [f.name for f in fields(Lead)]


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
