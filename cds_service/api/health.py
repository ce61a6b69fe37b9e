"""Probes for load balancers and orchestrators, outside the JWT check.

`GET /healthz`: the process is up and serving. `GET /readyz`: the service can answer hook
calls: its database answers and the knowledge release is loaded. Neither says more than
"ok" or which check failed: no URL, version or setting.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cds_service.db import reader
from cds_service.knowledge import KnowledgeError, load_knowledge

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> Response:
    checks = {"database": "ok", "knowledge": "ok"}
    try:
        with reader(current_app.extensions["cds_db"]).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("not ready: database check failed: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    try:
        load_knowledge()
    except KnowledgeError:
        checks["knowledge"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify(status="ready" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    return _no_store(response)
