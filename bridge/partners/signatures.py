"""Is a partner request really from that partner? Each source has its own secret.

- WhatsApp Cloud API: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body with
  the Meta app secret.
- Generic sources, `auth = "hmac_sha256"`: the configured header carries the HMAC-SHA256 of
  the raw body with the source's secret, as `sha256=<hex>` or bare hex.
- Generic sources, `auth = "token"`: the configured header carries the secret itself
  (optionally as `Bearer <secret>`), for partners that cannot sign.
All comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from bridge.attribution.settings import PartnerConfig

CLOUD_HEADER = "X-Hub-Signature-256"


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>` of the body (what a partner sends; used by tests and docs)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _hmac_ok(secret: str, body: bytes, header_value: str | None) -> bool:
    if not header_value:
        return False
    given = header_value.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256="):]
    expected = sign(secret, body)[len("sha256="):]
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace"))


def _token_ok(secret: str, header_value: str | None) -> bool:
    if not header_value:
        return False
    given = header_value.strip()
    if given[:7].lower() == "bearer ":
        given = given[7:].strip()
    # Undecodable header bytes arrive as surrogates: compare them as the bytes they were.
    return hmac.compare_digest(secret.encode("utf-8"), given.encode("utf-8", "surrogateescape"))


def request_is_signed(partner: PartnerConfig, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether the request carries this source's valid signature (or token)."""
    if partner.cloud:
        return _hmac_ok(partner.secret, body, headers.get(CLOUD_HEADER))
    if partner.auth == "token":
        return _token_ok(partner.secret, headers.get(partner.header))
    return _hmac_ok(partner.secret, body, headers.get(partner.header))
