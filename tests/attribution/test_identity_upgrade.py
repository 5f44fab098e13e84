"""Identity upgrade on a real SQLite store: a click makes a visitor, the message with its code
makes it the real lead (inside the processing transaction), and wrong codes change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.attribution import service as attribution_module
from bridge.attribution.service import Click
from engine.model import parse_message
from engine.rules import default_env, parse_rules
from store.inbox import ingest, ingest_many
from store.leads import get_lead
from store.rules import save_rules
from store.visitors import attribution_log, list_visitors, rotator_stats
from tests.attribution.services import NUMBERS, Services, make_services
from tests.conftest import message

A = NUMBERS[0]
CUSTOMER = "6281234567890"
HUMAN = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
QUERY = {"utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "ramadan-promo", "utm_term": "sepatu",
         "utm_content": "video-1", "fbclid": "IwAR0abc"}


@pytest.fixture
def services(tmp_path: Path) -> Services:
    built = make_services(tmp_path / "w.db")
    built.connected = {A}
    return built


def click(services: Services, query: dict[str, str] | None = None, agent: str | None = HUMAN,
          remote: str = "198.51.100.7") -> Any:
    return services.attribution.click(Click("default", query if query is not None else QUERY, agent,
                                            "https://toko.example/promo", remote))


def send(services: Services, text: str, *, sender: str = CUSTOMER, session: str = A, msg_id: str | None = None,
         **extra: Any) -> None:
    raw = message(id=msg_id or f"M{len(text)}{sender[-3:]}{session[-3:]}{text[:3]}", session=session, text=text,
                  sender=f"{sender}@s.whatsapp.net", chat=f"{sender}@s.whatsapp.net", **extra)
    ingest(services.db, parse_message(raw), services.clock())


def save(services: Services, rules: list[dict[str, Any]]) -> None:
    save_rules(services.db, parse_rules({"rules": rules}, default_env(("new", "responded", "hot", "purchase",
                                                                       "won", "lost"))), services.clock())


def test_click_message_upgrade_and_rules_see_the_campaign(services: Services) -> None:
    save(services, [
        {"name": "Ramadan lead", "trigger": "lead.created",
         "conditions": [{"field": "lead.utm_campaign", "op": "equal", "value": "ramadan-promo"}],
         "actions": [{"type": "add_tag", "tag": "ramadan"}]},
        {"name": "From Facebook", "conditions": [{"field": "lead.utm_source", "op": "equal", "value": "facebook"}],
         "actions": [{"type": "set_field", "field": "priority", "value": "high"}]},
    ])
    result = click(services)
    assert result.status == 302 and result.number == A and result.code
    assert f"%5B{result.code}%5D" in result.location  # [K-XXXX] in the pre-filled text
    send(services, f"Halo kak, saya mau tanya [{result.code}]")
    assert services.process() == 1
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None
    assert (lead.source, lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.utm_term, lead.utm_content,
            lead.fbclid) == ("ads", "facebook", "cpc", "ramadan-promo", "sepatu", "video-1", "IwAR0abc")
    assert lead.tags == {"ramadan"} and lead.priority == "high"
    (visitor,) = list_visitors(services.db, code=result.code)
    assert (visitor["state"], visitor["lead_phone"], visitor["referrer"]) == (
        "upgraded", CUSTOMER, "https://toko.example/promo")
    (entry,) = attribution_log(services.db, code=result.code)
    assert entry["outcome"] == "upgraded" and "utm_campaign" in entry["detail"]
    assert rotator_stats(services.db)[("default", A)] == {
        "clicks": 1, "bot_clicks": 0, "visitors": 1, "waiting": 0, "upgraded": 1, "expired": 0}


def test_plain_visit_is_website_and_keeps_the_lead_history(services: Services) -> None:
    result = click(services, {"utm_source": "instagram", "utm_campaign": "bio-link"})
    send(services, "halo dulu")  # an existing customer, already a lead without attribution
    services.process()
    send(services, f"ini kode saya {result.code.lower()}")  # bare, lower case, from the right number
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and (lead.source, lead.utm_source, lead.chat_count) == ("website", "instagram", 2)


def test_a_code_used_twice_upgrades_only_the_first_phone(services: Services) -> None:
    result = click(services)
    send(services, f"[{result.code}]", sender="6281111111111")
    services.process()
    send(services, f"[{result.code}]", sender="6282222222222")
    services.process()
    first, second = get_lead(services.db, "6281111111111"), get_lead(services.db, "6282222222222")
    assert first is not None and first.utm_campaign == "ramadan-promo"
    assert second is not None and second.utm_campaign is None and second.source is None
    ignored = [e for e in attribution_log(services.db, code=result.code) if e["outcome"] == "ignored"]
    assert [(e["reason"], e["lead_phone"]) for e in ignored] == [("already_used", "6282222222222")]


def test_the_same_code_twice_in_one_batch_is_consumed_once(services: Services) -> None:
    result = click(services)
    services.attribution.flush_into(services.db)
    messages = [parse_message(message(id=f"B{i}", session=A, text=f"[{result.code}]",
                                      sender=f"62833333333{i}@s.whatsapp.net", chat=f"62833333333{i}@s.whatsapp.net"))
                for i in range(2)]
    ingest_many(services.db, messages, services.clock())
    services.process()
    campaigns = [get_lead(services.db, f"62833333333{i}").utm_campaign for i in range(2)]  # type: ignore[union-attr]
    assert campaigns == ["ramadan-promo", None]


def test_expired_codes_are_ignored_and_swept(services: Services) -> None:
    result = click(services)
    services.attribution.flush_into(services.db)
    services.clock.now += timedelta(hours=services.config.attribution.visitor_ttl_hours)
    send(services, f"[{result.code}]")
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.utm_campaign is None
    assert attribution_log(services.db, code=result.code)[0]["reason"] == "expired"
    expired, purged = services.attribution.sweep(services.db)
    assert (expired, purged) == (1, [])
    services.clock.now += timedelta(days=31)
    assert services.attribution.sweep(services.db) == (0, [result.code])
    assert list_visitors(services.db, code=result.code) == []


def test_a_code_from_another_workspace_is_never_merged(services: Services, tmp_path: Path) -> None:
    other = make_services(tmp_path / "w.db", overrides={"workspace": {"name": "Toko Lain"}})
    other.connected = {A}
    result = click(other)
    other.attribution.flush_into(other.db)
    send(services, f"[{result.code}]")
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.utm_campaign is None
    assert attribution_log(services.db, code=result.code)[0]["reason"] == "other_workspace"


def test_unknown_and_ambiguous_codes_are_traced(services: Services) -> None:
    first, second = click(services), click(services)
    send(services, "[K-2222]")
    send(services, f"[{first.code}] atau [{second.code}]", sender="6284444444444")
    services.process()
    assert attribution_log(services.db, code="K-2222")[0]["reason"] == "unknown_code"
    assert {e["reason"] for e in attribution_log(services.db) if e["code"] != "K-2222"} == {"ambiguous"}
    assert get_lead(services.db, "6284444444444").utm_campaign is None  # type: ignore[union-attr]


def test_earlier_attribution_is_kept_unless_configured(tmp_path: Path) -> None:
    for overwrite, expected in ((False, "old-campaign"), (True, "ramadan-promo")):
        services = make_services(tmp_path / f"w{overwrite}.db", overrides={"attribution": {"overwrite": overwrite}})
        services.connected = {A}
        send(services, "halo", referral={"source_id": "ad-1", "ctwa_clid": "clid-1"})
        services.process()
        services.db.conn.execute("UPDATE leads SET utm_campaign = 'old-campaign'")
        services.db.conn.commit()
        result = click(services)
        send(services, f"[{result.code}]")
        services.process()
        lead = get_lead(services.db, CUSTOMER)
        assert lead is not None and lead.utm_campaign == expected
        assert lead.ctwa_clid == "clid-1"  # the ad click id is never cleared
        assert attribution_log(services.db, code=result.code)[0]["outcome"] == "upgraded"


def test_bots_get_redirected_without_a_visitor(services: Services) -> None:
    result = click(services, agent="facebookexternalhit/1.1")
    assert result.status == 302 and result.code is None and "%5BK-" not in result.location
    probe = services.attribution.click(Click("default", QUERY, HUMAN, None, "198.51.100.8", probe=True))
    assert probe.status == 302 and probe.code is None
    services.attribution.flush_into(services.db)
    assert list_visitors(services.db) == []
    assert rotator_stats(services.db)[("default", A)]["bot_clicks"] == 2


def test_codes_on_file_are_never_reissued(tmp_path: Path) -> None:
    services = make_services(tmp_path / "w.db")
    services.connected = {A}
    first = click(services)
    services.attribution.flush_into(services.db)
    again = make_services(tmp_path / "w.db")
    again.connected = {A}
    again.attribution.load(again.db)
    assert first.code in again.attribution.codes
    draws = iter([bytes([0, 1, 2, 3] * 4)] * 40)  # always the same code
    again.attribution.random_bytes = lambda n: next(draws)
    assert click(again).code == "K-2345"
    assert click(again).code is None  # every draw collides: redirected without a code, never a duplicate


def test_a_failed_flush_keeps_the_clicks_for_the_next_one(services: Services,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    result = click(services)
    click(services, agent="curl/8.4.0")
    real = attribution_module.save_clicks

    def broken(*args: Any) -> list[str]:
        raise OSError("disk full")

    monkeypatch.setattr(attribution_module, "save_clicks", broken)
    services.attribution.flush_into(services.db)  # logged, not raised: processing goes on
    monkeypatch.setattr(attribution_module, "save_clicks", real)
    services.attribution.flush_into(services.db)
    assert [v["code"] for v in list_visitors(services.db)] == [result.code]
    assert rotator_stats(services.db)[("default", A)]["clicks"] == 2
