"""How a medication record says the drug is given: its dose, how often, whether it runs as an
infusion, and when a stopped record ended. From MedicationStatement.dosage and
MedicationRequest.dosageInstruction (structured first, then their text, then the medication's
own text)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cds_service.data.record import Resource
from cds_service.facts.dates import parse_fhir_date
from cds_service.knowledge import Knowledge
from cds_service.terminology import concept_texts

# A dose in text: "40 mg", "1.5 mg/kg"; never a concentration ("100 MG/ML").
DOSE_IN_TEXT = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(mg/kg|mg)\b(?!\s*/\s*(?:ml|l)\b)", re.IGNORECASE
)
HOURS = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "wk": 168.0, "mo": 720.0}


@dataclass(frozen=True)
class Dose:
    value: float
    unit: str  # "mg" | "mg/kg"
    per_day: float | None  # administrations a day; None when not said
    from_text: bool  # read from free text, not from a structured dose


@dataclass(frozen=True)
class Dosage:
    instructions: str  # the free text of the instructions, and the route's words
    has_rate: bool  # a rate is given: an infusion
    dose: Dose | None


def _dosages(resource: Resource) -> list[dict[str, Any]]:
    entries = resource.get("dosageInstruction") or resource.get("dosage")
    return [d for d in entries if isinstance(d, dict)] if isinstance(entries, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _per_day_structured(dosage: dict[str, Any]) -> float | None:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None
    frequency = _number(repeat.get("frequencyMax", repeat.get("frequency", 1)))
    period = _number(repeat.get("period"))
    hours = HOURS.get(str(repeat.get("periodUnit")))
    if frequency is None or not period or hours is None:
        return None
    return frequency * 24.0 / (period * hours)


def _per_day_in_text(text: str, kn: Knowledge) -> float | None:
    """The longest phrase that says how often: "twice daily" over "daily"."""
    best: tuple[int, int] | None = None
    for pattern, times in kn.rules.per_day_phrases:
        for match in pattern.finditer(text):
            length = match.end() - match.start()
            if best is None or length > best[0]:
                best = (length, times)
    return float(best[1]) if best else None


def _dose_and_rate(dosage: dict[str, Any]) -> list[dict[str, Any]]:
    entries = dosage.get("doseAndRate")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _structured_dose(dosage: dict[str, Any]) -> Dose | None:
    for dose_and_rate in _dose_and_rate(dosage):
        quantity = dose_and_rate.get("doseQuantity")
        if not isinstance(quantity, dict):
            continue
        value = _number(quantity.get("value"))
        unit = str(quantity.get("code") or quantity.get("unit") or "").strip().lower()
        if value is not None and unit in ("mg", "mg/kg"):
            return Dose(value, unit, _per_day_structured(dosage), from_text=False)
    return None


def _text_dose(text: str, per_day: float | None, kn: Knowledge) -> Dose | None:
    match = DOSE_IN_TEXT.search(text)
    if not match:
        return None
    return Dose(float(match[1]), match[2].lower(), per_day or _per_day_in_text(text, kn), True)


def read_dosage(resource: Resource, medication_text: str, kn: Knowledge) -> Dosage:
    dosages = _dosages(resource)
    texts = [
        str(d[k])
        for d in dosages
        for k in ("text", "patientInstruction")
        if isinstance(d.get(k), str)
    ]
    routes = [d.get("route") for d in dosages if isinstance(d.get("route"), dict)]
    texts += [str(t) for r in routes for t in concept_texts(r)]  # "intravenous", "subcutaneous"
    instructions = " ".join(texts)
    has_rate = any(
        any(k in r for k in ("rateQuantity", "rateRatio", "rateRange"))
        for d in dosages
        for r in _dose_and_rate(d)
    )
    dose = next((x for d in dosages if (x := _structured_dose(d))), None)
    if dose is not None and dose.per_day is None:
        dose = Dose(dose.value, dose.unit, _per_day_in_text(instructions, kn), dose.from_text)
    if dose is None:
        structured_per_day = next((p for d in dosages if (p := _per_day_structured(d))), None)
        dose = _text_dose(instructions, structured_per_day, kn) or _text_dose(
            medication_text, structured_per_day or _per_day_in_text(instructions, kn), kn
        )
    return Dosage(instructions, has_rate, dose)


def stop_date(resource: Resource) -> date | None:
    """When a stopped record ended: the end of its period, or a statement's effectiveDateTime."""
    candidates: list[object] = []
    if resource.get("resourceType") == "MedicationStatement":
        period = resource.get("effectivePeriod")
        candidates.append(period.get("end") if isinstance(period, dict) else None)
        candidates.append(resource.get("effectiveDateTime"))
    else:
        dispense = resource.get("dispenseRequest")
        validity = dispense.get("validityPeriod") if isinstance(dispense, dict) else None
        candidates.append(validity.get("end") if isinstance(validity, dict) else None)
        for dosage in _dosages(resource):
            timing = dosage.get("timing")
            repeat = timing.get("repeat") if isinstance(timing, dict) else None
            bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
            candidates.append(bounds.get("end") if isinstance(bounds, dict) else None)
    dates = [d for d in map(_last_day, candidates) if d is not None]
    return max(dates, default=None)


def _last_day(value: object) -> date | None:
    """The last day a FHIR date names: "2026-11" is read as 30 November, so that a stop is
    never taken for older than it may be."""
    first = parse_fhir_date(value)
    if first is None or not isinstance(value, str):
        return None
    if len(value) == 4:  # a year
        return date(first.year, 12, 31)
    if len(value) == 7:  # a month
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return first
