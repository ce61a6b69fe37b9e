"""Phantom limb pain and the limb: a lumbar sympathetic block treats the leg and foot only."""

from __future__ import annotations

from cds_service.facts.model import Facts, IndicationFact


def split_by_limb(
    indicated: list[IndicationFact], facts: Facts
) -> tuple[list[IndicationFact], list[IndicationFact]]:
    """(still indicated, limb not confirmed). A fact whose indication depends on the amputated
    limb stays indicated with a lower-limb amputation on record, is dropped when only upper-limb
    ones are, and needs the limb confirmed when none is."""
    limbs = {a.limb for a in facts.amputations}
    keep: list[IndicationFact] = []
    unconfirmed: list[IndicationFact] = []
    for fact in indicated:
        stated = fact.indication.stated_limb.get((fact.code.system, fact.code.code))
        if fact.indication.anatomy != "amputated-limb" or stated == "lower" or "lower" in limbs:
            keep.append(fact)
        elif not limbs:
            unconfirmed.append(fact)
        # only upper-limb amputations: not an indication for a lumbar block
    return keep, unconfirmed
