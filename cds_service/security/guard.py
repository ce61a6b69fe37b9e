"""Who may call: a `before_request` check in front of every endpoint but the public pages.

A call is let through when its bearer JWT verifies (see `jwt_verify`), or — in development
mode only — when it comes unsigned from this machine. The caller is put on `flask.g`:
`g.cds_caller` (a `Caller`), and for convenience `g.cds_issuer` and `g.cds_tenant`; for a
verified caller also `g.cds_allowed_fhir_servers`, the `fhirServer` base URLs its entry in the
trusted-clients file allows (possibly none), which the FHIR client uses instead of the
deployment-wide CDS_ALLOWED_FHIR_SERVERS.
A refused call gets 401 with an OperationOutcome that says why in general terms; the log says
precisely why, and never holds the token.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from flask import current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from cds_service.api.errors import CdsError
from cds_service.config import Settings
from cds_service.metrics import TOKEN_REFUSALS
from cds_service.security.jwt_verify import AuthFailure, TokenVerifier, loggable
from cds_service.security.trusted_clients import TrustedClients

log = logging.getLogger(__name__)

# Health probes, patient-information pages, and the sandbox page (its own switch, CDS_SANDBOX,
# decides whether it exists: a clinician's browser has no token). The hook calls it makes
# still need one.
PUBLIC_BLUEPRINTS = frozenset({"education", "sandbox", "health"})
DEV_TENANT = "development"


@dataclass(frozen=True)
class Caller:
    issuer: str | None  # None: an unsigned call accepted in development mode
    tenant: str
    verified: bool


@dataclass
class SecurityState:
    settings: Settings
    clients: TrustedClients | None
    verifier: TokenVerifier | None


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
    return ip.is_loopback


def bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthFailure("missing", "Authorization header is not a Bearer token")
    return token.strip()


def endpoint_urls(settings: Settings) -> list[str]:
    """What `aud` must be: this endpoint's public URL (CDS_PUBLIC_URL + path)."""
    if settings.public_url:
        url = settings.public_url.rstrip("/") + request.path
    else:  # development mode only (see init_security): the URL the request was sent to
        url = request.base_url
    return list(dict.fromkeys([url, url.rstrip("/")]))


def _refuse(failure: AuthFailure) -> CdsError:
    TOKEN_REFUSALS.labels(failure.reason).inc()
    log.warning(
        "call refused: reason=%s: %s; %s %s from %s",
        failure.reason,
        failure.detail,
        request.method,
        loggable(request.path, 120),
        request.remote_addr,
    )
    challenge = 'Bearer realm="cds-services"'
    if failure.reason not in ("missing", "loopback"):
        challenge += ', error="invalid_token"'
    return CdsError(401, failure.public_message, headers={"WWW-Authenticate": challenge})


def _admit(caller: Caller, fhir_servers: tuple[str, ...] | None = None) -> None:
    g.cds_caller = caller
    g.cds_issuer = caller.issuer
    g.cds_tenant = caller.tenant
    if fhir_servers is not None:
        g.cds_allowed_fhir_servers = fhir_servers


def authenticate() -> None:
    """The before_request check."""
    if request.method == "OPTIONS" or request.blueprint in PUBLIC_BLUEPRINTS:
        return  # CORS preflight carries no credentials; education pages are public
    if request.url_rule is None:
        # No such endpoint (e.g. /metrics scraped on the service port): its 404 or 405 says
        # nothing a token protects, and is not counted or logged as a refused call.
        return
    state: SecurityState = current_app.extensions["cds_security"]
    settings = state.settings
    try:
        token = bearer_token()
        if token is None or state.verifier is None:
            # Unsigned (or unverifiable: no trusted clients configured) — dev mode, loopback.
            if settings.dev_mode and is_loopback(request.remote_addr):
                _admit(Caller(issuer=None, tenant=DEV_TENANT, verified=False))
                return
            if token is None:
                raise AuthFailure("missing", "no Authorization header")
            raise AuthFailure("loopback", "development mode without trusted clients")
        verified = state.verifier.verify(token, endpoint_urls(settings))
    except AuthFailure as failure:
        raise _refuse(failure) from None
    except SQLAlchemyError as exc:
        log.error("token replay check failed: %s", type(exc).__name__)
        raise CdsError(503, "The service cannot check tokens right now; try again.") from None
    client = state.clients.get(verified.issuer) if state.clients else None
    _admit(
        Caller(issuer=verified.issuer, tenant=verified.tenant, verified=True),
        client.fhir_servers if client else (),
    )
