"""CORS for browser-based CDS clients (the CDS Hooks sandbox runs in a browser).

Only the CDS Hooks endpoints, only the configured origins (`CDS_CORS_ORIGINS`), only GET and
POST with the `Authorization` and `Content-Type` headers; no cookies. Preflight (OPTIONS)
requests are answered by flask-cors and need no token. In development mode with no origins
configured, the public CDS Hooks sandbox and any page served from this machine (a loopback
origin: `localhost`, `127.x.x.x`, `[::1]`, any port, e.g. a CDS Hooks sandbox built locally)
may call.
"""

from __future__ import annotations

import logging
import re

from flask import Flask
from flask_cors import CORS

from cds_service.config import Settings

log = logging.getLogger(__name__)

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
LOOPBACK_ORIGIN = re.compile(r"^https?://(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$")
CDS_PATHS = r"/cds-services.*"


def allowed_origins(settings: Settings) -> list[str | re.Pattern[str]]:
    if settings.cors_origins:
        return list(settings.cors_origins)
    return [SANDBOX_ORIGIN, LOOPBACK_ORIGIN] if settings.dev_mode else []


def init_cors(app: Flask, settings: Settings) -> None:
    origins = allowed_origins(settings)
    if not origins:
        return  # no browser-based clients: browsers get no CORS headers, so they cannot call
    if "*" in origins:
        log.warning("CORS: any origin may call (CDS_CORS_ORIGINS=*): tokens still required")
    CORS(
        app,
        resources={CDS_PATHS: {"origins": origins}},
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        supports_credentials=False,
        max_age=600,
        vary_header=True,
    )
