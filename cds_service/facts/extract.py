"""Turns a patient record and a hook call into Facts."""

from __future__ import annotations

from cds_service.data.record import PatientRecord
from cds_service.facts import orders
from cds_service.facts.allergies import read_allergies
from cds_service.facts.conditions import read_conditions
from cds_service.facts.medications import read_medications
from cds_service.facts.model import Facts, OrderFact, Problem
from cds_service.facts.observations import read_labs
from cds_service.facts.procedures import read_procedures
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge

# The lists whose records are read (their words are in cards/reasons.yaml).
LISTS = (
    "conditions",
    "medicationStatements",
    "medicationRequests",
    "procedures",
    "completedServiceRequests",
    "allergies",
    "observations",
)
# The topic of a list that could not be read, for the data-quality card's words.
TOPICS = {
    "procedures": "procedures",
    "completedServiceRequests": "procedures",
    "allergies": "allergies",
    "observations": "labs",
}
MEDICATION_KEYS = ("medicationStatements", "medicationRequests")
DRAFTS = "draftOrders"  # the hook context field


def extract_facts(call: HookCall, record: PatientRecord, kn: Knowledge) -> Facts:
    facts = Facts()
    facts.indications, amputations, limbs, problems = read_conditions(
        record.resources.get("conditions", ()), kn
    )
    facts.support += amputations
    facts.amputations += limbs
    facts.problems += problems
    _read_history(facts, record, kn)

    history = [
        (resource, key)
        for key in MEDICATION_KEYS
        for resource in record.resources.get(key, ())
    ]
    today = call.received_at.date() if call.received_at else None
    drugs, support, problems = read_medications(history, record, kn, today=today)
    facts.drugs += drugs
    facts.support += support
    facts.problems += problems
    drafts = [(order, DRAFTS) for order in call.draft_orders]
    # Orders placed in this session are current by definition: no staleness check.
    drugs, _, problems = read_medications(
        drafts, record, kn, collect_support=False, ordered_now=True
    )
    facts.drugs += drugs
    facts.problems += problems

    for key, gap in record.gaps.items():
        facts.problems.append(
            Problem(
                key,
                gap.reason,
                affects_medications=key in MEDICATION_KEYS,
                topic=TOPICS.get(key),
            )
        )

    # Entries of a list that could not be read: said as a whole unreadable list is, so a
    # missing drug or indication never reads as "none on record".
    for key, count in record.unreadable.items():
        if key in LISTS:
            facts.problems.append(
                Problem(
                    key,
                    None,
                    affects_medications=key in MEDICATION_KEYS,
                    topic=TOPICS.get(key),
                    entries=count,
                )
            )

    selected = orders.selected_orders(call)
    selected_refs = {orders.order_reference(o) for o in selected}
    for order in call.draft_orders:
        fact = OrderFact(
            orders.order_reference(order),
            orders.label(order, record),
            orders.laterality(order, kn),
        )
        is_selected = fact.reference in selected_refs
        if orders.is_lsb(order, kn):
            (facts.lsb_selected if is_selected else facts.lsb_in_other_drafts).append(fact)
        elif is_selected and orders.is_pain_related(order, record, kn):
            facts.pain_orders_selected.append(fact)
    return facts


def _read_history(facts: Facts, record: PatientRecord, kn: Knowledge) -> None:
    """Past procedures, allergies and lab results: what the block's pathway needs."""
    done = [
        (resource, key)
        for key in ("procedures", "completedServiceRequests")
        for resource in record.resources.get(key, ())
    ]
    blocks, treatments, limbs, problems = read_procedures(done, kn)
    facts.blocks += blocks
    facts.support += treatments
    facts.amputations += limbs
    facts.problems += problems
    facts.allergies, problems = read_allergies(record.resources.get("allergies", ()), kn)
    facts.problems += problems
    facts.labs, problems = read_labs(record.resources.get("observations", ()), kn)
    facts.problems += problems
