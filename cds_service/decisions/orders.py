"""The FHIR resources the suggestion offers to create: the draft block order and a referral."""

from __future__ import annotations

from typing import Any

from cds_service.facts.model import IndicationFact
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge
from cds_service.knowledge.body_sites import combined_side
from cds_service.terminology import Code


def side_of(indications: list[IndicationFact]) -> str | None:
    """The side the indications state together: left and right make bilateral."""
    return combined_side({f.laterality for f in indications if f.laterality})


def _draft(
    call: HookCall, indications: list[IndicationFact], codes: tuple[Code, ...], label: str
) -> dict[str, Any]:
    reasons = list(dict.fromkeys(f.origin.reference for f in indications))
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [c.as_coding() for c in codes], "text": label},
        "subject": {"reference": f"Patient/{call.patient_id}"},
        "reasonReference": [{"reference": r} for r in reasons],
    }
    if encounter := call.context.get("encounterId"):
        request["encounter"] = {"reference": f"Encounter/{encounter}"}
    if requester := call.context.get("userId"):
        request["requester"] = {"reference": requester}
    return request


def proposed_order(call: HookCall, indications: list[IndicationFact], kn: Knowledge) -> dict:
    """The draft block order, with the side as a coded bodySite (none when the side is unknown:
    the proceduralist decides)."""
    order = _draft(call, indications, kn.procedure.order_codes, kn.procedure.label)
    if side := side_of(indications):
        # Bilateral is both limbs: one coded site each (ServiceRequest.bodySite is 0..*).
        order["bodySite"] = [
            {"coding": [c.as_coding()]} for c in kn.body_sites.order_body_site[side]
        ]
    return order


def referral(call: HookCall, indications: list[IndicationFact], kn: Knowledge) -> dict:
    """A referral to pain medicine, for prescribers who do not perform blocks."""
    request = _draft(call, indications, kn.procedure.referral_codes, kn.procedure.referral_label)
    request["category"] = [{"coding": [c.as_coding() for c in kn.procedure.referral_category]}]
    return request
