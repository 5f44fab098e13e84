"""Rotator links, the parts that need no database: which admin number a click goes to, who is a
bot, how fast one address may click, and the wa.me link with the pre-filled greeting.

Everything here runs on the event loop per click and must stay in the microseconds.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from bridge.attribution.settings import RotatorConfig
from bridge.config import NumberConfig

Connected = Callable[[str], bool]

# Link previews, crawlers, uptime checkers and scripts: redirected, but no visitor is created.
_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrap|preview|facebookexternalhit|facebookcatalog|meta-external|whatsapp|"
    r"telegram|skypeuripreview|embedly|quora link|pinterest|bitlybot|vkshare|headless|phantomjs|lighthouse|"
    r"curl/|wget/|python-|aiohttp|httpx|go-http-client|okhttp|java/|libwww|node-fetch|axios|postman|"
    r"monitor|uptime|pingdom|check_http",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None) -> bool:
    """Whether a user agent looks automated (no user agent at all counts as one)."""
    return not user_agent or not user_agent.strip() or _BOT.search(user_agent) is not None


@dataclass(slots=True)
class _Member:
    phone: str
    weight: int
    current: int = 0  # smooth weighted round robin state (nginx's algorithm)


class Rotator:
    """One rotator's admin numbers and whose turn it is (in memory; a restart starts over)."""

    def __init__(self, config: RotatorConfig, numbers: Sequence[NumberConfig]) -> None:
        self.config = config
        self.name = config.name
        weighted = config.strategy == "weighted"
        self._members = [_Member(n.phone, n.weight if weighted else 1) for n in numbers if n.rotator == config.name]
        self.phones = tuple(m.phone for m in self._members)
        self.weights = {m.phone: m.weight for m in self._members}

    def pick(self, connected: Connected, *, advance: bool = True) -> str | None:
        """The next CONNECTED number (smooth weighted round robin), or None if none is connected.

        Disconnected numbers are skipped without losing their place; `advance=False` (bots)
        answers without moving the rotation.
        """
        live = [m for m in self._members if connected(m.phone)]
        if not live:
            return None
        total = sum(m.weight for m in live)
        best = max(live, key=lambda m: m.current + m.weight)
        if advance:
            for member in live:
                member.current += member.weight
            best.current -= total
        return best.phone


def build_rotators(configured: Sequence[RotatorConfig], numbers: Sequence[NumberConfig]) -> dict[str, Rotator]:
    """Every rotator the numbers name: configured ones with their settings, the others with defaults."""
    by_name = {r.name: r for r in configured}
    names = dict.fromkeys([*by_name, *(n.rotator for n in numbers)])
    return {name: Rotator(by_name.get(name) or RotatorConfig(name), numbers) for name in names}


class RateLimiter:
    """A token bucket per client address: `per_minute` clicks, refilled continuously.

    Memory is bounded: the least recently seen addresses are forgotten first.
    """

    def __init__(self, per_minute: int, *, max_clients: int = 50_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        """Take one token for `client` at monotonic time `now`; False when it has none left."""
        tokens, last = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` has a token again."""
        tokens, _ = self._buckets.get(client, (self.capacity, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))


def client_address(remote: str | None, forwarded_for: str | None,
                   trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The visitor's address: the peer, or (behind a trusted proxy) the last untrusted X-Forwarded-For hop."""
    address = remote or "unknown"
    if not trusted or not forwarded_for or not _in(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _in(hop, trusted):
            return hop
    return address


def _in(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def greeting_text(template: str, code: str | None) -> str:
    """The pre-filled message: `{code}` becomes the visitor code, e.g. `[K-7F3Q]` (or goes when none)."""
    if code is None:
        return " ".join(template.replace("{code}", "").split())
    return template.replace("{code}", f"[{code}]")


def wa_link(phone: str, text: str) -> str:
    """`https://wa.me/<number>?text=<greeting>` (wa.me wants digits only and a percent-encoded text)."""
    return f"https://wa.me/{phone}?text={quote(text, safe='')}"
