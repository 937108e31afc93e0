"""Webhook targets may not reach the twin's own network: a subscriber could otherwise make the
twin POST to its database, Redis or a cloud metadata service (server-side request forgery).
Checked when a subscription is made (what the URL says) and again before each delivery (what the
name resolves to then), unless the operator allows private targets (a receiver on the same host)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved \
        or ip.is_unspecified


def refused_by_name(url: str) -> str | None:
    """Why `url` may not be a webhook target, judged from the URL alone (None: it may)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return "the URL names no host"
    try:
        if _private(host):
            return f"{host} is a private, loopback or reserved address"
    except ValueError:  # a name, not an address
        if host == "localhost" or host.endswith(_LOCAL_NAMES):
            return f"{host} names a local host"
    return None


async def refused_by_address(url: str) -> str | None:
    """Why a delivery to `url` is refused, judged from what its host resolves to now."""
    reason = refused_by_name(url)
    if reason:
        return reason
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return None  # unresolvable: the POST itself fails and is retried as any network error
    private = sorted({info[4][0] for info in found if _private(info[4][0])})
    return f"{parts.hostname} resolves to {', '.join(private)}, a private address" if private else None
