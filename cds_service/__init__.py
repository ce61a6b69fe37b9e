"""LSB CDS Hooks service: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from cds_service.api import routes
from cds_service.api.errors import register_error_handlers
from cds_service.config import Settings
from cds_service.data.fetcher import FhirRecordFetcher
from cds_service.knowledge import load_knowledge
from cds_service.web import education, sandbox


def create_app(**overrides: Any) -> Flask:
    """Builds the app. `overrides` replace settings from the environment (tests use this)."""
    settings = Settings.from_env(**overrides)
    app = Flask(__name__)
    app.config["CDS_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # keep cards' fields in the spec's order
    load_knowledge()  # a malformed knowledge release stops start-up, not a later hook call
    app.extensions["cds_record_fetcher"] = FhirRecordFetcher(settings)

    register_error_handlers(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(education.bp)
    app.register_blueprint(sandbox.bp)
    logging.getLogger("cds_service").setLevel(logging.INFO)
    return app
