"""The latest laboratory results the cards show (Observation, by LOINC code).

Only what the record says: the value, its unit and date, the lab's own interpretation and
reference range, and which side of that range the lab (its flag) or the value (against the
range, same unit) puts it on. The service sets no threshold of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.data.record import Resource
from cds_service.data.validation import validation_error
from cds_service.facts.dates import event_date
from cds_service.facts.model import LabFact, Origin, Problem
from cds_service.knowledge import Interpretation, Knowledge
from cds_service.knowledge.labs import Lab
from cds_service.reasons import invalid
from cds_service.terminology import as_list, codings, concept_label, unit_named

WHERE = "observations"  # the prefetch key
REPORTED = {"final", "amended", "corrected", "preliminary"}  # FHIR R4 observation-status


def _number(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return f"{value:g}"


def _unit(quantity: dict) -> str | None:
    """The unit as a person reads it: the unit as written, else the UCUM code."""
    return unit_named(quantity.get("unit") or quantity.get("code"))


def _quantity_text(quantity: object) -> str | None:
    if not isinstance(quantity, dict):
        return None
    number = _number(quantity.get("value"))
    if number is None:
        return None
    unit = _unit(quantity)
    return f"{number} {unit}" if unit else number


def reported_value(observation: Resource) -> tuple[str, str | None] | None:
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and (number := _number(quantity.get("value"))) is not None:
        comparator = quantity.get("comparator")
        if isinstance(comparator, str):
            number = f"{comparator}{number}"
        return number, _unit(quantity)
    text = observation.get("valueString")
    if isinstance(text, str) and text.strip():
        return text.strip(), None
    return None


def interpretation_text(observation: Resource) -> str | None:
    """The lab's own flag (e.g. High), as it wrote it."""
    return next(
        (t for i in as_list(observation.get("interpretation")) if (t := concept_label(i))), None
    )


def _interpretations(observation: Resource, kn: Knowledge) -> list[Interpretation]:
    """The lab's flags by code (v3-ObservationInterpretation): a code alone, with no display,
    still says which side of its range the result is on."""
    return [
        found
        for concept in as_list(observation.get("interpretation"))
        for c in codings(concept)
        if (found := kn.lab_interpretations.get(kn.systems.key(c["system"], c["code"])))
    ]


def _flag(coded: list[Interpretation]) -> Interpretation | None:
    """Of several flags, the one that names a side of the range (Low, not Abnormal)."""
    return next((i for i in coded if i.direction in ("low", "high")), coded[0] if coded else None)


def flag_text(
    observation: Resource, kn: Knowledge, flag: Interpretation | None = None
) -> str | None:
    """The lab's flag as it wrote it, or the display of its interpretation code when it sent
    the code alone (`flag`: that code, if already chosen). The card and the sandbox's chart
    both show this text."""
    if text := interpretation_text(observation):
        return text
    flag = flag or _flag(_interpretations(observation, kn))
    return flag.display if flag else None


def _unit_key(quantity: dict) -> str | None:
    """The unit compared: the UCUM code, else the unit as written."""
    return unit_named(quantity.get("code") or quantity.get("unit"))


def _bound(quantity: object) -> tuple[float, str | None] | None:
    if not isinstance(quantity, dict) or quantity.get("comparator") is not None:
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value), _unit_key(quantity)


def range_side(observation: Resource) -> str | None:
    """Where the value falls against the first reference range (the one the card shows): only
    when value and limit are plain numbers in the same unit. The limits are the lab's."""
    value = _bound(observation.get("valueQuantity"))
    ranges = [r for r in as_list(observation.get("referenceRange")) if isinstance(r, dict)]
    if value is None or not ranges:
        return None
    low, high = _bound(ranges[0].get("low")), _bound(ranges[0].get("high"))
    compared = False
    if low is not None and low[1] == value[1]:
        if value[0] < low[0]:
            return "low"
        compared = True
    if high is not None and high[1] == value[1]:
        if value[0] > high[0]:
            return "high"
        compared = True
    return "within" if compared else None


def _reference_range(observation: Resource) -> str | None:
    for entry in as_list(observation.get("referenceRange")):
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("text"), str) and entry["text"].strip():
            return entry["text"].strip()
        low, high = _quantity_text(entry.get("low")), _quantity_text(entry.get("high"))
        if low and high:
            return f"{low} to {high}"
        if low or high:
            return f"from {low}" if low else f"up to {high}"
    return None


def _lab_fact(
    observation: Resource,
    lab: Lab,
    value: tuple[str, str | None],
    when: str | None,
    origin: Origin,
    kn: Knowledge,
) -> LabFact:
    flag = _flag(_interpretations(observation, kn))
    return LabFact(
        lab=lab,
        value=value[0],
        unit=value[1],
        when=when[:10] if when else None,
        interpretation=flag_text(observation, kn, flag),
        reference_range=_reference_range(observation),
        status=str(observation["status"]),
        origin=origin,
        flag=flag.direction if flag else None,
        range_side=range_side(observation),
        quantity=_bound(observation.get("valueQuantity")),
    )


def read_labs(
    observations: Iterable[Resource], kn: Knowledge
) -> tuple[dict[str, LabFact], list[Problem]]:
    """The latest reported result of each lab. A heavy record holds hundreds of results and
    only the latest of each is shown, so results are validated newest first, per lab, until one
    is valid: an invalid newer result is named as a problem (and the next is shown), an older
    one is never read."""
    candidates: dict[str, list[tuple[str, int, Resource, tuple[str, str | None]]]] = {}
    labs: dict[str, Lab] = {}
    for index, observation in enumerate(observations):
        if observation.get("resourceType") != "Observation":
            continue
        status = observation.get("status")
        if not isinstance(status, str) or status not in REPORTED:
            continue
        lab = next(
            (
                kn.lab_by_code[key]
                for c in codings(observation.get("code"))
                if (key := kn.systems.key(c["system"], c["code"])) in kn.lab_by_code
            ),
            None,
        )
        value = reported_value(observation) if lab else None
        if lab is None or value is None:
            continue
        when = event_date(observation, "effectiveDateTime", "effectivePeriod", "issued")
        labs[lab.id] = lab
        candidates.setdefault(lab.id, []).append((when or "", index, observation, value))
    latest: dict[str, LabFact] = {}
    problems: list[Problem] = []
    for lab_id, results in candidates.items():
        # Newest first; of results on the same date, the first in the record.
        for when, _, observation, value in sorted(
            results, key=lambda r: (r[0], -r[1]), reverse=True
        ):
            origin = Origin(f"Observation/{observation.get('id', '?')}", WHERE)
            if error := validation_error(observation):
                problems.append(Problem(origin.reference, invalid(error), False, "labs"))
                continue
            latest[lab_id] = _lab_fact(
                observation, labs[lab_id], value, when or None, origin, kn
            )
            break
    return latest, problems
