"""The appointments being booked (appointment-book): which are for the block, and when.

An Appointment is for a lumbar sympathetic block when its service type, appointment type or
reason carries the block's codes (or names it in text, as orders are read), or when it is based
on a ServiceRequest for the block. That ServiceRequest is read from the patient's service
requests (prefetch or the FHIR server); one that cannot be read is a Problem, never "not a
block".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cds_service.data.record import PatientRecord, Resource
from cds_service.facts import orders
from cds_service.facts.model import Problem
from cds_service.fhir_time import parse_instant
from cds_service.knowledge import Knowledge
from cds_service.terminology import as_list, codings, concept_label, concept_text

SERVICE_REQUESTS = "serviceRequests"
NOT_BOOKED = ("cancelled", "entered-in-error", "noshow")


@dataclass(frozen=True)
class AppointmentFact:
    reference: str  # "Appointment/apt-1"
    label: str  # its own words: service type, appointment type or description
    start: datetime | None  # None: a proposed appointment without a time yet
    end: datetime | None
    recognised_by: str  # "its service type", "the order it is based on", ...
    based_on: str | None = None  # the ServiceRequest that made it a block, if one did


def _concepts(appointment: Resource) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [
        ("its service type", c) for c in as_list(appointment.get("serviceType"))
    ]
    found.append(("its appointment type", appointment.get("appointmentType")))
    found += [("its reason", c) for c in as_list(appointment.get("reasonCode"))]
    return found


def _names_block(concept: object, kn: Knowledge) -> bool:
    if any(kn.systems.key(c["system"], c["code"]) in kn.procedure_codes for c in codings(concept)):
        return True
    return bool(kn.procedure_names and kn.procedure_names.search(concept_text(concept)))


def _label(appointment: Resource) -> str:
    for _, concept in _concepts(appointment):
        if label := concept_label(concept):
            return label
    description = appointment.get("description")
    return description if isinstance(description, str) and description else "appointment"


def _based_on(appointment: Resource) -> list[str]:
    refs = []
    for item in as_list(appointment.get("basedOn")):
        ref = item.get("reference") if isinstance(item, dict) else None
        if isinstance(ref, str) and "ServiceRequest/" in ref:
            refs.append("ServiceRequest/" + ref.rstrip("/").split("/")[-1])
    return refs


def _service_request(ref: str, record: PatientRecord) -> Resource | None:
    wanted = ref.split("/")[-1]
    for resource in record.resources.get(SERVICE_REQUESTS, ()):
        if resource.get("resourceType") == "ServiceRequest" and resource.get("id") == wanted:
            return resource
    return None


def read_appointments(
    appointments: list[Resource], record: PatientRecord, kn: Knowledge
) -> tuple[list[AppointmentFact], list[Problem]]:
    """The appointments for the block, and those that could not be told apart."""
    blocks: list[AppointmentFact] = []
    problems: list[Problem] = []
    for appointment in appointments:
        if appointment.get("resourceType") != "Appointment":
            continue
        if appointment.get("status") in NOT_BOOKED:
            continue
        reference = f"Appointment/{appointment.get('id', '?')}"
        how = next((how for how, c in _concepts(appointment) if _names_block(c, kn)), None)
        based_on = None
        unread = []
        for ref in _based_on(appointment) if how is None else ():
            request = _service_request(ref, record)
            if request is None:
                unread.append(ref)
            elif orders.is_lsb(request, kn):
                how, based_on = "the order it is based on", ref
                break
        if how is None:
            if unread:
                gap = record.gaps.get(SERVICE_REQUESTS)
                why = gap.reason if gap else "it is not among the patient's service requests"
                problems.append(
                    Problem(
                        reference,
                        f"it is based on {', '.join(unread)}, which could not be read ({why}): "
                        "whether it books a lumbar sympathetic block is not known",
                    )
                )
            continue
        blocks.append(
            AppointmentFact(
                reference,
                _label(appointment),
                parse_instant(appointment.get("start")),
                parse_instant(appointment.get("end")),
                how,
                based_on,
            )
        )
    return blocks, problems
