"""Dates of clinical events as FHIR records state them (dateTime, Period)."""

from __future__ import annotations

from datetime import date
from typing import Any


def event_date(resource: dict[str, Any], *fields: str) -> str | None:
    """The first of `fields` that holds a dateTime (or a Period's start, else end), as text."""
    for name in fields:
        value = resource.get(name)
        if isinstance(value, dict):  # a Period
            value = value.get("start") or value.get("end")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def as_date(text: str | None) -> date | None:
    """The calendar date of a FHIR date or dateTime; None when it has no day (e.g. "2026-03")."""
    if not text or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
