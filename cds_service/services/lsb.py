"""The lumbar sympathetic block services, on order-select and order-sign."""

from __future__ import annotations

from cds_service.data.record import PatientRecord
from cds_service.decisions import CardDecision
from cds_service.decisions.kidney import kidney_adjusted
from cds_service.decisions.lsb import decide
from cds_service.facts import extract_facts
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge, load_knowledge
from cds_service.services.base import CdsService


def _lab_codes() -> str:
    """The LOINC codes of labs.yaml, as one `code` search parameter value."""
    return ",".join(f"{c.system}|{c.code}" for lab in load_knowledge().labs for c in lab.codes)


PREFETCH = {
    "conditions": "Condition?patient={{context.patientId}}",
    "medicationStatements": (
        "MedicationStatement?patient={{context.patientId}}&_include=MedicationStatement:medication"
    ),
    "medicationRequests": (
        "MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication"
    ),
    "procedures": "Procedure?patient={{context.patientId}}",
    "completedServiceRequests": "ServiceRequest?patient={{context.patientId}}&status=completed",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&code=" + _lab_codes(),
}


def lsb_decide(call: HookCall, record: PatientRecord, kn: Knowledge) -> list[CardDecision]:
    facts = extract_facts(call, record, kn)
    # Extracted with the protocol's longest figures (a recent stop is never dropped early);
    # decided with those the patient's kidney function chooses.
    return decide(call, facts, kidney_adjusted(kn, facts.labs))


SERVICES = [
    CdsService(
        id="lsb-order-select",
        hook="order-select",
        title="Lumbar sympathetic block: indication and bleeding risk (order-select)",
        description=(
            "When a pain-related order is selected, suggests a lumbar sympathetic block for "
            "CRPS of the leg or foot, phantom limb pain or cancer-related pain, and warns about "
            "anticoagulant and antiplatelet drugs with the ASRA Pain Medicine hold intervals. "
            "Warns critically when the block itself is selected while such a drug is active."
        ),
        prefetch=PREFETCH,
        required=("conditions",),
        decide=lsb_decide,
    ),
    CdsService(
        id="lsb-order-sign",
        hook="order-sign",
        title="Lumbar sympathetic block: indication and bleeding risk (order-sign)",
        description=(
            "At signing, the last check: warns critically when a lumbar sympathetic block is "
            "among the orders while an anticoagulant or antiplatelet is active, and suggests "
            "the block for a pain-related order when it is indicated."
        ),
        prefetch=PREFETCH,
        required=("conditions",),
        decide=lsb_decide,
    ),
]
