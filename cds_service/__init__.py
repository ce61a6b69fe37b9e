"""LSB CDS Hooks service: the Flask application factory.

Importing this package imports nothing else: `cds-service serve` must make the standard
library cooperative (gevent, see `cds_service.server`) before Flask, requests, SQLAlchemy or
psycopg are imported, so the factory imports them when it runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(**overrides: Any) -> Flask:
    """Builds the app. `overrides` replace settings from the environment (tests use this;
    `clock=` sets the time that time-dependent rules and quieting compare with).

    Refuses to start (ConfigError) without a trusted-clients file, or without a patient-key
    secret while quieting is on, unless in development mode.
    """
    from flask import Flask
    from sqlalchemy.exc import DBAPIError

    from cds_service import services
    from cds_service.api import health, routes
    from cds_service.api.errors import register_error_handlers
    from cds_service.api.json_provider import OrjsonProvider
    from cds_service.config import ConfigError, Settings, clock_for
    from cds_service.data.fetcher import FhirRecordFetcher
    from cds_service.db import database_problem, default_database_url, make_engine
    from cds_service.feedback import init_feedback
    from cds_service.knowledge import ProtocolError, knowledge_with_protocol
    from cds_service.logs import LogSettingError, log_settings
    from cds_service.metrics import observe_hook_calls
    from cds_service.quieting import init_quieting
    from cds_service.security import init_security
    from cds_service.web import education, sandbox

    settings = Settings.from_env(**overrides)
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["CDS_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    try:
        level, _ = log_settings()
    except LogSettingError as exc:
        raise ConfigError(str(exc)) from None
    logging.getLogger("cds_service").setLevel(level)
    # A malformed knowledge release or clinic protocol stops start-up, not a later hook call.
    try:
        # The release with the clinic's protocol: built once, read by every hook call.
        app.extensions["cds_knowledge"] = knowledge_with_protocol(settings.local_protocol)
    except ProtocolError as exc:
        raise ConfigError(f"CDS_LOCAL_PROTOCOL {settings.local_protocol}: {exc}") from None
    # Tests set the clock (`create_app(clock=...)`); rules that depend on time read it here,
    # never the wall clock. CDS_FIXED_NOW (development mode only) fixes it for demos.
    app.extensions["cds_clock"] = settings.extra.get("clock") or clock_for(settings, utc_now)
    if settings.fixed_now is not None:
        log.warning("CDS_FIXED_NOW: every hook call is taken to happen at %s", settings.fixed_now)
    app.extensions["cds_record_fetcher"] = FhirRecordFetcher(settings)

    database_url = settings.database_url or default_database_url(app.instance_path)
    engine = make_engine(database_url)
    app.extensions["cds_db"] = engine
    init_security(app, engine)  # before anything slow: a wrong trust setup fails at once
    quieting = init_quieting(app, engine, settings, app.extensions["cds_clock"])
    try:
        _prepare_schema(engine, settings)
    except DBAPIError as exc:  # unreachable, a wrong password, no such database: one line
        engine.dispose()
        raise ConfigError(database_problem(exc, database_url)) from None

    register_error_handlers(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    init_feedback(app, engine, quieting)
    app.register_blueprint(education.bp)
    app.register_blueprint(sandbox.bp)
    app.wsgi_app = observe_hook_calls(app.wsgi_app, services.BY_ID)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For, as many hops back as there are proxies
        # that append to it; never without them (a client could write any address there).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=0, x_host=0, x_prefix=0
        )
    return app


def _prepare_schema(engine: Any, settings: Any) -> None:
    from cds_service.config import ConfigError
    from cds_service.db import safe_url
    from cds_service.db.migrate import current_revision, head_revision, upgrade

    if settings.migrate_on_start:
        revision = upgrade(engine)
    else:
        revision = current_revision(engine)
        if revision != head_revision():
            raise ConfigError(
                f"database {safe_url(engine.url)} is at schema {revision}, this release needs "
                f"{head_revision()}: run `cds-service db upgrade`"
            )
    log.info("database %s at schema %s", safe_url(engine.url), revision)
