"""Appointments for the block (appointment-book): those being booked, and those already in
the schedule.

An Appointment is for a lumbar sympathetic block when its service type, appointment type or
reason carries the block's codes (or names it in text, as orders are read), or when it is based
on a ServiceRequest for the block. That ServiceRequest is read from the patient's service
requests (prefetch or the FHIR server); one that cannot be read is a Problem, never "not a
block". The blocks already in the schedule are read the same way from the patient's
appointments, leaving out those being booked now and those already over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cds_service.data.record import PatientRecord, Resource
from cds_service.facts import orders
from cds_service.facts.model import Problem
from cds_service.fhir_time import parse_instant
from cds_service.knowledge import Knowledge
from cds_service.reasons import Reason
from cds_service.terminology import as_list, codings, concept_label, concept_text

SERVICE_REQUESTS = "serviceRequests"
SCHEDULED = "scheduledAppointments"  # the patient's appointments already in the schedule


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
    if any(kn.systems.key(c["system"], c["code"]) in kn.procedure.codes for c in codings(concept)):
        return True
    return bool(kn.procedure.names and kn.procedure.names.search(concept_text(concept)))


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


def _recognise(
    appointment: Resource, record: PatientRecord, kn: Knowledge
) -> tuple[str | None, str | None, list[str]]:
    """How it is known to be a block (None: it is not, or not known), the order that made it
    one, and the orders it is based on that could not be read."""
    how = next((how for how, c in _concepts(appointment) if _names_block(c, kn)), None)
    if how is not None:
        return how, None, []
    unread = []
    for ref in _based_on(appointment):
        request = _service_request(ref, record)
        if request is None:
            unread.append(ref)
        elif orders.is_lsb(request, kn):
            return "the order it is based on", ref, []
    return None, None, unread


def _unread_order(reference: str, unread: list[str], record: PatientRecord) -> Problem:
    gap = record.gaps.get(SERVICE_REQUESTS)
    entries = record.unreadable.get(SERVICE_REQUESTS, 0)
    why = (
        gap.reason
        if gap
        else Reason.of("service-requests-unreadable", entries=entries)
        if entries
        else Reason("not-a-service-request")
    )
    # Not a medication problem: the drugs on record were checked all the same.
    return Problem(
        reference,
        Reason.of("order-unread", orders=", ".join(unread), because=why),
        affects_medications=False,
        topic="appointments",
    )


def _fact(appointment: Resource, how: str, based_on: str | None) -> AppointmentFact:
    return AppointmentFact(
        f"Appointment/{appointment.get('id', '?')}",
        _label(appointment),
        parse_instant(appointment.get("start")),
        parse_instant(appointment.get("end")),
        how,
        based_on,
    )


def read_appointments(
    appointments: list[Resource], record: PatientRecord, kn: Knowledge
) -> tuple[list[AppointmentFact], list[Problem]]:
    """The appointments for the block, and those that could not be told apart."""
    blocks: list[AppointmentFact] = []
    problems: list[Problem] = []
    for appointment in appointments:
        if appointment.get("resourceType") != "Appointment":
            continue
        status = appointment.get("status")
        if isinstance(status, str) and status in kn.rules.appointment_not_booked:
            continue
        how, based_on, unread = _recognise(appointment, record, kn)
        if how is not None:
            blocks.append(_fact(appointment, how, based_on))
        elif unread:
            problems.append(
                _unread_order(f"Appointment/{appointment.get('id', '?')}", unread, record)
            )
    return blocks, problems


def _identifiers(appointment: Resource) -> list[tuple[str, str]]:
    return [
        (str(i.get("system")), i["value"])
        for i in as_list(appointment.get("identifier"))
        if isinstance(i, dict) and isinstance(i.get("value"), str)
    ]


def _same_booking(scheduled: Resource, booking: list[Resource]) -> bool:
    """The schedule may already hold an appointment being booked now (the EHR saved it before
    the hook fired): the same id, a shared identifier, or the same start and end."""
    ids = {i for a in booking if isinstance(i := a.get("id"), str)}
    if isinstance(scheduled.get("id"), str) and scheduled["id"] in ids:
        return True
    identifiers = {key for a in booking for key in _identifiers(a)}
    if identifiers & set(_identifiers(scheduled)):
        return True
    start = parse_instant(scheduled.get("start"))
    end = parse_instant(scheduled.get("end"))
    return start is not None and any(
        parse_instant(a.get("start")) == start and parse_instant(a.get("end")) == end
        for a in booking
    )


def _for_patient(appointment: Resource, patient_id: str) -> bool:
    """False when its patient participants are others only (a server that ignored the filter)."""
    patients = [
        ref
        for p in as_list(appointment.get("participant"))
        if isinstance(p, dict)
        and isinstance(p.get("actor"), dict)
        and isinstance(ref := p["actor"].get("reference"), str)
        and "Patient/" in ref
    ]
    return not patients or any(ref.endswith(f"Patient/{patient_id}") for ref in patients)


def read_scheduled(
    record: PatientRecord,
    booking: list[Resource],
    patient_id: str,
    now: datetime,
    kn: Knowledge,
) -> tuple[list[AppointmentFact], list[Problem]]:
    """The blocks already in the schedule and still to come (by the call's clock), oldest
    first, and what kept any from being checked: an unreadable list, an unreadable order or
    start."""
    problems: list[Problem] = []
    if gap := record.gaps.get(SCHEDULED):
        problems.append(
            Problem(
                SCHEDULED,
                Reason.of("schedule-unread", because=gap.reason),
                affects_medications=False,
                topic="schedule",
            )
        )
    if entries := record.unreadable.get(SCHEDULED):
        problems.append(
            Problem(SCHEDULED, None, affects_medications=False, topic="schedule", entries=entries)
        )
    blocks: list[AppointmentFact] = []
    for appointment in record.resources.get(SCHEDULED, ()):
        if appointment.get("resourceType") != "Appointment":
            continue
        status = appointment.get("status")
        if isinstance(status, str) and status not in kn.rules.appointment_still_to_come:
            continue
        if _same_booking(appointment, booking) or not _for_patient(appointment, patient_id):
            continue
        how, based_on, unread = _recognise(appointment, record, kn)
        reference = f"Appointment/{appointment.get('id', '?')}"
        if not isinstance(status, str):  # missing or damaged: it may still be to come
            if how is not None:
                problems.append(
                    Problem(
                        reference,
                        Reason("schedule-status-unread"),
                        affects_medications=False,
                        topic="schedule",
                    )
                )
            continue
        if how is None:
            if unread:
                problems.append(_unread_order(reference, unread, record))
            continue
        fact = _fact(appointment, how, based_on)
        if fact.start is None:
            if appointment.get("start") is not None:  # a start, but not an instant
                problems.append(
                    Problem(
                        reference,
                        Reason("schedule-start-unread"),
                        affects_medications=False,
                        topic="schedule",
                    )
                )
            continue
        if (fact.end or fact.start) < now:
            continue  # over: a block done is read from the procedures
        blocks.append(fact)
    return sorted(blocks, key=lambda b: b.start or now), problems
