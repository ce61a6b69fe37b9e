"""Allergies and intolerances to what the block uses, from AllergyIntolerance resources.

A record that names no substance, or that is not valid FHIR, is a Problem: an allergy list
that could not be read must never pass as "no contrast allergy".
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.data.record import Resource
from cds_service.data.validation import validation_error
from cds_service.facts.model import AllergyFact, Origin, Problem
from cds_service.knowledge import Knowledge
from cds_service.knowledge.base import CodeGroup
from cds_service.reasons import Reason, invalid
from cds_service.terminology import (
    CodeKey,
    as_list,
    codings,
    concept_label,
    concept_text,
    first_code,
)

WHERE = "allergies"  # the prefetch key


def _counts(allergy: Resource, kn: Knowledge) -> bool:
    rules = kn.allergies
    if first_code(allergy.get("verificationStatus")) in rules.excluded_verification:
        return False
    clinical = first_code(allergy.get("clinicalStatus"))
    return rules.missing_status_counts if clinical is None else clinical in rules.active


def _reaction_texts(allergy: Resource) -> tuple[list[str], list[str]]:
    """Substances named in reactions (for matching) and the manifestations (to show)."""
    substances, manifestations = [], []
    for reaction in as_list(allergy.get("reaction")):
        if not isinstance(reaction, dict):
            continue
        substances.append(concept_text(reaction.get("substance")))
        for m in as_list(reaction.get("manifestation")):
            if label := concept_label(m):
                manifestations.append(label)
    return substances, list(dict.fromkeys(manifestations))


def _how(group: CodeGroup, keys: list[CodeKey], coded_text: str) -> str:
    """How a record matched: by a code the knowledge lists; by the name of the record's own
    code (a coded record whose code the knowledge does not list: not free text); else by a
    name in its text."""
    if any(k in group.codes for k in keys):
        return "code"
    if keys and group.matches([], coded_text):
        return "name of its code"
    return "name in text"


def read_allergies(
    allergies: Iterable[Resource], kn: Knowledge
) -> tuple[list[AllergyFact], list[Problem]]:
    found: list[AllergyFact] = []
    problems: list[Problem] = []
    for allergy in allergies:
        if allergy.get("resourceType") != "AllergyIntolerance" or not _counts(allergy, kn):
            continue
        origin = Origin(f"AllergyIntolerance/{allergy.get('id', '?')}", WHERE)
        code = allergy.get("code")
        keys = [kn.systems.key(c["system"], c["code"]) for c in codings(code)]
        substances, reactions = _reaction_texts(allergy)
        text = " | ".join(t for t in (concept_text(code), *substances) if t)
        if not keys and not text:
            problems.append(Problem(origin.reference, Reason("no-substance"), False, "allergies"))
            continue
        matched = [
            (g, _how(g, keys, concept_text(code)))
            for g in kn.allergies.groups
            if g.matches(keys, text)
        ]
        if not matched:
            continue
        if error := validation_error(allergy):  # shown all the same
            problems.append(Problem(origin.reference, invalid(error), False, "allergies"))
        criticality = allergy.get("criticality")
        for group, how in matched:
            found.append(
                AllergyFact(
                    group=group.label,
                    recorded_as=concept_label(code) or text or ", ".join(c for _, c in keys),
                    matched_by=how,
                    criticality=criticality if isinstance(criticality, str) else None,
                    reactions=tuple(reactions),
                    origin=origin,
                )
            )
    return found, problems
