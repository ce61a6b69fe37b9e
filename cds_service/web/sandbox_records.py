"""The sandbox chart's record sections: procedures, allergies, labs and the schedule, as the
record says them.

The chart shows every recorded item, not only what the rules matched; the cards say what
matched. Dates and units follow the service's own readers so the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cds_service.facts.dates import event_date
from cds_service.facts.observations import flag_text, reported_value
from cds_service.facts.procedures import WHEN, fulfilled_requests
from cds_service.knowledge import load_knowledge
from cds_service.terminology import as_list, concept_label

NOT_CURRENT = ("refuted", "entered-in-error")  # struck through, as inactive problems are


@dataclass
class ChartRow:
    text: str
    code: str = ""
    status: str = ""
    active: bool = True
    when: str = ""  # YYYY-MM-DD as recorded
    detail: str = ""  # e.g. a lab value, an allergy's criticality and reaction


@dataclass
class ChartList:
    rows: list[ChartRow] = field(default_factory=list)
    more: int = 0  # rows not shown
    problem: str = ""  # why the list could not be read (shown as a warning)
    note: str = ""  # e.g. "none on record"


def value_text(observation: dict[str, Any]) -> str:
    """The result as the lab reported it: number, comparator and unit, or its text."""
    if value := reported_value(observation):
        number, unit = value
        return f"{number} {unit}" if unit else number
    return concept_label(observation.get("valueCodeableConcept")) or "(no value)"


def _day(resource: dict[str, Any], *fields: str) -> str:
    when = event_date(resource, *fields)
    return when[:10] if when else ""


def procedure_rows(
    procedures: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> list[ChartRow]:
    """Procedures, and completed ServiceRequests that no Procedure records (`basedOn`), latest
    first; a procedure not done (e.g. not-done, entered-in-error) is shown inactive."""
    counts = load_knowledge().procedure_history.counts
    done_elsewhere = fulfilled_requests(procedures)
    listed = [(p, str(p.get("status") or ""), "") for p in procedures]
    for request in requests:
        if f"ServiceRequest/{request.get('id')}" in done_elsewhere:
            continue
        listed.append((request, str(request.get("status") or ""), " order"))
    rows: list[ChartRow] = []
    for resource, status, kind in listed:
        text = concept_label(resource.get("code")) or "(no text)"
        when = _day(resource, *WHEN[resource["resourceType"]])
        active = status == "completed" if kind else status in counts
        code = _code(resource.get("code"))
        rows.append(ChartRow(text, code, f"{status}{kind}", active, when=when))
    rows.sort(key=lambda r: r.when, reverse=True)
    return rows


def _code(concept: object) -> str:
    if not isinstance(concept, dict):
        return ""
    coding = next((c for c in concept.get("coding") or () if isinstance(c, dict)), {})
    return str(coding.get("code") or "")


def allergy_rows(allergies: list[dict[str, Any]]) -> list[ChartRow]:
    """Substance, criticality, reaction and status; refuted, entered-in-error and inactive or
    resolved ones are struck through."""
    rows: list[ChartRow] = []
    for allergy in allergies:
        clinical = _code(allergy.get("clinicalStatus"))
        verification = _code(allergy.get("verificationStatus"))
        status = verification if verification in NOT_CURRENT else clinical
        active = verification not in NOT_CURRENT and clinical in ("", "active")
        reactions = [
            text
            for reaction in as_list(allergy.get("reaction"))
            if isinstance(reaction, dict)
            for text in [concept_label(m) for m in as_list(reaction.get("manifestation"))]
            + [str(reaction.get("description") or "")]
            if text
        ]
        details = []
        if isinstance(allergy.get("criticality"), str):
            details.append(f"criticality {allergy['criticality']}")
        if reactions:
            details.append("reaction: " + "; ".join(reactions))
        text = concept_label(allergy.get("code")) or "(no substance recorded)"
        rows.append(
            ChartRow(
                text,
                _code(allergy.get("code")),
                status,
                active,
                when=_day(allergy, "recordedDate", "onsetDateTime"),
                detail=", ".join(details),
            )
        )
    return rows


def lab_rows(observations: list[dict[str, Any]]) -> list[ChartRow]:
    """The latest result of each test (by its first code), with the lab's interpretation and
    reference range; the service's own label (e.g. INR) where it knows the test."""
    kn = load_knowledge()
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for observation in observations:
        if observation.get("status") in ("entered-in-error", "cancelled"):
            continue
        code = observation.get("code")
        key = _code(code) or concept_label(code)
        when = _day(observation, "effectiveDateTime", "effectivePeriod", "issued")
        if key not in latest or when > latest[key][0]:
            latest[key] = (when, observation)
    rows: list[ChartRow] = []
    for when, observation in latest.values():
        code = observation.get("code")
        known = next(
            (
                kn.lab_by_code[k]
                for c in as_list((code or {}).get("coding"))
                if isinstance(c, dict)
                and (k := kn.systems.key(str(c.get("system")), str(c.get("code"))))
                in kn.lab_by_code
            ),
            None,
        )
        text = known.label if known else concept_label(code) or "(no test named)"
        details = [value_text(observation)]
        if interpretation := flag_text(observation, kn):
            details.append(f"flagged {interpretation}")
        for entry in as_list(observation.get("referenceRange")):
            if not isinstance(entry, dict):
                continue
            low, high = entry.get("low") or {}, entry.get("high") or {}
            span = entry.get("text") or " to ".join(
                value_text({"valueQuantity": q}) for q in (low, high) if q
            )
            if span:
                details.append(f"reference range {span}")
                break
        status = str(observation.get("status") or "")
        rows.append(ChartRow(text, _code(code), status, True, when=when, detail=", ".join(details)))
    rows.sort(key=lambda r: r.when, reverse=True)
    return rows


def schedule_rows(appointments: list[dict[str, Any]]) -> list[ChartRow]:
    """The patient's appointments already in the schedule, in date order: what they are (the
    service type, else the appointment type, else the description), when, and their status;
    one no longer to come (cancelled, no-show, fulfilled) is shown inactive."""
    kn = load_knowledge()
    rows = []
    for appointment in appointments:
        concepts = [*as_list(appointment.get("serviceType")), appointment.get("appointmentType")]
        labels = [concept_label(c) for c in concepts if c]
        text = next((t for t in labels if t), "") or str(appointment.get("description") or "")
        status = str(appointment.get("status") or "")
        rows.append(
            ChartRow(
                text=text or "(no type recorded)",
                status=status,
                active=status in kn.rules.appointment_still_to_come,
                when=str(appointment.get("start") or "")[:10],
                detail=str(appointment.get("start") or ""),
            )
        )
    return sorted(rows, key=lambda r: r.detail)
