"""Signed HTTP POSTs for webhooks and conversion events (one aiohttp ClientSession).

Signature scheme (README "Verifying a webhook"): `X-Wabridge-Signature: sha256=<hex>`,
the HMAC-SHA256 with the endpoint's secret over `<X-Wabridge-Timestamp> + "." + <raw body>`.
Bodies and secrets are never logged; at most `SNIPPET_BYTES` of a response are read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver

from bridge.outbox.guard import AddressGuard, AddressRefused, GuardedResolver
from bridge.outbox.policy import parse_retry_after

SNIPPET_BYTES = 1024
USER_AGENT = "wabridge-webhooks/1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Wabridge-Signature value: sha256=HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_headers(*, event_id: str, event_type: str, timestamp: str, attempt: int, body: bytes,
                    secret: str | None) -> dict[str, str]:
    """Headers of one webhook attempt (the event id is the same on every attempt)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Wabridge-Event-Id": event_id,
        "X-Wabridge-Event": event_type,
        "X-Wabridge-Timestamp": timestamp,
        "X-Wabridge-Attempt": str(attempt),
    }
    if secret:
        headers["X-Wabridge-Signature"] = signature(secret, timestamp, body)
    return headers


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """What one POST came to: a status (with a snippet) or an error; `refused` = never tried."""

    status: int | None
    error: str | None = None
    snippet: str | None = None
    retry_after: float | None = None
    refused: bool = False


def _refusal(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return str(seen)
        inner = getattr(seen, "os_error", None)
        if isinstance(inner, AddressRefused):
            return str(inner)
        seen = seen.__cause__
    return None


class HttpSender:
    """POSTs with a total timeout, no redirects, no proxies from the environment."""

    def __init__(self, guard: AddressGuard, *, max_connections: int = 32,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 inner_resolver: AbstractResolver | None = None) -> None:
        self.guard = guard
        self.inner_resolver = inner_resolver  # tests: a fake DNS; default getaddrinfo in a thread
        self.max_connections = max_connections
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session (inside the running loop)."""
        resolver = GuardedResolver(self.guard, self.inner_resolver)
        connector = aiohttp.TCPConnector(resolver=resolver, limit=self.max_connections,
                                         ttl_dns_cache=10)
        self.session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)

    async def close(self) -> None:
        """Close the session."""
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> HttpOutcome:
        """One attempt; never raises for network trouble (it becomes the outcome's error)."""
        refused = self.guard.check_url(url)
        if refused:
            return HttpOutcome(None, f"refused: {refused}", refused=True)
        assert self.session is not None, "HttpSender.start() first"
        try:
            async with self.session.post(url, data=body, headers=dict(headers), allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                snippet = await _read_snippet(response)
                return HttpOutcome(response.status, None, snippet,
                                   parse_retry_after(response.headers.get("Retry-After"), self.clock()))
        except TimeoutError:
            return HttpOutcome(None, f"timed out after {timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            reason = _refusal(exc)
            if reason is not None:
                return HttpOutcome(None, reason, refused=True)
            return HttpOutcome(None, f"{type(exc).__name__}: {exc}"[:300])


async def _read_snippet(response: aiohttp.ClientResponse) -> str:
    data = b""
    while len(data) < SNIPPET_BYTES:
        part = await response.content.read(SNIPPET_BYTES - len(data))
        if not part:
            break
        data += part
    return data.decode("utf-8", "replace")
