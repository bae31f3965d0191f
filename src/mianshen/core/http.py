"""Request plumbing shared by the web apps (back office, portal)."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest


def client_address(request: HttpRequest, header: str = "") -> str:
    """The client's address: ``REMOTE_ADDR``, or behind a reverse proxy the request header ``header`` (a
    ``request.META`` key such as ``HTTP_X_REAL_IP``; its last entry: the one our proxy added); ``unknown`` when
    it is not an IP address. Counters keyed by it must never trust a header the proxy does not overwrite."""
    raw = str((request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(raw.split(",")[-1].strip()))
    except ValueError:
        return "unknown"
