"""config.toml → typed, frozen settings. Unknown keys and wrong values are refused with
the key, the value and what was expected; every setting has a safe default.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.attribution.settings import AttributionConfig, parse_attribution_settings
from bridge.backup.settings import BackupConfig, parse_backup_settings
from bridge.errors import MISSING, ConfigError
from bridge.history.settings import HistorySettings, parse_history_settings
from bridge.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bridge.outbox.settings import (
    ConversionSettings,
    OutboxSettings,
    ReplySettings,
    SendingSettings,
    WebhookSettings,
    parse_conversion_settings,
    parse_outbox_settings,
    parse_reply_settings,
    parse_sending_settings,
    parse_webhook_settings,
)
from bridge.outbox.subscriptions import parse_subscription
from bridge.settings_parse import DAYS_IN_100_YEARS, SECONDS_IN_A_DAY, http_url, non_empty_text, positive_int
from engine.model import DEFAULT_STATUSES, Workspace
from store.subscriptions import Subscription

# Example values that must never reach production (mautrix's "forbidden defaults").
FORBIDDEN_TOKENS = frozenset({"change-me", "changeme", "secret", "token", "your-token-here"})


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    """[workspace]"""

    name: str = "My Workspace"
    timezone: str = "Asia/Jakarta"
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    language: str = DEFAULT_LANGUAGE  # the pages' default; each browser can switch in the header

    def to_workspace(self) -> Workspace:
        """The engine's view of the workspace."""
        return Workspace(self.name, ZoneInfo(self.timezone), self.statuses)


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """[store]"""

    data_dir: Path = Path("./data")
    rule_run_retention_days: int = 30

    @property
    def db_path(self) -> Path:
        """The wabridge database inside the data directory."""
        return self.data_dir / "wabridge.db"


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """[http]"""

    listen: str = "127.0.0.1:8787"
    token: str | None = None
    public_url: str | None = None
    # Connections that cost a file descriptor and do nothing are closed (README "Limits").
    idle_timeout_seconds: int = 15  # no request yet, between requests, or headers still arriving
    body_timeout_seconds: int = 30  # a request body still arriving
    max_connections: int = 256  # open at once; more are answered 503 and closed

    @property
    def host(self) -> str:
        """The bind address."""
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The bind port."""
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class NumberConfig:
    """[[numbers]]: one rotator admin (CS) number."""

    phone: str
    label: str = ""
    rotator: str = "default"
    weight: int = 1


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """[webhooks.endpoints.NAME]"""

    name: str
    url: str
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """[logging]"""

    level: str = "INFO"
    format: str = "auto"  # auto: console on a terminal, JSON otherwise


@dataclass(frozen=True, slots=True)
class Config:
    """The whole config.toml."""

    workspace: WorkspaceConfig = WorkspaceConfig()
    store: StoreConfig = StoreConfig()
    http: HttpConfig = HttpConfig()
    numbers: tuple[NumberConfig, ...] = ()
    endpoints: tuple[EndpointConfig, ...] = ()
    logging: LoggingConfig = LoggingConfig()
    source: Path | None = None
    webhooks: WebhookSettings = WebhookSettings()
    replies: ReplySettings = ReplySettings()
    conversions: ConversionSettings | None = None
    outbox: OutboxSettings = OutboxSettings()
    sending: SendingSettings = SendingSettings()
    subscriptions: tuple[Subscription, ...] = ()  # [[webhooks.subscriptions]]
    attribution: AttributionConfig = AttributionConfig()  # [attribution], [rotators.*], [partners.*]
    history: HistorySettings = HistorySettings()  # [history]
    backup: BackupConfig = BackupConfig()  # [backup]: Litestream replication

    def number(self, phone: str) -> NumberConfig | None:
        """The configured admin number with these digits, if any."""
        digits = normalise_phone(phone)
        return next((n for n in self.numbers if n.phone == digits), None)

    def endpoint_names(self) -> frozenset[str]:
        """Names of the configured webhook endpoints."""
        return frozenset(e.name for e in self.endpoints)


def normalise_phone(phone: str) -> str:
    """Digits only: "+62 811-0000-0001" → "6281100000001"."""
    return "".join(ch for ch in phone if ch.isdigit())


class _Section:
    """Reads one TOML table, remembering which keys were used, so leftovers are refused."""

    def __init__(self, raw: object, path: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(path, raw, "a table")
        self.raw: Mapping[str, Any] = raw
        self.path = path
        self.used: set[str] = set()

    def get(self, key: str, default: Any, check: Callable[[Any, str], Any]) -> Any:
        self.used.add(key)
        if key not in self.raw:
            return default
        return check(self.raw[key], f"{self.path}.{key}" if self.path else key)

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            key = f"{self.path}.{unknown[0]}" if self.path else unknown[0]
            raise ConfigError(key, self.raw[unknown[0]], f"no such setting (known: {', '.join(sorted(self.used))})")


def _timezone(value: Any, key: str) -> str:
    name = non_empty_text(value, key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key, value, "an IANA timezone such as Asia/Jakarta") from None
    return name


def _statuses(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(key, value, "a non-empty list of status names")
    seen: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or item.strip().lower() in seen:
            raise ConfigError(key, value, "distinct, non-empty status names")
        seen.append(item.strip().lower())
    return tuple(seen)


def _listen(value: Any, key: str) -> str:
    text = non_empty_text(value, key)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ConfigError(key, value, 'host:port, e.g. "127.0.0.1:8787"')
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host != "localhost":
            raise ConfigError(key, value, "an IP address (or localhost) and a port") from None
    return text


def _token(value: Any, key: str) -> str:
    text = non_empty_text(value, key)
    if text.lower() in FORBIDDEN_TOKENS:
        raise ConfigError(key, "(hidden)", "a real secret, not the example value; remove the "
                          "line to have one generated into <data_dir>/api-token")
    if len(text) < 16:
        raise ConfigError(key, "(hidden)", "at least 16 characters")
    return text


def _phone(value: Any, key: str) -> str:
    digits = normalise_phone(value) if isinstance(value, str) else ""
    if not 8 <= len(digits) <= 15:
        raise ConfigError(key, value, "a phone number in international form, e.g. 6281100000001")
    return digits


def _level(value: Any, key: str) -> str:
    text = non_empty_text(value, key).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(key, value, "one of DEBUG, INFO, WARNING, ERROR")
    return text


def _language(value: Any, key: str) -> str:
    text = non_empty_text(value, key).lower()
    if text not in LANGUAGES:
        raise ConfigError(key, value, "one of " + ", ".join(f'"{code}"' for code in LANGUAGES))
    return text


def _log_format(value: Any, key: str) -> str:
    text = non_empty_text(value, key).lower()
    if text not in ("auto", "json", "console"):
        raise ConfigError(key, value, "one of auto, json, console")
    return text


def parse_config(raw: Mapping[str, Any], *, base_dir: Path, source: Path | None = None) -> Config:
    """Build a Config from parsed TOML; relative data_dir is relative to the config file."""
    top = _Section(raw, "")
    ws = _Section(top.get("workspace", None, lambda v, k: v), "workspace")
    workspace = WorkspaceConfig(
        name=ws.get("name", "My Workspace", non_empty_text),
        timezone=ws.get("timezone", "Asia/Jakarta", _timezone),
        statuses=ws.get("statuses", DEFAULT_STATUSES, _statuses),
        language=ws.get("language", DEFAULT_LANGUAGE, _language),
    )
    ws.finish()
    st = _Section(top.get("store", None, lambda v, k: v), "store")
    data_dir = Path(st.get("data_dir", "./data", non_empty_text)).expanduser()
    if not data_dir.is_absolute():
        data_dir = (base_dir / data_dir).resolve()
    store = StoreConfig(data_dir, st.get("rule_run_retention_days", 30, positive_int(DAYS_IN_100_YEARS)))
    st.finish()
    ht = _Section(top.get("http", None, lambda v, k: v), "http")
    http = HttpConfig(
        listen=ht.get("listen", "127.0.0.1:8787", _listen),
        token=ht.get("token", None, _token),
        public_url=ht.get("public_url", None, http_url),
        idle_timeout_seconds=ht.get("idle_timeout_seconds", 15, positive_int(SECONDS_IN_A_DAY)),
        body_timeout_seconds=ht.get("body_timeout_seconds", 30, positive_int(SECONDS_IN_A_DAY)),
        max_connections=ht.get("max_connections", 256, positive_int(100_000)),
    )
    ht.finish()
    numbers: list[NumberConfig] = []
    raw_numbers = top.get("numbers", [], lambda v, k: v)
    if not isinstance(raw_numbers, list):
        raise ConfigError("numbers", raw_numbers, "[[numbers]] tables")
    for index, item in enumerate(raw_numbers):
        sec = _Section(item, f"numbers[{index}]")
        number = NumberConfig(
            phone=sec.get("phone", MISSING, _phone),
            label=sec.get("label", "", lambda v, k: non_empty_text(v, k)),
            rotator=sec.get("rotator", "default", non_empty_text),
            weight=sec.get("weight", 1, positive_int(1_000_000)),
        )
        if number.phone is MISSING:
            raise ConfigError(f"numbers[{index}].phone", MISSING, "the admin number's phone digits")
        if any(n.phone == number.phone for n in numbers):
            raise ConfigError(f"numbers[{index}].phone", number.phone, "each number listed once")
        sec.finish()
        numbers.append(number)
    wh = _Section(top.get("webhooks", None, lambda v, k: v), "webhooks")
    endpoints: list[EndpointConfig] = []
    raw_endpoints = wh.get("endpoints", {}, lambda v, k: v)
    if not isinstance(raw_endpoints, Mapping):
        raise ConfigError("webhooks.endpoints", raw_endpoints, "[webhooks.endpoints.NAME] tables")
    for name, item in raw_endpoints.items():
        sec = _Section(item, f"webhooks.endpoints.{name}")
        endpoints.append(EndpointConfig(
            name=name,
            url=sec.get("url", MISSING, http_url),
            secret=sec.get("secret", None, non_empty_text),
        ))
        if endpoints[-1].url is MISSING:
            raise ConfigError(f"webhooks.endpoints.{name}.url", MISSING, "the receiver's URL")
        sec.finish()
    raw_subscriptions = wh.get("subscriptions", [], lambda v, k: v)
    if not isinstance(raw_subscriptions, list):
        raise ConfigError("webhooks.subscriptions", raw_subscriptions, "[[webhooks.subscriptions]] tables")
    subscriptions: list[Subscription] = []
    for index, item in enumerate(raw_subscriptions):
        sec = _Section(item, f"webhooks.subscriptions[{index}]")
        subscriptions.append(parse_subscription(sec, index, [n.phone for n in numbers], "config"))
        sec.finish()
        if any(s.name == subscriptions[-1].name for s in subscriptions[:-1]):
            raise ConfigError(f"webhooks.subscriptions[{index}].name", subscriptions[-1].name, "a name used once")
    webhooks = parse_webhook_settings(wh)
    wh.finish()
    lg = _Section(top.get("logging", None, lambda v, k: v), "logging")
    logging = LoggingConfig(lg.get("level", "INFO", _level), lg.get("format", "auto", _log_format))
    lg.finish()
    rp = _Section(top.get("replies", None, lambda v, k: v), "replies")
    replies = parse_reply_settings(rp)
    rp.finish()
    raw_conversions = top.get("conversions", None, lambda v, k: v)
    cv = _Section(raw_conversions, "conversions")
    conversions = parse_conversion_settings(cv, raw_conversions is not None, workspace.statuses)
    cv.finish()
    ob = _Section(top.get("outbox", None, lambda v, k: v), "outbox")
    outbox = parse_outbox_settings(ob)
    ob.finish()
    sd = _Section(top.get("sending", None, lambda v, k: v), "sending")
    sending = parse_sending_settings(sd)
    sd.finish()
    attribution = parse_attribution_settings(top, _Section, [n.rotator for n in numbers])
    hs = _Section(top.get("history", None, lambda v, k: v), "history")
    history = parse_history_settings(hs)
    hs.finish()
    bk = _Section(top.get("backup", None, lambda v, k: v), "backup")
    backup = parse_backup_settings(bk)
    bk.finish()
    top.finish()
    return Config(workspace, store, http, tuple(numbers), tuple(endpoints), logging, source,
                  webhooks=webhooks, replies=replies, conversions=conversions, outbox=outbox,
                  sending=sending, subscriptions=tuple(subscriptions), attribution=attribution,
                  history=history, backup=backup)


def load_config(path: Path | None, *, data_dir: Path | None = None) -> Config:
    """Load config.toml (defaults when `path` is None); `data_dir` overrides [store].data_dir."""
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("--config", str(path), "an existing config.toml file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), "(file)", f"valid TOML ({exc})") from None
        base = path.resolve().parent
    config = parse_config(raw, base_dir=base, source=path)
    if data_dir is not None:
        store = StoreConfig(data_dir.expanduser().resolve(), config.store.rule_run_retention_days)
        config = replace(config, store=store)  # keeps every other section as parsed
    return config
