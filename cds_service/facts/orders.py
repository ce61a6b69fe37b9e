"""What is being ordered: the selected orders and the other draft orders of the session."""

from __future__ import annotations

from cds_service.data.record import PatientRecord, Resource
from cds_service.facts.medications import MedicationConcept, medication_concept
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge
from cds_service.knowledge.body_sites import combined_side
from cds_service.terminology import CodeKey, as_list, codings, concept_label, concept_text


def order_reference(order: Resource) -> str:
    return f"{order.get('resourceType')}/{order.get('id')}"


def _order_concept(order: Resource, record: PatientRecord) -> MedicationConcept | None:
    if order.get("resourceType") == "MedicationRequest":
        concept = medication_concept(order, record)
        return concept if isinstance(concept, MedicationConcept) else None
    code = order.get("code")
    keys = tuple((c["system"], c["code"]) for c in codings(code))
    return MedicationConcept(keys, concept_text(code), concept_label(code))


def is_lsb(order: Resource, kn: Knowledge) -> bool:
    if order.get("resourceType") not in ("ServiceRequest", "Procedure"):
        return False
    code = order.get("code")
    if any(kn.systems.key(c["system"], c["code"]) in kn.procedure.codes for c in codings(code)):
        return True
    return bool(kn.procedure.names and kn.procedure.names.search(concept_text(code)))


def is_pain_related(order: Resource, record: PatientRecord, kn: Knowledge) -> bool:
    if kn.triggers.mode == "any-order":
        return True
    concept = _order_concept(order, record)
    if concept is None:
        return False
    keys: list[CodeKey] = [kn.systems.key(s, c) for s, c in concept.keys]
    if any(g.matches(keys, concept.text) for g in kn.triggers.groups):
        return True
    if any(k in kn.triggers.codes for k in keys):
        return True
    return bool(kn.triggers.names and kn.triggers.names.search(concept.text))


def selected_orders(call: HookCall) -> list[Resource]:
    """order-select: the selections; order-sign: every draft order (all are being signed)."""
    drafts = call.draft_orders
    if call.hook != "order-select":
        return drafts
    selected = set(call.context.get("selections") or ())
    return [o for o in drafts if order_reference(o) in selected]


def label(order: Resource, record: PatientRecord) -> str:
    concept = _order_concept(order, record)
    return (concept.label if concept and concept.label else None) or order_reference(order)


def laterality(order: Resource, kn: Knowledge) -> str | None:
    """The side an order's bodySite states (a lateralised leg or foot structure, or a laterality
    qualifier): left, right, bilateral (both sides stated), or None."""
    sides = {
        side
        for concept in as_list(order.get("bodySite"))
        for c in codings(concept)
        if (side := kn.body_sites.side(kn.systems.key(c["system"], c["code"])))
    }
    return combined_side(sides)
