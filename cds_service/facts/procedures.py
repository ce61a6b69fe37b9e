"""Past procedures: earlier blocks, treatments tried, amputations (Procedure, ServiceRequest).

A completed ServiceRequest counts only where no Procedure records the same work (`basedOn`):
the Procedure is the better record of what was done and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from cds_service.data.record import Resource
from cds_service.data.validation import validation_error
from cds_service.facts.dates import as_date, event_date
from cds_service.facts.model import AmputationFact, BlockFact, Origin, Problem, SupportFact
from cds_service.facts.orders import is_lsb
from cds_service.knowledge import Knowledge
from cds_service.knowledge.base import CodeGroup
from cds_service.reasons import invalid
from cds_service.terminology import CodeKey, as_list, codings, concept_label, concept_text

WHEN = {
    "Procedure": ("performedDateTime", "performedPeriod"),
    "ServiceRequest": ("occurrenceDateTime", "occurrencePeriod", "authoredOn"),
}


def fulfilled_requests(procedures: Iterable[Resource]) -> set[str]:
    """`ServiceRequest/<id>` of the requests that a Procedure says it fulfilled."""
    refs = set()
    for procedure in procedures:
        for ref in as_list(procedure.get("basedOn")):
            value = ref.get("reference") if isinstance(ref, dict) else None
            parts = value.rstrip("/").split("/") if isinstance(value, str) else []
            if len(parts) >= 2:
                refs.add(f"{parts[-2]}/{parts[-1]}")
    return refs


def _counts(resource: Resource, kn: Knowledge) -> bool:
    status = resource.get("status")
    if not isinstance(status, str):
        return False  # a malformed status is no evidence that the procedure was done
    if resource.get("resourceType") == "ServiceRequest":
        return status == "completed"
    return isinstance(status, str) and status in kn.procedure_history.counts


@dataclass(frozen=True)
class ProcedureConcept:
    """What a procedure's code means, whichever record names it."""

    keys: list[CodeKey]  # its codes, normalised
    block: bool  # a lumbar sympathetic block
    treatment: CodeGroup | None  # a treatment tried (physical therapy, injections, ...)
    limb: str | None  # an amputation: "lower" or "upper"


def read_concept(resource: Resource, kn: Knowledge) -> ProcedureConcept:
    history = kn.procedure_history
    code = resource.get("code")
    keys = [kn.systems.key(c["system"], c["code"]) for c in codings(code)]
    text = concept_text(code)
    block = is_lsb(resource, kn)
    treatment = None if block else next(
        (g for g in (*history.treatments, *kn.treatments) if g.matches(keys, text)), None
    )
    limb = (
        "lower" if history.amputation_lower.matches(keys, text)
        else "upper" if history.amputation_upper.matches(keys, text)
        else None
    )
    return ProcedureConcept(keys, block, treatment, limb)


class ConceptReader:
    """Reads each distinct procedure code once per call: a long history repeats the same few
    procedures (300 records, a handful of codes in the heavy fixture), and matching one
    against every name list is the costly part."""

    def __init__(self, kn: Knowledge) -> None:
        self._kn = kn
        self._read: dict[tuple[str, bytes], ProcedureConcept] = {}

    def __call__(self, kind: str, resource: Resource) -> ProcedureConcept:
        try:
            key = (kind, orjson.dumps(resource.get("code")))
        except TypeError:  # not JSON orjson can write (an integer past 64 bits): read as it is
            return read_concept(resource, self._kn)
        if key not in self._read:
            self._read[key] = read_concept(resource, self._kn)
        return self._read[key]


def read_procedures(
    sources: list[tuple[Resource, str]], kn: Knowledge
) -> tuple[list[BlockFact], list[SupportFact], list[AmputationFact], list[Problem]]:
    """`sources` pairs each Procedure or completed ServiceRequest with where it was read."""
    blocks: list[BlockFact] = []
    support: list[SupportFact] = []
    amputations: list[AmputationFact] = []
    problems: list[Problem] = []
    read = ConceptReader(kn)
    procedures = (r for r, _ in sources if r.get("resourceType") == "Procedure")
    done_elsewhere = fulfilled_requests(procedures)
    for resource, where in sources:
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in WHEN or not _counts(resource, kn):
            continue
        reference = f"{kind}/{resource.get('id', '?')}"
        if kind == "ServiceRequest" and reference in done_elsewhere:
            continue
        concept = read(kind, resource)
        block, treatment = concept.block, concept.treatment
        if not (block or treatment or concept.limb):
            continue  # most procedures are irrelevant and never validated
        origin = Origin(reference, where)
        if error := validation_error(resource):
            problems.append(Problem(reference, invalid(error), False, "procedures"))
            continue
        code = resource.get("code")
        label = concept_label(code) or ", ".join(c for _, c in concept.keys) or "procedure"
        when = event_date(resource, *WHEN[kind])
        if block:
            blocks.append(BlockFact(as_date(when), label, origin))
        elif treatment:
            support.append(SupportFact(treatment.label, label, False, origin, as_date(when)))
        if concept.limb:
            amputations.append(AmputationFact(concept.limb, label, origin))
    blocks.sort(key=lambda b: (b.when is None, b.when))
    return blocks, support, amputations, problems
