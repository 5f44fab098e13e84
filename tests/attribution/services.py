"""The real attribution services (rotator clicks, partner hooks) over a SQLite store, for HTTP tests.

`db_call` runs the store function inline (no store thread), like the daemon's but synchronous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bridge.attribution.service import Attribution
from bridge.config import Config, parse_config
from bridge.partners.service import PartnerHooks
from engine.model import Workspace
from engine.rules import default_env
from engine.ruleset import RuleSet
from store.db import open_db
from store.processor import Processor
from store.rules import load_rules
from store.visitors import VisitorUpgrades

CLOUD_SECRET = "cloud-app-secret-0123456789abcdef"
VERIFY_TOKEN = "verify-me-please"
QONTAK_SECRET = "qontak-signing-secret-42"
PANCAKE_TOKEN = "pancake-shared-token-77"
NUMBERS = ("6281100000001", "6281100000002", "6281100000003")

BASE_CONFIG: dict[str, Any] = {
    "workspace": {"name": "Toko Budi"},
    "numbers": [{"phone": NUMBERS[0], "label": "CS Budi"}, {"phone": NUMBERS[1], "label": "CS Sari", "weight": 2},
                {"phone": NUMBERS[2], "label": "CS Ads", "rotator": "ads"}],
    "attribution": {"rate_limit_per_minute": 1000, "trusted_proxies": ["127.0.0.1"]},
    "rotators": {"default": {"greeting": "Halo kak, saya mau tanya {code}"},
                 "ads": {"greeting": "Promo? {code}", "strategy": "round_robin"}},
    "partners": {
        "whatsapp_cloud": {"app_secret": CLOUD_SECRET, "verify_token": VERIFY_TOKEN},
        "qontak": {"secret": QONTAK_SECRET, "header": "X-Qontak-Signature", "messages": "data",
                   "fields": {"id": "message_id", "customer": "room.account_uniq_id", "name": "sender.name",
                              "text": "text", "from_me": "is_agent", "room_tags": "room.tags"}},
        "pancake": {"secret": PANCAKE_TOKEN, "auth": "token", "header": "X-Pancake-Token"},
    },
}


class MovableClock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Services:
    """A store, the two services over it, and the knobs a test turns."""

    db: Database
    config: Config
    attribution: Attribution
    partners: PartnerHooks
    clock: MovableClock
    connected: set[str] = field(default_factory=set)
    wakes: list[int] = field(default_factory=list)
    mono: list[float] = field(default_factory=lambda: [1000.0])

    def process(self) -> int:
        """Flush clicks, then process the inbox as the daemon would; returns processed count."""
        self.attribution.flush_into(self.db)
        workspace: Workspace = self.config.workspace.to_workspace()
        loaded = load_rules(self.db, default_env(workspace.statuses))
        upgrades = VisitorUpgrades(workspace.name, overwrite=self.config.attribution.overwrite)
        processor = Processor(self.db, RuleSet(loaded.rules, workspace.statuses), workspace, self.clock,
                              upgrades=upgrades)
        return processor.run().processed


def make_services(path: Path | str = ":memory:", *, overrides: dict[str, Any] | None = None,
                  connected: Callable[[str], bool] | None = None) -> Services:
    """Build the services on a fresh (or existing) database file."""
    raw = {**BASE_CONFIG, **(overrides or {})}
    config = parse_config(raw, base_dir=Path("."))
    db = open_db(path)
    clock = MovableClock()
    holder: dict[str, Services] = {}

    async def db_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(db, *args, **kwargs)

    def is_connected(phone: str) -> bool:
        return connected(phone) if connected is not None else phone in holder["s"].connected

    attribution = Attribution(config, connected=is_connected, db_call=db_call, clock=clock,
                              monotonic=lambda: holder["s"].mono[0])
    partners = PartnerHooks(config.attribution, db_call=db_call, wake=lambda: holder["s"].wakes.append(1),
                            clock=clock)
    services = Services(db, config, attribution, partners, clock)
    holder["s"] = services
    return services
