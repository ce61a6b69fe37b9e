"""FHIR date-times as the service reads them: an instant keeps the UTC offset it was given."""

from __future__ import annotations

from datetime import datetime


def parse_instant(text: object) -> datetime | None:
    """A FHIR instant (date, time and UTC offset), keeping its offset; None if it is not one."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None and value.utcoffset() is not None else None
