"""What counts as a URL a webhook can be sent to (engine.text.is_web_url): the rules' send_webhook,
config.toml's endpoints and subscriptions, and the outbox's last check before sending all use it."""

from __future__ import annotations

import pytest

from engine.text import is_web_url


@pytest.mark.parametrize("url", [
    "https://crm.example.com/hook?a=1", "http://127.0.0.1:9/crm", "http://[::1]:8080/x", "http://localhost:8080",
    "https://user:pw@crm.example/h", "https://pasar.ä.example/h", "https://my_host.internal/h",
    "https://crm.example/a b?c=d e",  # the client encodes the path and query: a rule saved so keeps working
])
def test_a_web_url(url: str) -> None:
    assert is_web_url(url)


@pytest.mark.parametrize("url", [
    "ftp://crm.example/h", "javascript:alert(1)", "https://", "https:///nohost", "crm.example/hook",
    "http://[::1",  # urlsplit raises ValueError on it
    "http://crm example/h", "https://crm.exa\x00mple/h", "https://crm.example\t/h",  # in the host
    "https://crm.example:99999/h", "https://crm.example:0/h", "https://crm.example:port/h",
    "http://%zz/h", "http://a..b/h", "http://xn--/h", "http://-crm.example/h", "http://" + "a" * 64 + ".example/",
])
def test_not_a_web_url(url: str) -> None:
    assert not is_web_url(url)
