"""Dates of clinical events as FHIR records state them (dateTime, Period), and the latest date
of a medication record (written, taken or asserted), for staleness."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from cds_service.data.record import Resource

# FHIR date and dateTime start with YYYY, YYYY-MM or YYYY-MM-DD.
FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def parse_fhir_date(value: object) -> date | None:
    """The day a FHIR date or dateTime names (a partial date: its first day), or None."""
    return _parse_date_text(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)  # a long medication list repeats the same few dates
def _parse_date_text(value: str) -> date | None:
    if not (m := FHIR_DATE.match(value)):
        return None
    try:
        return date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:
        return None


def record_date(resource: Resource) -> date | None:
    """The latest of authoredOn, effective[x] (a period's start or end) and dateAsserted."""
    # A loop, not a list of candidates: this runs for every medication record (3,000 a call
    # for a long history), and building the lists took half of reading them.
    get = resource.get
    period = get("effectivePeriod")
    ends = (period.get("start"), period.get("end")) if isinstance(period, dict) else ()
    latest = None
    for value in (get("authoredOn"), get("effectiveDateTime"), get("dateAsserted"), *ends):
        day = _parse_date_text(value) if isinstance(value, str) else None
        if day and (latest is None or day > latest):
            latest = day
    return latest


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
