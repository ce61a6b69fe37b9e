"""Trusting CDS clients: signed JWTs from an allowlist of issuers, CORS, and the per-issuer
allowlist of FHIR servers.

`init_security(app, engine)` wires it into the app factory. Other parts of the service ask:

- `allowed_fhir_servers(app, issuer)`: the `fhirServer` base URLs that issuer may send (the
  FHIR client refuses any other; for the current request it is also on
  `flask.g.cds_allowed_fhir_servers`); `current_caller()`: who is calling (also on `flask.g`:
  `g.cds_caller`, `g.cds_issuer`, `g.cds_tenant`).
"""

from __future__ import annotations

import logging

from flask import Flask, g
from sqlalchemy import Engine

from cds_service.config import ConfigError, Settings
from cds_service.security.cors import init_cors
from cds_service.security.guard import Caller, SecurityState, authenticate
from cds_service.security.jwks import JwksFetcher
from cds_service.security.jwt_verify import TokenVerifier
from cds_service.security.replay import ReplayGuard
from cds_service.security.trusted_clients import (
    TrustedClients,
    TrustedClientsError,
    load_trusted_clients,
)

log = logging.getLogger(__name__)

__all__ = [
    "Caller",
    "allowed_fhir_servers",
    "current_caller",
    "fhir_server_allowed",
    "init_security",
]


def _load_clients(settings: Settings) -> TrustedClients | None:
    if not settings.trusted_clients:
        if settings.dev_mode:
            return None
        raise ConfigError(
            "no trusted CDS clients: set CDS_TRUSTED_CLIENTS to the trusted-clients file "
            "(see docs/deploying.md), or CDS_DEV_MODE=1 for local development only"
        )
    try:
        clients = load_trusted_clients(settings.trusted_clients)
    except TrustedClientsError as exc:
        raise ConfigError(str(exc)) from None
    if not settings.public_url and not settings.dev_mode:
        raise ConfigError(
            "CDS_PUBLIC_URL is required with trusted clients: tokens' aud is checked against "
            "it, never against the Host header a caller sends"
        )
    return clients


def init_security(app: Flask, engine: Engine) -> None:
    settings: Settings = app.config["CDS_SETTINGS"]
    clients = _load_clients(settings)
    verifier = None
    if clients is not None:
        verifier = TokenVerifier(
            clients,
            JwksFetcher(timeout=settings.jwks_timeout, ttl=settings.jwks_cache_seconds),
            ReplayGuard(engine),
            leeway=settings.jwt_leeway,
            max_lifetime=settings.jwt_max_lifetime,
        )
        log.info("trusted CDS clients: %d issuer(s) from %s", len(clients), clients.source)
    if settings.dev_mode:
        log.warning(
            "*** DEVELOPMENT MODE (CDS_DEV_MODE=1): unsigned calls from this machine (loopback) "
            "are accepted%s. Never run a deployment like this. ***",
            "" if verifier else " and tokens are not verified",
        )
    app.extensions["cds_security"] = SecurityState(settings, clients, verifier)
    app.before_request(authenticate)
    init_cors(app, settings)


def current_caller() -> Caller | None:
    """The caller of the request being handled (None outside a request or before the check)."""
    return g.get("cds_caller")


def allowed_fhir_servers(app: Flask, issuer: str | None) -> tuple[str, ...]:
    """The FHIR server base URLs (no trailing slash) that calls from `issuer` may name.

    `issuer` None is an unsigned development-mode call: CDS_ALLOWED_FHIR_SERVERS applies.
    An unknown issuer may name none.
    """
    state: SecurityState = app.extensions["cds_security"]
    if issuer is None:
        if not state.settings.dev_mode:
            return ()
        return tuple(u.rstrip("/") for u in state.settings.allowed_fhir_servers)
    client = state.clients.get(issuer) if state.clients else None
    return client.fhir_servers if client else ()


def fhir_server_allowed(app: Flask, issuer: str | None, url: str) -> bool:
    """True when `url` is exactly one of the issuer's FHIR base URLs (trailing slash aside)."""
    return url.rstrip("/") in allowed_fhir_servers(app, issuer)
