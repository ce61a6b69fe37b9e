"""Settings, from environment variables with embedded defaults (SQLite, local fixtures)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    dev_mode: bool = False  # CDS_DEV_MODE: unsigned calls from loopback, sandbox on
    public_url: str | None = None  # CDS_PUBLIC_URL: base URL for links on cards
    max_body_bytes: int = 10 * 1024 * 1024  # CDS_MAX_BODY_BYTES
    allowed_fhir_servers: tuple[str, ...] = ()  # CDS_ALLOWED_FHIR_SERVERS
    sandbox: bool = False  # CDS_SANDBOX: the sandbox page outside development mode
    sandbox_fixtures: str | None = None  # CDS_SANDBOX_FIXTURES: folder of hook request files
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "dev_mode": _flag("CDS_DEV_MODE"),
            "public_url": os.environ.get("CDS_PUBLIC_URL") or None,
            "max_body_bytes": int(os.environ.get("CDS_MAX_BODY_BYTES", 10 * 1024 * 1024)),
            "allowed_fhir_servers": _list("CDS_ALLOWED_FHIR_SERVERS"),
            "sandbox": _flag("CDS_SANDBOX"),
            "sandbox_fixtures": os.environ.get("CDS_SANDBOX_FIXTURES") or None,
        }
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known})
        values["extra"] = {k: v for k, v in overrides.items() if k not in known}
        return cls(**values)

    @property
    def sandbox_enabled(self) -> bool:
        return self.dev_mode or self.sandbox
