"""Settings of attribution: [attribution], [rotators.NAME] and [partners.SOURCE].

Parsed by bridge.config through its section reader, so an unknown key or a wrong value is
refused with the key, the value and what was expected. Pure stdlib (bridge.config imports it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import MISSING, ConfigError
from bridge.settings_parse import HOURS_IN_10_YEARS, Section, flag, non_empty_text, one_of, positive_int

DEFAULT_GREETING = "Halo kak, saya mau tanya {code}"
STRATEGIES = ("weighted", "round_robin")
CLOUD_SOURCE = "whatsapp_cloud"
PARTNER_AUTH = ("hmac_sha256", "token")
# The generic partner message shape (README "Partner channels"); a source's [fields] maps
# each of these to a dotted path in that partner's JSON.
GENERIC_FIELDS = ("id", "customer", "from_me", "name", "text", "type", "timestamp", "has_media",
                  "reply_to", "room_tags", "ctwa_clid", "ad_id", "ad_url", "edit_of", "delete_of")
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_PLACEHOLDERS = frozenset({"change-me", "changeme", "secret", "token", "your-secret-here", "your-token-here"})


SectionFactory = Callable[[object, str], Section]


@dataclass(frozen=True, slots=True)
class RotatorConfig:
    """[rotators.NAME]: how the public link /r/NAME sends visitors to that rotator's numbers."""

    name: str
    greeting: str = DEFAULT_GREETING  # pre-filled WhatsApp text; {code} becomes the visitor code, e.g. [K-7F3Q]
    strategy: str = "weighted"  # weighted (number weights; all 1 = round robin) | round_robin
    source: str = "website"  # lead.source of visitors (visits with fbclid/gclid count as "ads")


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    """[partners.SOURCE]: one official-API partner posting to /hooks/SOURCE/CHANNEL."""

    source: str
    secret: str = field(repr=False)  # whatsapp_cloud: the app secret; others: HMAC key or shared token
    verify_token: str | None = field(default=None, repr=False)  # whatsapp_cloud GET handshake
    auth: str = "hmac_sha256"  # generic sources: hmac_sha256 (signature of the raw body) | token
    header: str = "X-Signature-256"  # generic sources: the header carrying the signature or token
    messages: str = ""  # generic sources: dotted path to the message (or list) in the body; "" = body
    fields: Mapping[str, str] = field(default_factory=dict)  # generic field -> dotted path
    channels: tuple[str, ...] = ()  # when set, only these channel ids are accepted

    @property
    def cloud(self) -> bool:
        """Whether this source speaks the WhatsApp Cloud API webhook format."""
        return self.source == CLOUD_SOURCE


@dataclass(frozen=True, slots=True)
class AttributionConfig:
    """[attribution] plus the rotator and partner tables."""

    visitor_ttl_hours: int = 168  # a visitor who never writes expires after this
    overwrite: bool = False  # may a visitor code replace a lead's earlier attribution?
    rate_limit_per_minute: int = 30  # rotator clicks per client address
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For is believed
    rotators: tuple[RotatorConfig, ...] = ()
    partners: tuple[PartnerConfig, ...] = ()

    def rotator(self, name: str) -> RotatorConfig | None:
        """The rotator with this name (its link slug)."""
        return next((r for r in self.rotators if r.name == name), None)

    def partner(self, source: str) -> PartnerConfig | None:
        """The partner source with this name."""
        return next((p for p in self.partners if p.source == source), None)


def _networks(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(key, value, 'a list of IP addresses or networks, e.g. ["127.0.0.1"]')
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise ConfigError(key, item, "an IP address or network such as 10.0.0.0/8") from None
    return tuple(str(item) for item in value)


def _greeting(value: Any, key: str) -> str:
    text = non_empty_text(value, key)
    if text.count("{code}") != 1 or len(text) > 1000:
        raise ConfigError(key, value, "a text of at most 1000 characters with {code} once (it becomes e.g. [K-7F3Q])")
    return text


def _secret(minimum: int) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        text = non_empty_text(value, key)
        if text.lower() in _PLACEHOLDERS:
            raise ConfigError(key, "(hidden)", "the real secret, not the value from config.example.toml")
        if len(text) < minimum:
            raise ConfigError(key, "(hidden)", f"at least {minimum} characters")
        return text

    return check


def _channels(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(key, value, "a list of channel ids (strings)")
    return tuple(v.strip() for v in value)


def _mapping(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a table of generic field = \"dotted.path\"")
    out: dict[str, str] = {}
    for name, path in value.items():
        if name not in GENERIC_FIELDS:
            raise ConfigError(f"{key}.{name}", path, f"a generic message field: {', '.join(GENERIC_FIELDS)}")
        out[name] = non_empty_text(path, f"{key}.{name}")
    return out


def _tables(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"[{key}.NAME] tables")
    return value


def _rotators(raw: Mapping[str, Any], section: SectionFactory, used: Sequence[str]) -> tuple[RotatorConfig, ...]:
    out: list[RotatorConfig] = []
    for name, item in raw.items():
        if name not in used:
            raise ConfigError(f"rotators.{name}", "(table)",
                              f'a rotator that [[numbers]] use (rotator = "{name}"); in use: {", ".join(used)}')
        sec = section(item, f"rotators.{name}")
        d = RotatorConfig(name)
        out.append(RotatorConfig(name, sec.get("greeting", d.greeting, _greeting),
                                 sec.get("strategy", d.strategy, one_of(STRATEGIES)),
                                 sec.get("source", d.source, non_empty_text)))
        sec.finish()
    # Every rotator the numbers name has a link, with defaults unless configured.
    out.extend(RotatorConfig(name) for name in used if name not in raw)
    return tuple(out)


def _partner(source: str, item: object, section: SectionFactory) -> PartnerConfig:
    path = f"partners.{source}"
    if not _SOURCE_NAME.match(source):
        raise ConfigError(path, "(table)", "a source name of lower-case letters, digits and _ (e.g. qontak)")
    sec = section(item, path)
    channels = sec.get("channels", (), _channels)
    if source == CLOUD_SOURCE:
        secret = sec.get("app_secret", MISSING, _secret(16))
        verify = sec.get("verify_token", MISSING, _secret(8))
        for key, got in (("app_secret", secret), ("verify_token", verify)):
            if got is MISSING:
                raise ConfigError(f"{path}.{key}", MISSING, "the value from your Meta app (WhatsApp > Configuration)")
        sec.finish()
        return PartnerConfig(source, secret, verify, channels=channels)
    secret = sec.get("secret", MISSING, _secret(16))
    if secret is MISSING:
        raise ConfigError(f"{path}.secret", MISSING, "the secret this partner signs or authenticates its webhooks with")
    d = PartnerConfig(source, secret)
    partner = PartnerConfig(source, secret, None, sec.get("auth", d.auth, one_of(PARTNER_AUTH)),
                            sec.get("header", d.header, non_empty_text),
                            sec.get("messages", "",
                                    lambda v, k: v.strip() if isinstance(v, str) else non_empty_text(v, k)),
                            sec.get("fields", {}, _mapping), channels)
    sec.finish()
    return partner


def parse_attribution_settings(top: Section, section: SectionFactory, rotators_used: Sequence[str]
                               ) -> AttributionConfig:
    """Read [attribution], [rotators.*] and [partners.*] (their keys are recorded on `top`)."""
    at = section(top.get("attribution", None, lambda v, k: v), "attribution")
    d = AttributionConfig()
    ttl = at.get("visitor_ttl_hours", d.visitor_ttl_hours, positive_int(HOURS_IN_10_YEARS))
    overwrite = at.get("overwrite", d.overwrite, flag)
    rate = at.get("rate_limit_per_minute", d.rate_limit_per_minute, positive_int(1_000_000))
    proxies = at.get("trusted_proxies", d.trusted_proxies, _networks)
    at.finish()
    used = list(dict.fromkeys(rotators_used))
    rotators = _rotators(top.get("rotators", {}, _tables), section, used)
    partners = tuple(_partner(source, item, section)
                     for source, item in top.get("partners", {}, _tables).items())
    return AttributionConfig(ttl, overwrite, rate, proxies, rotators, partners)
