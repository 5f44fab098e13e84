"""Event webhook subscriptions in the shell: config.toml's (read-only) and the dashboard's
(SQLite), checked the same way, handed to the processor (what to queue) and to the
delivery (where to send, with which secret).

Why both: a workspace that keeps its setup in git writes `[[webhooks.subscriptions]]`; a
person without shell access adds one on the Webhooks screen. Names are unique across both;
a dashboard subscription can be removed there, a config one only in config.toml.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from bridge.errors import ConfigError
from bridge.settings_parse import SectionReader, http_url, non_empty_text
from store.subscriptions import (
    EVENT_TYPES,
    Subscription,
    delete_subscription,
    probe_event,
    queue_now,
    recent_deliveries,
    save_subscription,
    stored_subscriptions,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_SUBSCRIPTIONS = 50
FIELDS = ("name", "url", "secret", "events", "numbers")


def parse_subscription(section: SectionReader, index: int, numbers: Collection[str], source: str) -> Subscription:
    """One `[[webhooks.subscriptions]]` table (or a dashboard form): ConfigError names the key."""
    path = f"webhooks.subscriptions[{index}]"
    name = section.get("name", None, non_empty_text)
    if name is None or not NAME.match(name):
        raise ConfigError(f"{path}.name", name, "a name of a-z, 0-9, - and _ (up to 40 characters)")
    url = section.get("url", None, http_url)
    if url is None:
        raise ConfigError(f"{path}.url", None, "the receiver's http:// or https:// URL")
    secret = section.get("secret", None, non_empty_text)
    events = section.get("events", None, lambda v, k: v)
    if not isinstance(events, list) or not events or any(e not in EVENT_TYPES for e in events):
        raise ConfigError(f"{path}.events", events, f"a non-empty list of: {', '.join(EVENT_TYPES)}")
    raw_numbers = section.get("numbers", None, lambda v, k: v)
    chosen: frozenset[str] | None = None
    if raw_numbers is not None:
        if not isinstance(raw_numbers, list) or not raw_numbers or any(
                not isinstance(n, str) or "".join(c for c in n if c.isdigit()) not in numbers for n in raw_numbers):
            raise ConfigError(f"{path}.numbers", raw_numbers, f"a list of admin numbers from [[numbers]]: "
                              f"{', '.join(numbers) or 'none configured'}")
        chosen = frozenset("".join(c for c in n if c.isdigit()) for n in raw_numbers)
    return Subscription(name, url, frozenset(events), chosen, secret, source)


class _Form:
    """A dict read like a config section (the dashboard's JSON body)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def get(self, key: str, default: Any, check: Callable[[Any, str], Any]) -> Any:
        if key not in self.raw or self.raw[key] in (None, ""):
            return default
        return check(self.raw[key], key)


def merged(configured: Sequence[Subscription], stored: Sequence[Subscription]) -> tuple[Subscription, ...]:
    """Config ones first, then the dashboard's; a config name wins a clash."""
    taken = {s.name for s in configured}
    return tuple(configured) + tuple(s for s in stored if s.name not in taken)


class Subscriptions:
    """Every subscription; `changed` tells the processor when the set changes."""

    def __init__(self, configured: Sequence[Subscription], numbers: Collection[str],
                 db_call: Callable[..., Awaitable[Any]], *, workspace: str, clock: Callable[[], datetime],
                 wake: Callable[[], None], changed: Callable[[tuple[Subscription, ...]], None]) -> None:
        self.configured = tuple(configured)
        self.numbers = tuple(numbers)
        self.db_call = db_call
        self.workspace = workspace
        self.clock = clock
        self.wake = wake
        self.changed = changed
        self.stored: tuple[Subscription, ...] = ()

    def all(self) -> tuple[Subscription, ...]:
        """Config ones first, then the dashboard's, by name."""
        return self.configured + self.stored

    def get(self, name: str) -> Subscription | None:
        """The subscription of that name, if any."""
        return next((s for s in self.all() if s.name == name), None)

    async def load(self) -> None:
        """Read the dashboard's subscriptions (at start; a config name wins a clash)."""
        stored = await self.db_call(stored_subscriptions)
        self.stored = merged(self.configured, stored)[len(self.configured):]
        self.changed(self.all())

    async def add(self, body: Mapping[str, Any]) -> Subscription:
        """Add a dashboard subscription; ValueError (with the field first) when it is not valid."""
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise ValueError(f"{unknown[0]}: not a field of a subscription (known: {', '.join(FIELDS)})")
        try:
            subscription = parse_subscription(_Form(body), 0, self.numbers, "dashboard")
        except ConfigError as exc:
            key = exc.key.rsplit(".", 1)[-1]
            raise ValueError(f"{key}: expected {exc.expected}") from None
        if self.get(subscription.name) is not None:
            raise ValueError(f"name: a subscription named {subscription.name!r} exists already")
        if len(self.all()) >= MAX_SUBSCRIPTIONS:
            raise ValueError(f"name: at most {MAX_SUBSCRIPTIONS} subscriptions")
        await self.db_call(save_subscription, subscription, self.clock())
        await self.load()
        return subscription

    async def remove(self, name: str) -> bool:
        """Remove a dashboard subscription (PermissionError for a config one); False if unknown.

        Its waiting deliveries then die with "no subscription named … any more"."""
        found = self.get(name)
        if found is None:
            return False
        if found.source == "config":
            raise PermissionError(f"{name!r} is in config.toml: remove it there")
        await self.db_call(delete_subscription, name)
        await self.load()
        self.wake()
        return True

    async def test(self, name: str) -> int:
        """Queue a `webhook.test` event to this subscription; LookupError if unknown."""
        found = self.get(name)
        if found is None:
            raise LookupError(f"no subscription named {name!r}")
        await self.db_call(queue_now, [probe_event(name)], [found], workspace=self.workspace, now=self.clock())
        self.wake()
        deliveries = await self.db_call(recent_deliveries, name, 1)
        return int(deliveries[0]["id"]) if deliveries else 0

    async def deliveries(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        """The subscription's latest deliveries, newest first."""
        return await self.db_call(recent_deliveries, name, limit)  # type: ignore[no-any-return]

    def describe(self) -> list[dict[str, Any]]:
        """Every subscription as the API shows it (no secrets)."""
        return [s.to_dict() for s in self.all()]
