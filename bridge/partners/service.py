"""Partner webhooks end to end: check the signature, normalise, commit to the same inbox.

Messages keep the inbox's guarantees: a partner that retries a delivery re-sends the same
message ids, and the inbox key (session `<source>:<channel>`, chat, id) drops the copies;
the lead is the customer's phone, so a partner message and a linked-device message from
one phone land on one lead. A refused request changes nothing (it is only logged and counted
in memory for the channel report).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from bridge.attribution.settings import AttributionConfig, PartnerConfig
from bridge.metrics import UNKNOWN_SOURCE, Metrics, reason_code
from bridge.partners import cloud, generic
from bridge.partners.errors import PartnerError, PayloadError, UnreadableMessage
from bridge.partners.signatures import request_is_signed
from engine.model import Message, MessageFormatError, parse_message
from store.inbox import record_unreadable
from store.partners import ingest_partner, partner_channels, record_verified

log = structlog.get_logger(__name__)

DbCall = Callable[..., Awaitable[Any]]
_MAX_CHALLENGE = 200


class PartnerHooks:
    """`/hooks/{source}/{channel}`: the Cloud API handshake and signed message deliveries."""

    def __init__(self, config: AttributionConfig, *, db_call: DbCall, wake: Callable[[], None],
                 clock: Callable[[], datetime], metrics: Metrics | None = None) -> None:
        self.partners = {p.source: p for p in config.partners}
        self.metrics = metrics or Metrics()
        self.db_call = db_call
        self.wake = wake
        self.clock = clock
        self._refused: dict[tuple[str, str], tuple[int, datetime]] = {}

    def _partner(self, source: str, channel: str) -> PartnerConfig:
        partner = self.partners.get(source)
        if partner is None:
            self.metrics.partner_refused.labels(source=UNKNOWN_SOURCE, reason="unknown_source").inc()
            raise PartnerError(404, "unknown_source", f"no [partners.{source}] in config.toml")
        if partner.channels and channel not in partner.channels:
            self.metrics.partner_refused.labels(source=source, reason="unknown_channel").inc()
            raise PartnerError(404, "unknown_channel", f"channel {channel!r} is not in partners.{source}.channels")
        return partner

    async def handshake(self, source: str, channel: str, query: Mapping[str, str]) -> str:
        """Cloud API GET verification: echo `hub.challenge` when `hub.verify_token` matches."""
        partner = self._partner(source, channel)
        if not partner.cloud or partner.verify_token is None:
            raise PartnerError(405, "method_not_allowed", f"{source} has no GET verification handshake")
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe" or not _same(token, partner.verify_token):
            self._refuse(source, channel, "verify_token")
            raise PartnerError(403, "forbidden", "hub.mode must be subscribe and hub.verify_token must match")
        challenge = query.get("hub.challenge", "")
        if not challenge or len(challenge) > _MAX_CHALLENGE or not challenge.isprintable():
            raise PartnerError(400, "bad_request", "hub.challenge is missing or not a short text")
        await self.db_call(record_verified, source, channel, self.clock())
        log.info("partner_verified", source=source, channel=channel)
        return challenge

    async def receive(self, source: str, channel: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """A POST: refuse unsigned (401), else commit its messages and wake the processor."""
        partner = self._partner(source, channel)
        if not request_is_signed(partner, headers, body):
            self._refuse(source, channel, "signature")
            raise PartnerError(401, "unauthorized", "missing or wrong signature for this source")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.metrics.partner_refused.labels(source=source, reason="not_json").inc()
            raise PartnerError(400, "bad_request", "the body is not JSON") from None
        except RecursionError:  # [[[[…: nested past the parser's depth (a body is at most 256 KiB)
            self.metrics.partner_refused.labels(source=source, reason="not_json").inc()
            raise PartnerError(400, "bad_request", "the body is nested too deeply to read") from None
        now = self.clock()
        try:
            items = list(cloud.normalise(payload, url_channel=channel, received_at=now) if partner.cloud
                         else generic.normalise(payload, partner, channel=channel, received_at=now))
        except PayloadError as exc:
            self.metrics.partner_refused.labels(source=source, reason="bad_payload").inc()
            raise PartnerError(400, "bad_request", str(exc)) from None
        messages: list[Message] = []
        unreadable: list[tuple[str, str, str, str]] = []
        # An unreadable item is kept under its message id, else its content's hash: a retried delivery
        # (partners retry on a slow answer) records it once (store.inbox.record_unreadable).
        for item in items:
            if isinstance(item, UnreadableMessage):
                unreadable.append((f"{source}:{channel}", item.reference or _content_reference(item.raw), item.raw,
                                   item.reason))
                continue
            try:
                messages.append(parse_message(item))
            except MessageFormatError as exc:
                raw = json.dumps(item)
                reference = str(item.get("id") or _content_reference(raw))
                unreadable.append((str(item["session"]), reference, raw, f"malformed message: {exc}"))
        results = await self.db_call(ingest_partner, source, channel, messages, now)
        self.metrics.partner_requests.labels(source=source).inc()
        for session, reference, raw, error in unreadable:
            self.metrics.messages_unreadable.labels(source=source, reason=reason_code(error)).inc()
            log.warning("partner_message_unreadable", source=source, channel=channel, error=error)
            await self.db_call(record_unreadable, session, reference, raw, error, now)
        accepted = sum(1 for r in results if not r.duplicate)
        if accepted:
            self.metrics.partner_messages.labels(source=source).inc(accepted)
            self.wake()
        log.info("partner_request", source=source, channel=channel, accepted=accepted,
                 duplicates=len(results) - accepted, unreadable=len(unreadable))
        return {"ok": True, "accepted": accepted, "duplicates": len(results) - accepted,
                "unreadable": len(unreadable)}

    def _refuse(self, source: str, channel: str, reason: str) -> None:
        count, _ = self._refused.get((source, channel), (0, self.clock()))
        if len(self._refused) < 10_000:  # bounded: a flood of made-up channels must not grow memory
            self._refused[(source, channel)] = (count + 1, self.clock())
        self.metrics.partner_refused.labels(source=source, reason=reason).inc()
        log.warning("partner_request_refused", source=source, channel=channel, reason=reason)

    async def channels(self) -> list[dict[str, Any]]:
        """Verify connection: per channel, whether a signed request arrived and when."""
        rows = await self.db_call(partner_channels)
        seen = set()
        out: list[dict[str, Any]] = []
        for row in rows:
            key = (row["source"], row["channel"])
            seen.add(key)
            refused, refused_at = self._refused.get(key, (0, None))
            out.append({**row, "configured": row["source"] in self.partners,
                        "active": row["last_signed_at"] is not None,
                        "refused": refused, "last_refused_at": refused_at.isoformat() if refused_at else None})
        for (source, channel), (refused, refused_at) in sorted(self._refused.items()):
            if (source, channel) not in seen:
                out.append({"source": source, "channel": channel, "verified_at": None, "last_signed_at": None,
                            "requests": 0, "messages": 0, "configured": source in self.partners, "active": False,
                            "refused": refused, "last_refused_at": refused_at.isoformat()})
        for source in sorted(self.partners):
            if not any(item["source"] == source for item in out):
                out.append({"source": source, "channel": None, "verified_at": None, "last_signed_at": None,
                            "requests": 0, "messages": 0, "configured": True, "active": False,
                            "refused": 0, "last_refused_at": None})
        return out


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _content_reference(raw: str) -> str:
    """An id for an unreadable item that names none: the same item always gets the same one."""
    return "unreadable-" + hashlib.sha256(raw.encode()).hexdigest()[:32]
