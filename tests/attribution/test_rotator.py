"""bridge.attribution.rotator: number choice among CONNECTED numbers, bots, rate limits, the wa.me link."""

from __future__ import annotations

import ipaddress
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.attribution.rotator import RateLimiter, Rotator, client_address, greeting_text, is_bot, wa_link
from bridge.attribution.settings import RotatorConfig
from bridge.config import NumberConfig

A, B, C = "6281100000001", "6281100000002", "6281100000003"


def rotator(strategy: str = "weighted", weights: tuple[int, int, int] = (1, 1, 1)) -> Rotator:
    numbers = [NumberConfig(phone, rotator="default", weight=w) for phone, w in zip((A, B, C), weights, strict=True)]
    numbers.append(NumberConfig("6281199999999", rotator="other"))
    return Rotator(RotatorConfig("default", strategy=strategy), numbers)


def picks(r: Rotator, n: int, connected: set[str]) -> list[str | None]:
    return [r.pick(lambda p: p in connected) for _ in range(n)]


def test_equal_weights_are_round_robin_in_config_order() -> None:
    assert picks(rotator(), 6, {A, B, C}) == [A, B, C, A, B, C]


def test_only_connected_numbers_are_chosen() -> None:
    r = rotator()
    assert set(picks(r, 20, {A, C})) == {A, C}
    assert picks(r, 3, {B}) == [B, B, B]
    assert picks(r, 2, set()) == [None, None]
    assert r.phones == (A, B, C)  # the other rotator's number is not a member


def test_weights_share_the_clicks_smoothly() -> None:
    r = rotator(weights=(1, 2, 5))
    chosen = picks(r, 80, {A, B, C})
    assert Counter(chosen) == {A: 10, B: 20, C: 50}
    assert all(chosen[i:i + 3] != [C, C, C] for i in range(len(chosen) - 2))  # interleaved, no long runs


def test_weights_renormalise_over_the_connected_numbers() -> None:
    r = rotator(weights=(1, 3, 5))
    assert Counter(picks(r, 40, {A, B})) == {A: 10, B: 30}


def test_round_robin_strategy_ignores_weights() -> None:
    assert Counter(picks(rotator("round_robin", (1, 2, 5)), 30, {A, B, C})) == {A: 10, B: 10, C: 10}


def test_a_bot_does_not_move_the_rotation() -> None:
    r = rotator()
    assert r.pick(lambda p: True) == A
    assert r.pick(lambda p: True, advance=False) == B
    assert r.pick(lambda p: True, advance=False) == B
    assert r.pick(lambda p: True) == B


@pytest.mark.parametrize("agent", [
    None, "", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "WhatsApp/2.23.20.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Twitterbot/1.0", "TelegramBot (like TwitterBot)", "curl/8.4.0", "python-requests/2.31",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Slackbot-LinkExpanding 1.0",
])
def test_bots(agent: str | None) -> None:
    assert is_bot(agent)


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (Linux; Android 13; SM-A045F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 12; Redmi Note 11 Build/SKQ1; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/119.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/440.0.0.0;]",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
])
def test_people(agent: str) -> None:
    assert not is_bot(agent)


def test_rate_limiter_is_a_token_bucket_per_address() -> None:
    limiter = RateLimiter(3)
    assert [limiter.allow("1.2.3.4", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8", 0.0)  # another address has its own bucket
    assert limiter.retry_after("1.2.3.4") == 20  # one token per 20 s at 3/min
    assert not limiter.allow("1.2.3.4", 19.0)
    assert limiter.allow("1.2.3.4", 40.0)


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(1, max_clients=100)
    for i in range(1000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter._buckets) == 100


def test_client_address_trusts_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    assert client_address("203.0.113.9", "1.1.1.1", proxies) == "203.0.113.9"  # not a proxy: ignored
    assert client_address("127.0.0.1", "198.51.100.7, 10.1.2.3", proxies) == "198.51.100.7"
    assert client_address("127.0.0.1", None, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", "1.1.1.1", ()) == "127.0.0.1"  # no proxies configured


def test_greeting_and_link() -> None:
    assert greeting_text("Halo kak, saya mau tanya {code}", "K-7QX4") == "Halo kak, saya mau tanya [K-7QX4]"
    assert greeting_text("Halo {code} kak", None) == "Halo kak"
    link = urlsplit(wa_link(A, "Halo kak & co [K-7QX4]"))
    assert (link.scheme, link.netloc, link.path) == ("https", "wa.me", f"/{A}")
    assert parse_qs(link.query)["text"] == ["Halo kak & co [K-7QX4]"]
