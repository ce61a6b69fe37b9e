"""Which FHIR servers the service may contact: the guard against being used to reach internal
addresses (server-side request forgery).

A `fhirServer` is contacted only if it lies under a configured base URL: the per-client list
that request authentication put in `flask.g` (the issuer's registered servers), else the
deployment's `CDS_ALLOWED_FHIR_SERVERS`. Loopback servers may be allowed for development.
Every URL the fetcher requests (search pages, `next` links, Medication reads) must lie under
the call's own `fhirServer`, so a link to another host or base is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import g, has_app_context

# Set by request authentication (the trust issue) to the calling client's allowed servers;
# when present it replaces the deployment-wide list for that request.
G_ALLOWED_FHIR_SERVERS = "cds_allowed_fhir_servers"


@dataclass(frozen=True)
class BaseUrl:
    scheme: str
    host: str
    port: int
    path: str  # without a trailing slash; "" for the root

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


def parse_url(url: str, *, base: bool = False) -> BaseUrl | None:
    """Scheme, host, port and path of an http(s) URL; None if it is not one we would request.

    Refused: other schemes, credentials in the URL, dot segments (which a server would
    resolve to another path), and for a base URL a query or fragment.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if base and (parts.query or parts.fragment):
        return None
    segments = unquote(parts.path).split("/")
    if any(s in (".", "..") for s in segments) or "\\" in parts.path:
        return None
    default = 443 if scheme == "https" else 80
    return BaseUrl(scheme, parts.hostname.lower(), port or default, parts.path.rstrip("/"))


def is_under(url: str, base: BaseUrl) -> bool:
    """True if `url` is `base` itself or below it (whole path segments, same origin)."""
    target = parse_url(url)
    if target is None:
        return False
    same_origin = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
    return same_origin and (target.path == base.path or target.path.startswith(base.path + "/"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_servers(default: Iterable[str]) -> tuple[str, ...]:
    """The allowlist for this request: the client's own list if authentication set one."""
    if has_app_context():
        per_client = g.get(G_ALLOWED_FHIR_SERVERS)
        if per_client is not None:
            return tuple(per_client)
    return tuple(default)


def server_allowed(fhir_server: str, allowed: Iterable[str], allow_loopback: bool) -> bool:
    server = parse_url(fhir_server, base=True)
    if server is None:
        return False
    if allow_loopback and is_loopback(server.host):
        return True
    for entry in allowed:
        base = parse_url(entry, base=True)
        if base is not None and is_under(fhir_server, base):
            return True
    return False
