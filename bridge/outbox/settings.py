"""Settings of the outbox: [webhooks] delivery knobs, [replies] pacing, [conversions], [outbox].

Parsed by bridge.config through the same section reader as every other table, so an
unknown key or a wrong value is refused with the key, the value and what was expected.
Pure stdlib (bridge.config imports this module).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import ConfigError
from bridge.settings_parse import DAYS_IN_100_YEARS, SectionReader, flag, http_url, non_empty_text, positive_int

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
NUMERIC_LEAD_FIELDS = ("value_actual", "value_potential", "score")


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """[webhooks]: how webhooks (and conversion events) are delivered."""

    timeout: float = 10.0  # seconds for one request, connect to last byte
    max_attempts: int = 30  # give up after this many attempts ...
    max_age: float = 24 * 3600.0  # ... or this long after the entry was queued
    retry_base: float = 10.0  # first retry after ~10 s, doubling ...
    retry_max: float = 3600.0  # ... up to 1 h between attempts
    concurrency: int = 4  # requests in flight per endpoint
    max_in_flight: int = 32  # requests in flight in total
    max_body_bytes: int = 256 * 1024  # bigger bodies are dead-lettered, never sent
    allow_loopback: bool = True  # 127.0.0.0/8, ::1 (a receiver on the same machine)
    allow_private: bool = True  # 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10 (a CRM on the LAN)
    allow_link_local: bool = False  # 169.254/16, fe80::/10, cloud metadata: refused unless set


@dataclass(frozen=True, slots=True)
class ReplySettings:
    """[replies]: anti-ban pacing per admin number."""

    min_gap: float = 3.0  # seconds between two replies from one number
    jitter: float = 2.0  # plus a random 0..jitter s "typing" delay before each send
    hourly_cap: int = 60  # replies per number in any rolling hour
    max_wait: float = 3600.0  # a reply that cannot go out for this long is dead-lettered


@dataclass(frozen=True, slots=True)
class SendingSettings:
    """[sending]: messages people send (POST /api/messages, `wabridge send`, a lead's page)."""

    allow_groups: bool = False  # a group JID as `to` is refused unless this is true


@dataclass(frozen=True, slots=True)
class ConversionSettings:
    """[conversions]: Meta Conversions API for business messaging (click-to-WhatsApp ads)."""

    url: str
    access_token: str | None = field(default=None, repr=False)  # sent as a Bearer header, never stored
    on_status: str | None = None  # queue `event_name` when a lead reaches this status
    event_name: str = "Purchase"
    value_from: str = "value_actual"
    currency: str = "IDR"
    whatsapp_business_account_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """[outbox]: housekeeping."""

    retention_days: int = 30  # delivered entries older than this are purged (dead ones are kept)


MAX_DURATION = DAYS_IN_100_YEARS * 24 * 3600.0  # a timer, a timedelta and today minus it all hold it


def duration(value: Any, key: str) -> float:
    """Seconds from `10`, `0.5`, "500ms", "10s", "5m", "1h" or "7d" (more than 0, at most 100 years)."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds is None or not 0 < seconds <= MAX_DURATION:  # also NaN and inf (TOML has both)
        raise ConfigError(key, value,
                          f'a duration such as "500ms", "10s", "5m", "1h" or "7d", at most "{DAYS_IN_100_YEARS}d"')
    return seconds


def _seconds_or_zero(value: Any, key: str) -> float:
    if value == 0 or value == "0" or value == "0s":
        return 0.0
    return duration(value, key)


def parse_webhook_settings(section: SectionReader) -> WebhookSettings:
    """Read the delivery keys of [webhooks] (the endpoints are read by bridge.config)."""
    d = WebhookSettings()
    settings = WebhookSettings(
        timeout=section.get("timeout", d.timeout, duration),
        max_attempts=section.get("max_attempts", d.max_attempts, positive_int(1_000)),
        max_age=section.get("max_age", d.max_age, duration),
        retry_base=section.get("retry_base", d.retry_base, duration),
        retry_max=section.get("retry_max", d.retry_max, duration),
        concurrency=section.get("concurrency", d.concurrency, positive_int(1_000)),
        max_in_flight=section.get("max_in_flight", d.max_in_flight, positive_int(100_000)),
        max_body_bytes=section.get("max_body_bytes", d.max_body_bytes, positive_int(64 * 1024 * 1024)),
        allow_loopback=section.get("allow_loopback", d.allow_loopback, flag),
        allow_private=section.get("allow_private", d.allow_private, flag),
        allow_link_local=section.get("allow_link_local", d.allow_link_local, flag),
    )
    if settings.retry_max < settings.retry_base:
        raise ConfigError("webhooks.retry_max", settings.retry_max, f"at least retry_base ({settings.retry_base} s)")
    return settings


def parse_reply_settings(section: SectionReader) -> ReplySettings:
    """Read [replies]."""
    d = ReplySettings()
    return ReplySettings(
        min_gap=section.get("min_gap", d.min_gap, _seconds_or_zero),
        jitter=section.get("jitter", d.jitter, _seconds_or_zero),
        hourly_cap=section.get("hourly_cap", d.hourly_cap, positive_int(1_000_000)),
        max_wait=section.get("max_wait", d.max_wait, duration),
    )


def parse_sending_settings(section: SectionReader) -> SendingSettings:
    """Read [sending]."""
    return SendingSettings(allow_groups=section.get("allow_groups", False, flag))


def parse_conversion_settings(section: SectionReader, raw_present: bool,
                              statuses: Sequence[str]) -> ConversionSettings | None:
    """Read [conversions]; None when the table is absent (nothing is ever queued then)."""
    url = section.get("url", None, http_url)
    token = section.get("access_token", None, _secret)
    on_status = section.get("on_status", None, non_empty_text)
    event_name = section.get("event_name", "Purchase", non_empty_text)
    value_from = section.get("value_from", "value_actual", non_empty_text)
    currency = section.get("currency", "IDR", non_empty_text)
    waba = section.get("whatsapp_business_account_id", None, non_empty_text)
    if not raw_present:
        return None
    if url is None:
        raise ConfigError("conversions.url", None, "the Conversions API endpoint URL (remove [conversions] "
                          "to send nothing)")
    if on_status is not None:
        folded = {s.lower(): s for s in statuses}
        if on_status.lower() not in folded:
            raise ConfigError("conversions.on_status", on_status, f"one of the workspace statuses: "
                              f"{', '.join(statuses)}")
        on_status = folded[on_status.lower()]
    field_name = value_from.removeprefix("lead.")
    if field_name not in NUMERIC_LEAD_FIELDS:
        raise ConfigError("conversions.value_from", value_from, f"a numeric lead field: "
                          f"{', '.join(NUMERIC_LEAD_FIELDS)}")
    if len(currency) != 3 or not currency.isalpha():
        raise ConfigError("conversions.currency", currency, 'an ISO 4217 code such as "IDR"')
    return ConversionSettings(url, token, on_status, event_name, field_name, currency.upper(), waba)


def parse_outbox_settings(section: SectionReader) -> OutboxSettings:
    """Read [outbox]."""
    return OutboxSettings(retention_days=section.get("retention_days", 30, positive_int(DAYS_IN_100_YEARS)))


def _secret(value: Any, key: str) -> str:
    text = non_empty_text(value, key)
    if text.lower() in ("change-me", "changeme", "token", "secret", "your-token-here"):
        raise ConfigError(key, "(hidden)", "the real access token, not the example value")
    return text
