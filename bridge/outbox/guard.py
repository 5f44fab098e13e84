"""Where webhooks may go: http(s) only, and never to link-local or cloud-metadata addresses
unless config allows it. Checked when the request is made, on the address actually
connected to (the resolver below), so DNS rebinding cannot slip a metadata address in.

Defaults ([webhooks]): loopback allowed (a receiver on the same machine), private networks
allowed (a CRM on the LAN), link-local/metadata refused. Unspecified, multicast and
reserved addresses are always refused.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bridge.outbox.settings import WebhookSettings
from engine.text import is_web_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services outside 169.254.0.0/16: AWS IPv6, Alibaba Cloud.
METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(OSError):
    """A webhook host that resolves to an address config does not allow."""


class AddressGuard:
    """Decides whether an address may receive webhooks."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.allow_loopback = settings.allow_loopback
        self.allow_private = settings.allow_private
        self.allow_link_local = settings.allow_link_local

    def check(self, ip: IPAddress) -> str | None:
        """None if allowed, else why not."""
        for embedded in _embedded_ipv4(ip):
            refused = self.check(embedded)
            if refused:
                return refused
        if ip.is_link_local or any(ip in net for net in METADATA if net.version == ip.version):
            return None if self.allow_link_local else \
                f"{ip} is a link-local/metadata address (allow with [webhooks] allow_link_local = true)"
        if ip.is_loopback:  # before is_reserved: ::1 lies in the reserved ::/8
            return None if self.allow_loopback else \
                f"{ip} is a loopback address (allow with [webhooks] allow_loopback = true)"
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved or (ip.version == 4 and ip in THIS_NETWORK):
            return f"{ip} is not a unicast address"
        if ip.is_private or (ip.version == 4 and ip in CGNAT):
            return None if self.allow_private else \
                f"{ip} is a private-network address (allow with [webhooks] allow_private = true)"
        return None

    def check_url(self, url: str) -> str | None:
        """None if the URL may be tried (a host name is checked again when resolved), else why not."""
        if not is_web_url(url):  # also what urlsplit itself refuses ("http://[::1")
            return "only http:// and https:// URLs are delivered"
        hostname = urlsplit(url).hostname or ""
        try:
            ip = ipaddress.ip_address(hostname)
        except ValueError:
            return None  # a name: GuardedResolver checks what it resolves to
        return self.check(ip)


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (::ffff:a.b.c.d, 6to4, NAT64)."""
    if ip.version != 6:
        return []
    assert isinstance(ip, ipaddress.IPv6Address)
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to a refused address (any of them)."""

    def __init__(self, guard: AddressGuard, inner: AbstractResolver | None = None) -> None:
        self.guard = guard
        self.inner = inner or ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve, then check every address before aiohttp may connect to one."""
        results = await self.inner.resolve(host, port, family)
        for result in results:
            refused = self.guard.check(ipaddress.ip_address(result["host"]))
            if refused:
                raise AddressRefused(f"refused: {host} resolves to {refused}")
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self.inner.close()
