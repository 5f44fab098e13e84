"""Pure pieces: the retry decision table, backoff, Retry-After, reply pacing, the address guard,
and the outbox settings in config.toml."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.outbox.guard import AddressGuard
from bridge.outbox.pacing import Pacer
from bridge.outbox.policy import RetryPolicy, backoff, judge_http, parse_retry_after
from bridge.outbox.settings import ReplySettings, WebhookSettings
from tests.outbox.conftest import make_config

POLICY = RetryPolicy()  # 10 s doubling to 1 h, 30 attempts, 24 h
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def judge(status: int | None, attempts: int = 1, age: float = 0.0, retry_after: float | None = None) -> str:
    return judge_http(status, None if status else "ClientConnectorError", attempts=attempts, age=age,
                      policy=POLICY, rng=random.Random(1), retry_after=retry_after).state


@pytest.mark.parametrize(("status", "state"), [
    (200, "delivered"), (204, "delivered"), (301, "dead"), (400, "dead"), (401, "dead"), (404, "dead"),
    (410, "dead"), (422, "dead"), (408, "failed"), (409, "failed"), (425, "failed"), (429, "failed"),
    (500, "failed"), (502, "failed"), (503, "failed"), (None, "failed"),
])
def test_which_outcomes_are_retried(status: int | None, state: str) -> None:
    assert judge(status) == state


def test_backoff_doubles_from_10s_to_1h_with_jitter() -> None:
    rng = random.Random(7)
    delays = [backoff(n, POLICY, rng) for n in range(1, 16)]
    nominal = [min(3600, 10 * 2 ** (n - 1)) for n in range(1, 16)]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * 0.8 <= delay <= min(3600, expected * 1.2)
    assert len({round(d, 3) for d in delays[:3]}) == 3


def test_give_up_on_attempts_or_age() -> None:
    assert judge(500, attempts=30) == "dead"
    assert judge(500, attempts=29) == "failed"
    assert judge(500, attempts=2, age=24 * 3600 - 5) == "dead"  # the next attempt would be past 24 h
    verdict = judge_http(429, None, attempts=1, age=0, policy=POLICY, rng=random.Random(1), retry_after=120)
    assert verdict.delay == 120


def test_retry_after_parsing() -> None:
    assert parse_retry_after("30", T0) == 30
    assert parse_retry_after("Mon, 23 Nov 2026 03:02:00 GMT", T0) == 120
    assert parse_retry_after("Mon, 23 Nov 2026 02:00:00 GMT", T0) == 0
    assert parse_retry_after("soon", T0) is None and parse_retry_after(None, T0) is None


def test_pacer_gap_and_hourly_cap() -> None:
    pacer = Pacer(ReplySettings(min_gap=5, jitter=0, hourly_cap=3))
    assert pacer.ready_at(T0) == (T0, None)
    pacer.record(T0)
    ready, reason = pacer.ready_at(T0 + timedelta(seconds=1))
    assert ready == T0 + timedelta(seconds=5) and reason and "minimum gap" in reason
    pacer.record(T0 + timedelta(seconds=5))
    pacer.record(T0 + timedelta(seconds=10))
    ready, reason = pacer.ready_at(T0 + timedelta(seconds=20))
    assert ready == T0 + timedelta(hours=1) and reason == "hourly cap of 3 replies reached"
    assert pacer.ready_at(T0 + timedelta(hours=1, seconds=1)) == (T0 + timedelta(hours=1, seconds=1), None)


@pytest.mark.parametrize(("address", "refused"), [
    ("93.184.216.34", False), ("127.0.0.1", False), ("::1", False), ("10.1.2.3", False), ("192.168.1.10", False),
    ("169.254.169.254", True), ("169.254.0.1", True), ("fe80::1", True), ("::ffff:169.254.169.254", True),
    ("fd00:ec2::254", True), ("100.100.100.200", True), ("64:ff9b::a9fe:a9fe", True), ("0.0.0.0", True),
    ("224.0.0.1", True), ("2002:a9fe:a9fe::1", True),
])
def test_address_guard_defaults(address: str, refused: bool) -> None:
    assert (AddressGuard(WebhookSettings()).check(ipaddress.ip_address(address)) is not None) is refused


def test_address_guard_options() -> None:
    strict = AddressGuard(WebhookSettings(allow_loopback=False, allow_private=False))
    assert "loopback" in str(strict.check(ipaddress.ip_address("127.0.0.1")))
    assert "private" in str(strict.check(ipaddress.ip_address("10.0.0.1")))
    assert "private" in str(strict.check(ipaddress.ip_address("100.64.0.1")))
    assert strict.check(ipaddress.ip_address("8.8.8.8")) is None


def test_outbox_settings_parse_and_refuse(tmp_path: Path) -> None:
    config = make_config(tmp_path, webhooks={"timeout": "500ms", "max_age": "2d", "concurrency": 8},
                         replies={"min_gap": 0, "hourly_cap": 10, "max_wait": "30m"},
                         conversions={"url": "https://graph.facebook.com/v21.0/1/events", "access_token": "EAAB" * 8,
                                      "on_status": "Purchase", "value_from": "lead.value_potential"},
                         outbox={"retention_days": 7})
    assert (config.webhooks.timeout, config.webhooks.max_age, config.webhooks.concurrency) == (0.5, 172800, 8)
    assert (config.replies.min_gap, config.replies.max_wait) == (0, 1800)
    assert config.conversions is not None and config.conversions.on_status == "purchase"
    assert config.conversions.value_from == "value_potential" and "EAAB" not in repr(config.conversions)
    assert config.outbox.retention_days == 7
    assert make_config(tmp_path).conversions is None
    for sections, key in [
        ({"webhooks": {"timeout": "soon"}}, "webhooks.timeout"),
        ({"webhooks": {"allow_link_local": "yes"}}, "webhooks.allow_link_local"),
        ({"webhooks": {"retry_base": "1h", "retry_max": "1m"}}, "webhooks.retry_max"),
        ({"webhooks": {"proxy": "x"}}, "webhooks.proxy"),
        ({"replies": {"hourly_cap": 0}}, "replies.hourly_cap"),
        ({"conversions": {"access_token": "abc"}}, "conversions.url"),
        ({"conversions": {"url": "ftp://x"}}, "conversions.url"),
        ({"conversions": {"url": "https://x/e", "on_status": "paid"}}, "conversions.on_status"),
        ({"conversions": {"url": "https://x/e", "value_from": "name"}}, "conversions.value_from"),
        ({"conversions": {"url": "https://x/e", "access_token": "change-me"}}, "conversions.access_token"),
        ({"outbox": {"retention": 3}}, "outbox.retention"),
    ]:
        with pytest.raises(ConfigError) as info:
            make_config(tmp_path, **sections)
        assert info.value.key == key, sections


def test_the_example_config_documents_the_defaults() -> None:
    from bridge.config import load_config
    from bridge.outbox.settings import OutboxSettings
    from tests.conftest import ROOT

    example = load_config(ROOT / "config.example.toml")
    assert (example.webhooks, example.replies, example.outbox) == (WebhookSettings(), ReplySettings(),
                                                                   OutboxSettings())
    assert example.conversions is None  # commented out: nothing is sent without it


def test_send_reply_cooldown_hours_is_validated_and_round_trips() -> None:
    from engine.errors import RuleSetError
    from engine.model import DEFAULT_STATUSES
    from engine.rules import default_env, parse_rules

    env = default_env(DEFAULT_STATUSES)
    (rule,) = parse_rules({"rules": [{"name": "r", "actions": [
        {"type": "send_reply", "text": "Halo {name}", "cooldown_hours": 24}]}]}, env)
    assert rule.to_dict()["actions"] == [{"type": "send_reply", "text": "Halo {name}", "cooldown_hours": 24}]
    for bad in (0, -1, "24", True, 10**6):
        with pytest.raises(RuleSetError) as info:
            parse_rules({"rules": [{"name": "r", "actions": [
                {"type": "send_reply", "text": "x", "cooldown_hours": bad}]}]}, env)
        assert info.value.errors[0].path == "rules[0].actions[0].cooldown_hours"
