"""CORS for browser-based CDS clients (the CDS Hooks sandbox runs in a browser).

Only the CDS Hooks endpoints, only the configured origins (`CDS_CORS_ORIGINS`), only GET and
POST with the `Authorization` and `Content-Type` headers; no cookies. Preflight (OPTIONS)
requests are answered by flask-cors and need no token. A call without an `Origin` header (an
EHR's server, not a browser) gets no CORS headers. In development mode with no origins
configured, the public CDS Hooks sandbox and any page served from this machine (a loopback
origin: `localhost`, `127.x.x.x`, `[::1]`, any port, e.g. a CDS Hooks sandbox built locally)
may call.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, request
from flask_cors import CORS
from werkzeug.wrappers import Response

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
        vary_header=False,  # set below, on every answer
        always_send=False,  # a call without Origin (an EHR's server) needs none
    )
    # flask-cors matches every answer's path against the resources before it looks for an
    # Origin: 2% of a typical call's CPU. Only a browser's call, which has one, reaches it.
    add_cors_headers = app.after_request_funcs[None].pop()
    if add_cors_headers.__name__ != "cors_after_request":  # flask-cors registers it last
        raise RuntimeError(f"unexpected flask-cors hook {add_cors_headers.__name__!r}")

    @app.after_request
    def cors_for_browsers(response: Response) -> Response:
        if "Origin" in request.headers:
            response = add_cors_headers(response)
        # The answer depends on Origin even when none was sent: a cache must not hand the
        # header-less answer to a browser (Fetch standard, "CORS protocol and HTTP caches").
        response.headers.add("Vary", "Origin")
        return response
