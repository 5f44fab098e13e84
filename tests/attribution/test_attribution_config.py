"""[attribution], [rotators.NAME], [partners.SOURCE]: defaults, and refusals that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.attribution.service import Click
from bridge.attribution.settings import DEFAULT_GREETING
from bridge.config import parse_config
from bridge.errors import ConfigError
from tests.attribution.services import BASE_CONFIG, make_services
from tests.conftest import CliResult

NUMBERS = [{"phone": "6281100000001"}, {"phone": "6281100000002", "rotator": "promo", "weight": 3}]


def parse(**raw: Any) -> Any:
    return parse_config({"numbers": NUMBERS, **raw}, base_dir=Path(".")).attribution


def test_defaults_give_every_rotator_a_link() -> None:
    settings = parse()
    assert [(r.name, r.greeting, r.strategy, r.source) for r in settings.rotators] == [
        ("default", DEFAULT_GREETING, "weighted", "website"), ("promo", DEFAULT_GREETING, "weighted", "website")]
    assert (settings.visitor_ttl_hours, settings.overwrite, settings.rate_limit_per_minute) == (168, False, 30)
    assert settings.partners == ()


@pytest.mark.parametrize(("raw", "key"), [
    ({"attribution": {"visitor_ttl": 3}}, "attribution.visitor_ttl"),
    ({"attribution": {"visitor_ttl_hours": 0}}, "attribution.visitor_ttl_hours"),
    ({"attribution": {"overwrite": "yes"}}, "attribution.overwrite"),
    ({"attribution": {"trusted_proxies": ["not-an-ip"]}}, "attribution.trusted_proxies"),
    ({"rotators": {"ghost": {}}}, "rotators.ghost"),
    ({"rotators": {"default": {"greeting": "Halo kak"}}}, "rotators.default.greeting"),
    ({"rotators": {"default": {"strategy": "random"}}}, "rotators.default.strategy"),
    ({"rotators": {"default": {"colour": "red"}}}, "rotators.default.colour"),
    ({"partners": {"whatsapp_cloud": {"app_secret": "x" * 32}}}, "partners.whatsapp_cloud.verify_token"),
    ({"partners": {"whatsapp_cloud": {"app_secret": "short", "verify_token": "v" * 10}}},
     "partners.whatsapp_cloud.app_secret"),
    ({"partners": {"qontak": {}}}, "partners.qontak.secret"),
    ({"partners": {"qontak": {"secret": "secret"}}}, "partners.qontak.secret"),
    ({"partners": {"qontak": {"secret": "q" * 20, "auth": "basic"}}}, "partners.qontak.auth"),
    ({"partners": {"qontak": {"secret": "q" * 20, "fields": {"phone": "a.b"}}}}, "partners.qontak.fields.phone"),
    ({"partners": {"Bad-Name": {"secret": "q" * 20}}}, "partners.Bad-Name"),
])
def test_wrong_settings_are_refused_with_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(**raw)
    assert refused.value.key == key


def test_secrets_never_show_in_reprs() -> None:
    settings = parse_config(BASE_CONFIG, base_dir=Path(".")).attribution
    text = repr(settings)
    assert "cloud-app-secret" not in text and "verify-me" not in text and "qontak-signing" not in text


def test_rotator_cli_lists_clicks_visitors_and_upgrades(tmp_path: Path, wabridge: Any) -> None:
    services = make_services(tmp_path / "data" / "wabridge.db")
    services.connected = {"6281100000001"}
    agent = "Mozilla/5.0 (Linux; Android 13) Chrome/120.0 Mobile Safari/537.36"
    result = services.attribution.click(Click("default", {"utm_campaign": "promo"}, agent, None, "203.0.113.1"))
    services.attribution.click(Click("default", {}, "Twitterbot/1.0", None, "203.0.113.2"))
    services.attribution.flush_into(services.db)
    services.db.conn.close()
    config = tmp_path / "config.toml"
    config.write_text('[[numbers]]\nphone = "6281100000001"\nlabel = "CS Budi"\n\n'
                      '[[numbers]]\nphone = "6281100000002"\nweight = 2\n\n'
                      '[partners.pancake]\nsecret = "pancake-shared-token-77"\nauth = "token"\n')
    listed: CliResult = wabridge("--config", str(config), "rotators", "list", "--json")
    assert listed.code == 0, listed.err
    (default,) = listed.json()
    numbers = {n["number"]: n for n in default["numbers"]}
    assert (default["clicks"], default["bot_clicks"], default["visitors"], default["upgraded"]) == (2, 1, 1, 0)
    assert numbers["6281100000001"]["label"] == "CS Budi" and numbers["6281100000002"]["weight"] == 2
    text = wabridge("--config", str(config), "rotators", "list")
    assert "/r/default" in text.out and "CS Budi" in text.out
    visitors = wabridge("--config", str(config), "rotators", "visitors", "--code", result.code.lower(), "--json")
    assert [v["utm_campaign"] for v in visitors.json()] == ["promo"]
    partners = wabridge("--config", str(config), "partners", "list")
    assert "pancake/(none yet): waiting for a signed request" in partners.out
    assert wabridge("--config", str(config), "rotators", "log").code == 0
