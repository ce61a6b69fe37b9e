"""A clinic protocol's hold that follows kidney function, chosen for this patient.

The protocol's release holds the longest figure of such a drug (the safe one while kidney
function is not known); the patient's latest eGFR or creatinine clearance, where one can be
compared with the protocol's limits, chooses the figure the protocol sets for it instead."""

from __future__ import annotations

from dataclasses import replace

from cds_service.facts.model import LabFact
from cds_service.knowledge import Knowledge
from cds_service.knowledge.antithrombotics import Hold, KidneyBasis
from cds_service.knowledge.protocol import KidneyHold


def _comparable(rules: tuple[KidneyHold, ...], labs: dict[str, LabFact]) -> LabFact | None:
    """The latest kidney result every limit of the drug can be compared with (same unit)."""
    results = [
        f
        for f in labs.values()
        if f.lab.kidney_function
        and f.quantity is not None
        and all(r.unit is None or r.unit == f.quantity[1] for r in rules)
    ]
    return max(results, key=lambda f: f.when or "", default=None)


def _hold_for(usual: Hold, rules: tuple[KidneyHold, ...], result: LabFact) -> Hold:
    value = result.quantity[0]  # `_comparable` chose a result with a quantity
    basis = KidneyBasis(result.lab.label, result.value, result.unit, result.when)
    applies = [r for r in rules if value < r.below]
    if not applies:
        return replace(usual, kidney=basis)
    rule = max(applies, key=lambda r: r.before.longest)
    return replace(usual, before=(rule.before,), kidney=replace(basis, below=rule.below))


def kidney_adjusted(kn: Knowledge, labs: dict[str, LabFact]) -> Knowledge:
    """`kn` with each kidney-dependent protocol hold chosen by the patient's kidney function;
    `kn` itself when no result can choose (the longest figure stands)."""
    protocol = kn.protocol
    if protocol is None or not protocol.kidney_holds:
        return kn
    holds = dict(protocol.holds)
    for drug_id, rules in protocol.kidney_holds.items():
        if (result := _comparable(rules, labs)) is not None:
            holds[drug_id] = _hold_for(protocol.usual_holds[drug_id], rules, result)
    if holds == protocol.holds:
        return kn
    return kn.with_protocol(replace(protocol, holds=holds))
