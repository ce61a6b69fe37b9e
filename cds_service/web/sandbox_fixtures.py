"""The sandbox's patients: the fixture hook requests, a short chart summary of each, and the
request the sandbox sends for a chosen order and hook.

Reads only the fields a person needs to recognise the patient; the service itself never uses
this module.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from cds_service.facts.appointments import SCHEDULED
from cds_service.facts.conditions import is_current
from cds_service.facts.orders import is_lsb
from cds_service.fhir_time import parse_instant
from cds_service.knowledge import load_knowledge
from cds_service.web import sandbox_records
from cds_service.web.sandbox_records import ChartList, ChartRow

# The repository's fixtures, found beside the package in a source checkout (`pip install -e`).
DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
LSB_REF = "ServiceRequest/sandbox-lsb"  # the block the sandbox adds to the order pad
HOOKS = ("order-select", "order-sign")
BOOKING = "appointment-book"  # its fixtures show the appointments, with a date to book
CHART_LIMIT = 8  # rows per list: the heavy fixture has thousands


@dataclass(frozen=True)
class Fixture:
    name: str
    label: str
    path: Path

    def request(self) -> dict[str, Any]:
        return _read(self.path)


@dataclass
class Order:
    ref: str
    text: str
    selected: bool = False  # selected in the fixture itself
    is_block: bool = False


@dataclass
class Booked:
    ref: str
    text: str
    start: str  # as the fixture gives it


@dataclass
class Chart:
    patient: str
    encounter: str
    hook: str
    conditions: ChartList
    medications: ChartList
    orders: list[Order]
    appointments: list[Booked] = field(default_factory=list)
    procedures: ChartList = field(default_factory=ChartList)
    allergies: ChartList = field(default_factory=ChartList)
    labs: ChartList = field(default_factory=ChartList)
    schedule: ChartList = field(default_factory=ChartList)  # appointment-book only


@cache
def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def fixtures(folder: str | None) -> dict[str, Fixture]:
    """Fixture requests by name, with a label from the expected file's description."""
    requests = Path(folder) if folder else DEFAULT_FIXTURES
    found: dict[str, Fixture] = {}
    for path in sorted(requests.glob("*.json")) if requests.is_dir() else ():
        label = path.stem.replace("-", " ")
        expected = requests.parent / "expected" / path.name
        if expected.is_file():
            description = str(_read(expected).get("description", ""))
            label = f"{path.stem[:2]} · {description.split(':')[0]}"
        found[path.stem] = Fixture(path.stem, label, path)
    return found


def _concept_text(concept: dict[str, Any] | None) -> tuple[str, str]:
    """(text, code) of a CodeableConcept: its text or first display, and its first code."""
    concept = concept or {}
    codings = [c for c in concept.get("coding") or () if isinstance(c, dict)]
    first = codings[0] if codings else {}
    text = concept.get("text") or first.get("display") or first.get("code") or "(no text)"
    return str(text), str(first.get("code") or "")


def _status(resource: dict[str, Any], key: str) -> str:
    value = resource.get(key)
    if isinstance(value, dict):
        return _concept_text(value)[1]
    return str(value or "")


def _resources(value: Any, kinds: tuple[str, ...]) -> tuple[list[dict[str, Any]], str]:
    """The matching resources of a prefetch value, or why there are none."""
    if value is None:  # the EHR found nothing
        return [], ""
    if not isinstance(value, dict):
        return [], "not readable"
    if value.get("resourceType") == "OperationOutcome":
        return [], "could not be fetched by the EHR (OperationOutcome)"
    entries = value.get("entry") or ()
    found = [e.get("resource") for e in entries if isinstance(e, dict)]
    return [r for r in found if isinstance(r, dict) and r.get("resourceType") in kinds], ""


def _summarise(rows: list[ChartRow], problem: str) -> ChartList:
    rows.sort(key=lambda r: not r.active)  # active first, like a problem list
    note = "" if rows or problem else "none on record"
    return ChartList(rows[:CHART_LIMIT], max(0, len(rows) - CHART_LIMIT), problem, note)


def _read_section(
    prefetch: dict[str, Any], key: str, kind: str
) -> tuple[list[dict[str, Any]], str] | ChartList:
    """The `kind` resources under `key` and why they could not be read, or a ChartList
    saying the prefetch has no such key (every hook reads these sections)."""
    if key not in prefetch:
        return ChartList(note="not supplied in prefetch")
    return _resources(prefetch[key], (kind,))


def _procedures(prefetch: dict[str, Any]) -> ChartList:
    done = _read_section(prefetch, "procedures", "Procedure")
    ordered = _read_section(prefetch, "completedServiceRequests", "ServiceRequest")
    if isinstance(done, ChartList) and isinstance(ordered, ChartList):
        return done
    found: dict[str, list[dict[str, Any]]] = {}
    problems = []
    for label, read in (("procedures", done), ("completed orders", ordered)):
        resources, problem = ([], "") if isinstance(read, ChartList) else read
        found[label] = resources
        if problem:
            problems.append(f"{label} {problem}")
    rows = sandbox_records.procedure_rows(found["procedures"], found["completed orders"])
    return _summarise(rows, "; ".join(problems))


def _allergies(prefetch: dict[str, Any]) -> ChartList:
    read = _read_section(prefetch, "allergies", "AllergyIntolerance")
    if isinstance(read, ChartList):
        return read
    return _summarise(sandbox_records.allergy_rows(read[0]), read[1])


def _labs(prefetch: dict[str, Any]) -> ChartList:
    read = _read_section(prefetch, "observations", "Observation")
    if isinstance(read, ChartList):
        return read
    return _summarise(sandbox_records.lab_rows(read[0]), read[1])


def _schedule(prefetch: dict[str, Any]) -> ChartList:
    read = _read_section(prefetch, SCHEDULED, "Appointment")
    if isinstance(read, ChartList):
        return read
    return _summarise(sandbox_records.schedule_rows(read[0]), read[1])


def _conditions(prefetch: dict[str, Any]) -> ChartList:
    if "conditions" not in prefetch:
        return ChartList(problem="not supplied in prefetch")
    found, problem = _resources(prefetch["conditions"], ("Condition",))
    rows = []
    for resource in found:
        text, code = _concept_text(resource.get("code"))
        status = _status(resource, "clinicalStatus")
        verification = _status(resource, "verificationStatus")
        if verification in ("refuted", "entered-in-error"):
            status = verification
        elif resource.get("abatementDateTime") or resource.get("abatementPeriod"):
            status = f"{status}, abated" if status else "abated"
        rows.append(ChartRow(text, code, status, is_current(resource, load_knowledge())))
    return _summarise(rows, problem)


def _medication_name(resource: dict[str, Any], included: dict[str, dict[str, Any]]) -> str:
    if "medicationCodeableConcept" in resource:
        return _concept_text(resource["medicationCodeableConcept"])[0]
    reference = (resource.get("medicationReference") or {}).get("reference", "")
    contained = {f"#{c.get('id')}": c for c in resource.get("contained") or ()}
    medication = contained.get(reference) or included.get(reference)
    if medication:
        return _concept_text(medication.get("code"))[0]
    return reference or "(no medication recorded)"


def _medications(prefetch: dict[str, Any]) -> ChartList:
    rules = load_knowledge().rules  # the service's own status rules (record_rules.yaml)
    counting = {
        "MedicationStatement": rules.statement_counts,
        "MedicationRequest": rules.request_counts,
    }
    rows: list[ChartRow] = []
    problems = []
    for key, kind in (("medicationStatements", "statement"), ("medicationRequests", "order")):
        if key not in prefetch:
            continue
        value = prefetch[key]
        found, problem = _resources(value, ("MedicationStatement", "MedicationRequest"))
        if problem:
            problems.append(f"{kind} list {problem}")
        media, _ = _resources(value, ("Medication",))
        included = {f"Medication/{m.get('id')}": m for m in media}
        for resource in found:
            status = str(resource.get("status") or "")
            name = _medication_name(resource, included)
            rows.append(ChartRow(name, kind, status, status in counting[resource["resourceType"]]))
    return _summarise(rows, "; ".join(problems))


def _order_text(resource: dict[str, Any]) -> str:
    for key in ("medicationCodeableConcept", "code"):
        if key in resource:
            return _concept_text(resource[key])[0]
    return resource.get("resourceType", "order")


def _is_block(resource: dict[str, Any]) -> bool:
    return is_lsb(resource, load_knowledge())  # the service's own rule, not a copy of it


def _draft_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = (request.get("context") or {}).get("draftOrders") or {}
    found = [e.get("resource") for e in bundle.get("entry") or () if isinstance(e, dict)]
    return [r for r in found if isinstance(r, dict)]


def orders(request: dict[str, Any]) -> list[Order]:
    """The fixture's draft orders, and a lumbar sympathetic block when none is on the pad."""
    selections = set((request.get("context") or {}).get("selections") or ())
    found = []
    for resource in _draft_resources(request):
        ref = f"{resource.get('resourceType')}/{resource.get('id')}"
        found.append(Order(ref, _order_text(resource), ref in selections, _is_block(resource)))
    if not any(o.is_block for o in found):
        kn = load_knowledge()
        names = {uri: name.upper() for name, uri in kn.systems.uri_by_name.items()}
        codes = ", ".join(
            f"{names.get(c.system, c.system)} {c.code}" for c in kn.procedure.order_codes
        )
        found.append(Order(LSB_REF, f"{kn.procedure.label} ({codes})", is_block=True))
    return found


def _appointment_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = (request.get("context") or {}).get("appointments") or {}
    found = [e.get("resource") for e in bundle.get("entry") or () if isinstance(e, dict)]
    return [r for r in found if isinstance(r, dict)]


def appointments(request: dict[str, Any]) -> list[Booked]:
    """The appointments an appointment-book fixture books, in date order."""
    found = []
    for resource in _appointment_resources(request):
        text = resource.get("description") or ""
        for concept in resource.get("serviceType") or ():
            text = _concept_text(concept)[0]
            break
        ref = f"Appointment/{resource.get('id')}"
        found.append(Booked(ref, str(text or "appointment"), str(resource.get("start") or "")))
    return sorted(found, key=lambda b: b.start)


def first_day(request: dict[str, Any]) -> str:
    """The day of the earliest appointment (YYYY-MM-DD), the date picker's starting value."""
    starts = [parse_instant(r.get("start")) for r in _appointment_resources(request)]
    days = sorted(s.date() for s in starts if s is not None)
    return days[0].isoformat() if days else ""


def chart(request: dict[str, Any]) -> Chart:
    context = request.get("context") or {}
    prefetch = request.get("prefetch") or {}
    booking = request.get("hook") == BOOKING
    return Chart(
        patient=str(context.get("patientId", "")),
        encounter=str(context.get("encounterId", "")),
        hook=str(request.get("hook", "")),
        conditions=ChartList(note="not read by this hook") if booking else _conditions(prefetch),
        medications=_medications(prefetch),
        orders=[] if booking else orders(request),
        appointments=appointments(request) if booking else [],
        procedures=_procedures(prefetch),
        allergies=_allergies(prefetch),
        labs=_labs(prefetch),
        schedule=_schedule(prefetch) if booking else ChartList(),
    )


def build_booking(request: dict[str, Any], day: str) -> dict[str, Any]:
    """The fixture's appointment-book request with its first appointment moved to `day`; the
    others move with it, keeping their time, offset and spacing."""
    built = copy.deepcopy(request)
    built["hookInstance"] = str(uuid.uuid4())
    first = first_day(request)
    if not day or not first:
        return built
    try:
        shift = date.fromisoformat(day) - date.fromisoformat(first)
    except ValueError:
        raise ValueError("date must be YYYY-MM-DD") from None
    for resource in _appointment_resources(built):
        for name in ("start", "end"):
            moment = parse_instant(resource.get(name))
            if moment is not None:
                resource[name] = (moment + timedelta(days=shift.days)).isoformat()
    return built


def default_order(request: dict[str, Any]) -> str:
    """The order the fixture itself selects (order-select), else the first on the pad."""
    if request.get("hook") == BOOKING:
        return ""
    listed = orders(request)
    chosen = next((o for o in listed if o.selected), listed[0])
    return chosen.ref


def block_order(context: dict[str, Any]) -> dict[str, Any]:
    """A draft lumbar sympathetic block, as the ordering clinician would put it on the pad."""
    kn = load_knowledge()  # the codes the service itself orders the block with
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": LSB_REF.split("/")[1],
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [c.as_coding() for c in kn.procedure.order_codes],
            "text": kn.procedure.label,
        },
        "subject": {"reference": f"Patient/{context.get('patientId', '')}"},
    }
    if context.get("encounterId"):
        resource["encounter"] = {"reference": f"Encounter/{context['encounterId']}"}
    if context.get("userId"):
        resource["requester"] = {"reference": context["userId"]}
    return resource


def build_request(request: dict[str, Any], order: str, hook: str, day: str = "") -> dict[str, Any]:
    """The fixture's request for `hook` with `order` selected (order-select) or on the pad;
    appointment-book fixtures with their first appointment on `day`.

    order-sign signs every order on the pad, so it has no selections. A new hookInstance each
    time, as an EHR sends for every call.
    """
    if request.get("hook") == BOOKING or hook == BOOKING:
        if request.get("hook") != BOOKING:
            raise ValueError("this patient's fixture books no appointment")
        return build_booking(request, day)
    if hook not in HOOKS:
        raise ValueError(f"hook must be one of {', '.join(HOOKS)}")
    if order not in {o.ref for o in orders(request)}:
        raise ValueError("order is not on this patient's order pad")
    built = copy.deepcopy(request)
    built["hook"] = hook
    built["hookInstance"] = str(uuid.uuid4())
    context = built.setdefault("context", {})
    if order == LSB_REF:
        pad = context.setdefault("draftOrders", {"resourceType": "Bundle", "type": "collection"})
        pad.setdefault("entry", []).append({"resource": block_order(context)})
    if hook == "order-select":
        context["selections"] = [order]
    else:
        context.pop("selections", None)
    return built
