"""Indications and amputation status from the patient's Condition resources."""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.data.record import Resource
from cds_service.data.validation import validation_error
from cds_service.facts.model import AmputationFact, IndicationFact, Origin, Problem, SupportFact
from cds_service.knowledge import Knowledge
from cds_service.knowledge.body_sites import combined_side
from cds_service.reasons import invalid
from cds_service.terminology import Code, as_list, codings, concept_label, first_code

WHERE = "conditions"  # the prefetch key


def is_current(condition: Resource, kn: Knowledge) -> bool:
    rules = kn.rules
    verification = first_code(condition.get("verificationStatus"))
    if verification in rules.condition_excluded_verification:
        return False
    if any(k.startswith("abatement") for k in condition):
        return False
    clinical = first_code(condition.get("clinicalStatus"))
    if clinical is None:
        return rules.condition_missing_status_counts
    return clinical in rules.condition_active


def is_verified(condition: Resource, kn: Knowledge) -> bool:
    """Confirmed, or no verification status at all while the clinical status says active:
    enough to suggest an invasive procedure. Provisional and differential diagnoses are not."""
    rules = kn.rules
    verification = first_code(condition.get("verificationStatus"))
    if verification is None:
        return first_code(condition.get("clinicalStatus")) in rules.suggestion_unverified_needs
    return verification in rules.suggestion_verification


def lower_limb_site(condition: Resource, kn: Knowledge) -> tuple[bool, str | None]:
    """Whether the condition's bodySite is in the leg or foot, and the side it states."""
    sides: set[str] = set()
    found = False
    for concept in as_list(condition.get("bodySite")):
        for coding in codings(concept):
            key = kn.systems.key(coding["system"], coding["code"])
            if key in kn.body_sites.lower_limb:
                found = True
                if side := kn.body_sites.lower_limb[key]:
                    sides.add(side)
    return found, combined_side(sides)


def read_conditions(
    conditions: Iterable[Resource], kn: Knowledge
) -> tuple[list[IndicationFact], list[SupportFact], list[AmputationFact], list[Problem]]:
    indications: list[IndicationFact] = []
    support: list[SupportFact] = []
    amputations: list[AmputationFact] = []
    problems: list[Problem] = []
    for condition in conditions:
        if condition.get("resourceType") != "Condition":
            continue
        matched = []
        amputation = upper = False
        for coding in codings(condition.get("code")):
            key = kn.systems.key(coding["system"], coding["code"])
            if (indication := kn.indication_by_code.get(key)) is not None:
                code = Code(key[0], key[1], coding.get("display"))
                side = indication.laterality.get(key)
                matched.append((indication, code, None if side == "unspecified" else side))
            amputation = amputation or key in kn.amputation_lower
            upper = upper or key in kn.amputation_upper
        if not matched and not amputation and not upper:
            continue  # cheap path: most conditions are irrelevant and never validated
        origin = Origin(f"Condition/{condition.get('id', '?')}", WHERE)
        if error := validation_error(condition):
            problems.append(Problem(origin.reference, invalid(error), affects_medications=False))
            continue
        if not is_current(condition, kn):
            continue
        verified = is_verified(condition, kn)
        verification = first_code(condition.get("verificationStatus"))
        in_leg, site_side = lower_limb_site(condition, kn)
        for indication, code, laterality in matched:
            fit = indication.lsb
            from_site = indication.lower_limb_site_indicates and in_leg
            if from_site:
                fit = "indicated"
            side = laterality or (site_side if in_leg else None)
            indications.append(
                IndicationFact(
                    indication, code, side, origin, fit, from_site, verified, verification
                )
            )
        text = concept_label(condition.get("code")) or "amputation"
        if amputation:
            support.append(SupportFact("Lower-limb amputation", text, True, origin))
        if amputation or upper:
            amputations.append(AmputationFact("lower" if amputation else "upper", text, origin))
    return indications, support, amputations, problems
