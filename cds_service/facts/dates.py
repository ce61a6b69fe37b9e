"""When a medication record was written, taken or asserted: its latest date, for staleness."""

from __future__ import annotations

import re
from datetime import date

from cds_service.data.record import Resource

# FHIR date and dateTime start with YYYY, YYYY-MM or YYYY-MM-DD.
FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def parse_fhir_date(value: object) -> date | None:
    """The day a FHIR date or dateTime names (a partial date: its first day), or None."""
    if not isinstance(value, str) or not (m := FHIR_DATE.match(value)):
        return None
    try:
        return date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:
        return None


def record_date(resource: Resource) -> date | None:
    """The latest of authoredOn, effective[x] (a period's start or end) and dateAsserted."""
    period = resource.get("effectivePeriod")
    candidates = [
        resource.get("authoredOn"),
        resource.get("effectiveDateTime"),
        resource.get("dateAsserted"),
        *((period.get("start"), period.get("end")) if isinstance(period, dict) else ()),
    ]
    dates = [d for d in map(parse_fhir_date, candidates) if d is not None]
    return max(dates, default=None)


def instructions_text(resource: Resource) -> str:
    """The free text of the dosage instructions ("flush PICC daily")."""
    texts: list[str] = []
    for key in ("dosageInstruction", "dosage"):
        entries = resource.get(key)
        for dosage in entries if isinstance(entries, list) else ():
            if isinstance(dosage, dict):
                texts += [
                    str(dosage[k])
                    for k in ("text", "patientInstruction")
                    if isinstance(dosage.get(k), str)
                ]
    return " ".join(texts)
