"""Settings, from environment variables with embedded defaults (SQLite, local fixtures)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else float(value)


def _instant(name: str) -> datetime | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 time, got {raw!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset (e.g. Z or +01:00), got {raw!r}")
    return value


class ConfigError(RuntimeError):
    """The configuration does not allow the service to start safely."""


def _int(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting; a bad value stops start-up rather than silently using a default."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _phone(raw: str | None) -> str | None:
    """A telephone number as patients dial it: digits, spaces and + ( ) - . only."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"\+?[0-9(][0-9 ()\-.]{1,28}[0-9]", raw):
        raise ConfigError("CDS_CLINIC_PHONE must be a telephone number (digits, spaces, + ( ) - .)")
    return raw


@dataclass(frozen=True)
class Settings:
    dev_mode: bool = False  # CDS_DEV_MODE: unsigned calls from loopback, sandbox on
    public_url: str | None = None  # CDS_PUBLIC_URL: base URL for links on cards and JWT `aud`
    max_body_bytes: int = 10 * 1024 * 1024  # CDS_MAX_BODY_BYTES
    allowed_fhir_servers: tuple[str, ...] = ()  # CDS_ALLOWED_FHIR_SERVERS (dev mode, unsigned)
    # --- who may call (CDS Hooks "Trusting CDS Clients") ---
    trusted_clients: str | None = None  # CDS_TRUSTED_CLIENTS: path of the trusted-clients file
    cors_origins: tuple[str, ...] = ()  # CDS_CORS_ORIGINS: browser origins allowed to call
    jwt_leeway: float = 30.0  # CDS_JWT_LEEWAY: seconds of clock skew allowed on exp/iat/nbf
    jwt_max_lifetime: float = 900.0  # CDS_JWT_MAX_LIFETIME: longest exp - now accepted
    jwks_timeout: float = 3.0  # CDS_JWKS_TIMEOUT: seconds for fetching a client's JWK Set
    jwks_cache_seconds: float = 3600.0  # CDS_JWKS_CACHE_SECONDS: how long a JWK Set is kept
    # --- feedback and issued cards ---
    database_url: str | None = None  # CDS_DATABASE_URL; default: SQLite in the instance folder
    migrate_on_start: bool = True  # CDS_MIGRATE_ON_START: run Alembic upgrades in create_app
    feedback_max_body_bytes: int = 256 * 1024  # CDS_FEEDBACK_MAX_BODY_BYTES
    # --- quiet once answered (docs/deploying.md, "Quieting answered suggestions") ---
    quieting: bool = True  # CDS_QUIETING: off shows every suggestion every time
    # CDS_PATIENT_KEY_SECRET: keys the patient hash; required outside development mode
    patient_key_secret: str | None = field(default=None, repr=False)
    quieting_policy: str | None = None  # CDS_QUIETING_POLICY: a reviewed policy file of its own
    # `cds-service feedback purge`: override comments (free text) are kept this many days ...
    feedback_retention_days: int = 90  # CDS_FEEDBACK_RETENTION_DAYS
    # ... and feedback rows and issued-card rows this many days.
    feedback_record_retention_days: int = 730  # CDS_FEEDBACK_RECORD_RETENTION_DAYS
    # Fetching from the EHR's FHIR server when prefetch is missing (docs/fhir-fallback.md).
    fhir_allow_loopback: bool = False  # CDS_FHIR_ALLOW_LOOPBACK, default: on in dev mode
    fhir_budget_ms: int = 400  # CDS_FHIR_BUDGET_MS: the whole fetch, all queries together
    fhir_connect_timeout_ms: int = 200  # CDS_FHIR_CONNECT_TIMEOUT_MS, per request
    fhir_read_timeout_ms: int = 0  # CDS_FHIR_READ_TIMEOUT_MS, per request; 0: the budget
    fhir_max_pages: int = 20  # CDS_FHIR_MAX_PAGES: per prefetch key, the first page included
    fhir_page_size: int = 1000  # CDS_FHIR_PAGE_SIZE: `_count` asked for; 0 = server's default
    fhir_max_retries: int = 2  # CDS_FHIR_MAX_RETRIES: for 429 and 503, inside the budget
    # CDS_FHIR_CONCURRENCY: parallel requests per worker, all calls together. A waiting request
    # is a greenlet under the server's gevent workers: enough that one EHR's hanging server
    # does not starve the other calls' fetches.
    fhir_concurrency: int = 64
    # CDS_FHIR_SERVER_CONCURRENCY: of those, at most this many to one server (its origin), so
    # that a server that never answers holds only its own (cds_service/data/server_slots.py).
    fhir_server_concurrency: int = 16
    fhir_max_response_bytes: int = 20 * 1024 * 1024  # CDS_FHIR_MAX_RESPONSE_BYTES, per page
    fhir_ca_bundle: str | None = None  # CDS_FHIR_CA_BUNDLE: PEM file or folder (hospital PKI)
    clinic_phone: str | None = None  # CDS_CLINIC_PHONE: on the patient page's "When to get help"
    sandbox: bool = False  # CDS_SANDBOX: the sandbox page outside development mode
    sandbox_fixtures: str | None = None  # CDS_SANDBOX_FIXTURES: folder of hook request files
    local_protocol: str | None = None  # CDS_LOCAL_PROTOCOL: the clinic's anticoagulation protocol
    # CDS_TRUSTED_PROXIES: proxies in front that append X-Forwarded-For (0: none; the header is
    # then ignored, as anyone can send it)
    trusted_proxies: int = 0
    # CDS_FIXED_NOW: development mode only, the time every hook call is taken to happen at
    # (ISO 8601 with a UTC offset), so demos and browser tests of the date rules repeat.
    fixed_now: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        dev_mode = bool(overrides.get("dev_mode", _flag("CDS_DEV_MODE")))
        values: dict[str, Any] = {
            "dev_mode": dev_mode,
            "public_url": os.environ.get("CDS_PUBLIC_URL") or None,
            "max_body_bytes": int(os.environ.get("CDS_MAX_BODY_BYTES", 10 * 1024 * 1024)),
            "allowed_fhir_servers": _list("CDS_ALLOWED_FHIR_SERVERS"),
            "trusted_clients": os.environ.get("CDS_TRUSTED_CLIENTS") or None,
            "cors_origins": _list("CDS_CORS_ORIGINS"),
            "jwt_leeway": _number("CDS_JWT_LEEWAY", 30.0),
            "jwt_max_lifetime": _number("CDS_JWT_MAX_LIFETIME", 900.0),
            "jwks_timeout": _number("CDS_JWKS_TIMEOUT", 3.0),
            "jwks_cache_seconds": _number("CDS_JWKS_CACHE_SECONDS", 3600.0),
            "database_url": os.environ.get("CDS_DATABASE_URL") or None,
            "migrate_on_start": _flag("CDS_MIGRATE_ON_START", True),
            "feedback_max_body_bytes": int(
                os.environ.get("CDS_FEEDBACK_MAX_BODY_BYTES", 256 * 1024)
            ),
            "quieting": _flag("CDS_QUIETING", True),
            "patient_key_secret": os.environ.get("CDS_PATIENT_KEY_SECRET") or None,
            "quieting_policy": os.environ.get("CDS_QUIETING_POLICY") or None,
            "feedback_retention_days": _int("CDS_FEEDBACK_RETENTION_DAYS", 90),
            "feedback_record_retention_days": _int("CDS_FEEDBACK_RECORD_RETENTION_DAYS", 730),
            "fhir_allow_loopback": _flag("CDS_FHIR_ALLOW_LOOPBACK", dev_mode),
            "fhir_budget_ms": _int("CDS_FHIR_BUDGET_MS", 400, minimum=1),
            "fhir_connect_timeout_ms": _int("CDS_FHIR_CONNECT_TIMEOUT_MS", 200, minimum=1),
            "fhir_read_timeout_ms": _int("CDS_FHIR_READ_TIMEOUT_MS", 0),
            "fhir_max_pages": _int("CDS_FHIR_MAX_PAGES", 20, minimum=1),
            "fhir_page_size": _int("CDS_FHIR_PAGE_SIZE", 1000),
            "fhir_max_retries": _int("CDS_FHIR_MAX_RETRIES", 2),
            "fhir_concurrency": _int("CDS_FHIR_CONCURRENCY", 64, minimum=1),
            "fhir_server_concurrency": _int("CDS_FHIR_SERVER_CONCURRENCY", 16, minimum=1),
            "fhir_max_response_bytes": _int(
                "CDS_FHIR_MAX_RESPONSE_BYTES", 20 * 1024 * 1024, minimum=1024
            ),
            "fhir_ca_bundle": os.environ.get("CDS_FHIR_CA_BUNDLE") or None,
            "clinic_phone": os.environ.get("CDS_CLINIC_PHONE"),
            "sandbox": _flag("CDS_SANDBOX"),
            "sandbox_fixtures": os.environ.get("CDS_SANDBOX_FIXTURES") or None,
            "local_protocol": os.environ.get("CDS_LOCAL_PROTOCOL") or None,
            "trusted_proxies": _int("CDS_TRUSTED_PROXIES", 0),
            "fixed_now": _instant("CDS_FIXED_NOW"),
        }
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known})
        values["clinic_phone"] = _phone(values["clinic_phone"])
        values["extra"] = {k: v for k, v in overrides.items() if k not in known}
        return cls(**values)

    @property
    def sandbox_enabled(self) -> bool:
        return self.dev_mode or self.sandbox


def clock_for(settings: Settings, wall: Callable[[], datetime]) -> Callable[[], datetime]:
    """The clock of the hook calls: `wall`, or CDS_FIXED_NOW in development mode."""
    fixed = settings.fixed_now
    if fixed is None:
        return wall
    if not settings.dev_mode:
        raise ConfigError("CDS_FIXED_NOW is for development mode only (CDS_DEV_MODE=1)")
    return lambda: fixed
