"""How outbox entries are shown (CLI and HTTP API alike): signing status, short summaries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.config import Config
from store.outbox import ConversionPolicy, OutboxPolicy
from store.subscriptions import Subscription


def outbox_policy(config: Config) -> OutboxPolicy:
    """The store's queueing policy from config ([conversions])."""
    conv = config.conversions
    if conv is None:
        return OutboxPolicy()
    return OutboxPolicy(ConversionPolicy(conv.on_status, conv.event_name, conv.value_from, conv.currency,
                                         conv.whatsapp_business_account_id))


def signing(entry: Mapping[str, Any], config: Config,
            subscription_of: Callable[[str], Subscription | None] | None = None) -> str | None:
    """"signed" / "unsigned" for webhooks (a secret on the rule, its named endpoint or its
    subscription); None otherwise."""
    if entry.get("kind") != "webhook":
        return None
    if entry.get("rule_secret"):
        return "signed"
    subscription = entry.get("payload", {}).get("subscription")
    if subscription:
        lookup = subscription_of or (lambda n: next((s for s in config.subscriptions if s.name == n), None))
        found = lookup(str(subscription))
        return "signed" if found is not None and found.secret else "unsigned"
    name = entry.get("payload", {}).get("endpoint")
    endpoint = next((e for e in config.endpoints if e.name == name), None)
    return "signed" if endpoint is not None and endpoint.secret else "unsigned"


def describe(entry: Mapping[str, Any], config: Config,
             subscription_of: Callable[[str], Subscription | None] | None = None) -> dict[str, Any]:
    """An entry as the API and `outbox list --json` show it."""
    out = dict(entry)
    out["signing"] = signing(entry, config, subscription_of)
    return out


def summary_line(entry: Mapping[str, Any]) -> str:
    """One line of `wabridge outbox list`."""
    last = entry.get("last_error") or ""
    if entry.get("last_status") is not None:
        last = f"HTTP {entry['last_status']}" + (f" {last}" if last and not last.startswith("HTTP") else "")
    when = entry.get("delivered_at") if entry.get("state") == "delivered" else entry.get("next_attempt_at")
    return (f"{entry['id']:>6}  {entry['kind']:<10} {entry['state']:<9} {entry['attempts']:>3}  "
            f"{str(entry.get('target') or '')[:36]:<36} {entry.get('signing') or '-':<8} {str(when or '')[:19]:<19}  "
            f"{last[:70]}")


LIST_HEADER = (f"{'ID':>6}  {'KIND':<10} {'STATE':<9} {'TRY':>3}  {'TARGET':<36} {'SIGNING':<8} "
               f"{'NEXT/DELIVERED':<19}  LAST")
