"""When to suggest a lumbar sympathetic block, and when to warn about bleeding risk."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from cds_service.decisions.anatomy import split_by_limb
from cds_service.decisions.model import CardDecision
from cds_service.decisions.pathway import block_cards, pathway_view
from cds_service.facts.model import DrugFact, Facts, IndicationFact, SupportFact
from cds_service.hook_call import HookCall
from cds_service.knowledge import Drug, Knowledge


def drugs_found(facts: Facts) -> list[tuple[Drug, list[DrugFact]]]:
    """Each drug once, with every record that names it."""
    by_drug: dict[str, list[DrugFact]] = defaultdict(list)
    for fact in facts.drugs:
        by_drug[fact.drug.id].append(fact)
    return [(found[0].drug, found) for found in by_drug.values()]


@dataclass(frozen=True)
class Evidence:
    """One kind of supporting evidence, summarised: a long history must not flood the card."""

    group: str
    current: list[str]
    past: list[str]
    records: int
    example: str  # one record it came from


def summarise_support(facts: Facts, shown: int = 3) -> list[Evidence]:
    by_group: dict[str, list[SupportFact]] = defaultdict(list)
    for fact in facts.support:
        by_group[fact.group].append(fact)
    summary = []
    for group, found in by_group.items():
        current = list(dict.fromkeys(f.recorded_as for f in found if f.current))
        past = [p for p in dict.fromkeys(f.recorded_as for f in found if not f.current)]
        past = [p for p in past if p not in current]
        summary.append(
            Evidence(group, current[:shown], past[:shown], len(found), found[0].origin.reference)
        )
    return summary


def proposed_order(call: HookCall, indications: list[IndicationFact], kn: Knowledge) -> dict:
    """The draft ServiceRequest that the suggestion asks the EHR to create."""
    reasons = list(dict.fromkeys(f.origin.reference for f in indications))
    sides = sorted({f.laterality for f in indications if f.laterality})
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [c.as_coding() for c in kn.procedure_order_codes],
            "text": kn.procedure_label,
        },
        "subject": {"reference": f"Patient/{call.patient_id}"},
        "reasonReference": [{"reference": r} for r in reasons],
    }
    if encounter := call.context.get("encounterId"):
        order["encounter"] = {"reference": f"Encounter/{encounter}"}
    if requester := call.context.get("userId"):
        order["requester"] = {"reference": requester}
    if sides:
        order["note"] = [{"text": "Side as coded on the indication: " + ", ".join(sides)}]
    return order


def decide(call: HookCall, facts: Facts, kn: Knowledge) -> list[CardDecision]:
    drugs = drugs_found(facts)
    medication_problems = [
        p for p in facts.problems if p.affects_medications or p.topic == "allergies"
    ]
    shared = {
        "drugs": drugs,
        "facts": facts,
        "kn": kn,
        "pathway": pathway_view(call, facts, kn, drugs),
    }

    if facts.lsb_selected:
        # The block is being ordered now: the bleeding check is all that matters.
        cards = []
        if drugs:
            cards.append(
                CardDecision(
                    "lsb-bleeding-risk",
                    {**shared, "orders": facts.lsb_selected},
                    delete=[o.reference for o in facts.lsb_selected],
                )
            )
        cards += block_cards(facts, shared)
        if medication_problems:
            cards.append(CardDecision("data-quality", {**shared, "problems": medication_problems}))
        return cards

    if facts.lsb_in_other_drafts or not facts.pain_orders_selected:
        return []
    indicated = [f for f in facts.indications if f.indication.lsb == "indicated"]
    uncertain = [f for f in facts.indications if f.indication.lsb == "uncertain"]
    indicated, limb_unconfirmed = split_by_limb(indicated, facts)
    if indicated:
        cards = [
            CardDecision(
                "lsb-suggestion",
                {
                    **shared,
                    "indications": indicated,
                    "uncertain": uncertain,
                    "evidence": summarise_support(facts),
                },
                create=proposed_order(call, indicated, kn),
            )
        ]
    elif uncertain:
        cards = [CardDecision("lsb-site-uncertain", {**shared, "indications": uncertain})]
    elif limb_unconfirmed:
        cards = [CardDecision("lsb-limb-unconfirmed", {**shared, "indications": limb_unconfirmed})]
    else:
        # No indication found, but part of the problem list was unreadable: say the check was
        # incomplete rather than let silence read as "no indication".
        unread = [p for p in facts.problems if not p.affects_medications]
        return [CardDecision("data-quality", {**shared, "problems": unread})] if unread else []
    if drugs:
        cards.append(CardDecision("antithrombotic-warning", shared))
    if facts.problems:
        cards.append(CardDecision("data-quality", {**shared, "problems": facts.problems}))
    return cards
