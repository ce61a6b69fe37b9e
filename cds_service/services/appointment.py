"""The booking service, on appointment-book: a dated hold plan when the block is booked."""

from __future__ import annotations

from cds_service.data.record import PatientRecord
from cds_service.decisions import CardDecision
from cds_service.decisions.booking import decide
from cds_service.decisions.kidney import kidney_adjusted
from cds_service.facts import extract_facts
from cds_service.facts.appointments import (
    SCHEDULED,
    SERVICE_REQUESTS,
    read_appointments,
    read_scheduled,
)
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge, load_knowledge
from cds_service.services.base import CdsService
from cds_service.services.lsb import PREFETCH as ORDER_PREFETCH

# appointment-book 1.0 offers no prefetch token for the appointments themselves, so the orders
# an appointment may be `basedOn` are read as the patient's service requests, and the blocks
# already in the schedule as the patient's appointments still to come (a template has only
# context tokens: no "today", so past ones are left out in code, by the call's clock).
PREFETCH = {
    "medicationStatements": (
        "MedicationStatement?patient={{context.patientId}}&_include=MedicationStatement:medication"
    ),
    "medicationRequests": (
        "MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication"
    ),
    SERVICE_REQUESTS: "ServiceRequest?patient={{context.patientId}}",
    SCHEDULED: "Appointment?patient={{context.patientId}}&status="
    + ",".join(load_knowledge().rules.appointment_still_to_come),
    # The blocks already done (the series), allergies to what every block uses, and the lab
    # results that signal a bleeding risk or choose a kidney-dependent protocol hold: read as
    # the order services read them.
    **{
        k: ORDER_PREFETCH[k]
        for k in ("procedures", "completedServiceRequests", "allergies", "observations")
    },
}


def booking_decide(call: HookCall, record: PatientRecord, kn: Knowledge) -> list[CardDecision]:
    if call.received_at is None:
        raise ValueError("an appointment-book decision needs the time of the call")
    booked, unreadable = read_appointments(call.appointments, record, kn)
    scheduled, unchecked = read_scheduled(
        record, call.appointments, call.patient_id, call.received_at, kn
    )
    facts = extract_facts(call, record, kn)
    # As on the order services: extracted with the protocol's longest figures, dated with
    # those the patient's kidney function chooses.
    adjusted = kidney_adjusted(kn, facts.labs)
    return decide(call, facts, booked, unreadable, adjusted, scheduled, unchecked)


SERVICES = [
    CdsService(
        id="lsb-appointment-book",
        hook="appointment-book",
        title="Lumbar sympathetic block: dated hold plan at booking (appointment-book)",
        description=(
            "When a lumbar sympathetic block is booked, gives each anticoagulant and "
            "antiplatelet a dated plan (last dose, earliest restart) from the appointment's "
            "start; warns critically when the date leaves too little time for the hold; adds "
            "preparation, after-care and the follow-up, and checks the spacing of a series "
            "against the blocks done and those already in the schedule."
        ),
        prefetch=PREFETCH,
        # Unreadable medication lists, schedule or procedures give a data-quality card; an
        # unreadable order an appointment is based on is named on one. A key the EHR omitted
        # is fetched or 412 (CDS Hooks: required data that cannot be obtained).
        required=(),
        decide=booking_decide,
    ),
]
