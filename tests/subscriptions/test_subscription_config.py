"""[[webhooks.subscriptions]] is checked at start like every setting: a wrong one is refused
naming the key, the value and what was expected; and what a subscription lets through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import parse_config
from bridge.errors import ConfigError
from store.subscriptions import Subscription

A = "6281100000001"


def config(**subscription: Any) -> Any:
    raw = {"numbers": [{"phone": A}], "webhooks": {"subscriptions": [
        {"name": "crm", "url": "https://crm.example.com/hook", "events": ["message.received"], **subscription}]}}
    return parse_config(raw, base_dir=Path("."))


def test_a_valid_subscription() -> None:
    (sub,) = config(secret="whsec_x", numbers=["+62 811-0000-0001"]).subscriptions
    assert (sub.name, sub.numbers, sub.source, sub.secret) == ("crm", frozenset({A}), "config", "whsec_x")
    assert "whsec_x" not in repr(sub) and sub.to_dict()["signed"] is True


@pytest.mark.parametrize(("changes", "key"), [
    ({"name": "CRM!"}, "name"),
    ({"url": "ftp://crm.example.com"}, "url"),
    ({"events": []}, "events"),
    ({"events": ["message.deleted"]}, "events"),
    ({"events": "message.received"}, "events"),
    ({"numbers": ["6289999999999"]}, "numbers"),
    ({"colour": "red"}, "colour"),
])
def test_a_wrong_setting_is_refused_naming_the_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config(**changes)
    assert refused.value.key == f"webhooks.subscriptions[0].{key}"


def test_names_are_unique() -> None:
    twice = {"name": "crm", "url": "https://crm.example.com/hook", "events": ["message.received"]}
    with pytest.raises(ConfigError) as refused:
        parse_config({"webhooks": {"subscriptions": [twice, twice]}}, base_dir=Path("."))
    assert refused.value.key == "webhooks.subscriptions[1].name"


def test_numbers_filter_events() -> None:
    everything = Subscription("a", "http://x", frozenset({"message.received"}))
    one = Subscription("b", "http://x", frozenset({"message.received"}), frozenset({A}))
    assert everything.wants("message.received", "qontak:acc-1") and not everything.wants("lead.created", A)
    assert one.wants("message.received", A) and not one.wants("message.received", "6281100000002")
    assert not one.wants("message.received", None)
