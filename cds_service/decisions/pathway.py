"""The block's pathway from the record: earlier blocks in the series, allergies to what the
block uses, the clinic's protocol, the lab results for the antithrombotics on record (kidney
function for those cleared by the kidneys) and any result that signals a bleeding risk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from cds_service.decisions.labs import lab_risks
from cds_service.decisions.model import CardDecision
from cds_service.facts.model import BlockFact, DrugFact, Facts, LabFact
from cds_service.hook_call import HookCall
from cds_service.knowledge import Drug, Hold, Knowledge, Lab
from cds_service.knowledge.protocol import LabLimit


@dataclass(frozen=True)
class ProtocolHold:
    drug: Drug
    hold: Hold  # the clinic protocol's
    guideline: Hold | None  # the guideline's confirmed hold, where it differs


@dataclass(frozen=True)
class Series:
    blocks: list[BlockFact]  # the current series, oldest first
    days_since_last: int | None
    too_soon: bool  # within the last block's follow-up window or before it: judge it first
    full: bool  # the series already has the clinic's number of blocks
    follow_up_due: bool = False  # the window has opened (its first day counts): due, not "not yet"


@dataclass
class PathwayView:
    """What the cards say about the pathway; the wording is in cards/pathway.j2."""

    blocks: list[BlockFact] = field(default_factory=list)  # every earlier block on record
    series: Series | None = None
    protocol_holds: list[ProtocolHold] = field(default_factory=list)
    protocol_citation: str | None = None
    labs: list[LabFact] = field(default_factory=list)
    labs_missing: list[Lab] = field(default_factory=list)
    lab_risks: list[LabFact] = field(default_factory=list)  # bleeding risk by the lab's range
    lab_limits: dict[str, LabLimit] = field(default_factory=dict)  # protocol limits passed


def today(call: HookCall) -> date:
    return (call.received_at or datetime.now(UTC)).astimezone(UTC).date()


def current_series(facts: Facts, kn: Knowledge, on: date) -> Series | None:
    """The blocks chained by gaps no longer than the series gap, ending at the latest one, if
    that one is itself within the gap of `on`; None when no series is under way."""
    dated = [(b.when, b) for b in facts.blocks if b.when is not None and b.when <= on]
    if not dated:
        return None
    gap = kn.pathway.series_gap.longest
    last = dated[-1][0]
    if on - last > gap:
        return None
    series = [dated[-1]]
    for when, block in reversed(dated[:-1]):
        if series[0][0] - when > gap:
            break
        series.insert(0, (when, block))
    return Series(
        blocks=[b for _, b in series],
        days_since_last=(on - last).days,
        too_soon=on - last < kn.pathway.follow_up.longest,
        follow_up_due=on - last >= kn.pathway.follow_up.shortest,
        full=len(series) >= kn.pathway.blocks_per_series,
    )


def _protocol_holds(drugs: list[tuple[Drug, list[DrugFact]]], kn: Knowledge) -> list[ProtocolHold]:
    found = []
    for drug, _ in drugs:
        holds = kn.holds_for(drug)
        if not holds or not kn.protocol or holds[0].source is None:
            continue
        if holds[0].source.key != "local-protocol":
            continue
        guideline = holds[1] if len(holds) > 1 and holds[1].required else None
        if guideline and (guideline.before, guideline.restart) == (
            holds[0].before,
            holds[0].restart,
        ):
            guideline = None  # the same figures: once is enough
        found.append(ProtocolHold(drug, holds[0], guideline))
    return found


def pathway_view(
    call: HookCall, facts: Facts, kn: Knowledge, drugs: list[tuple[Drug, list[DrugFact]]]
) -> PathwayView:
    view = PathwayView(blocks=list(facts.blocks), series=current_series(facts, kn, today(call)))
    view.protocol_holds = _protocol_holds(drugs, kn)
    view.protocol_citation = kn.protocol.citation if kn.protocol else None
    view.lab_risks, view.lab_limits = lab_risks(facts, kn)
    hold_labs = tuple(lab for d, _ in drugs if d.hold for lab in d.hold.labs)
    renal = any(d.id in kn.renally_cleared for d, _ in drugs)
    shown = [lab for lab in kn.labs if drugs and lab.shown_with(hold_labs, renal)]
    # A result that signals a bleeding risk is shown whatever the drugs; a group of labs that
    # stand in for each other (eGFR, creatinine clearance) is said missing once, if none has one.
    found = {lab.group for lab in shown if lab.group and lab.id in facts.labs}
    for lab in kn.labs:
        result = facts.labs.get(lab.id)
        if result and (lab in shown or result in view.lab_risks):
            view.labs.append(result)
        elif lab in shown and not result and (lab.group is None or lab.group not in found):
            view.labs_missing.append(lab)
            if lab.group:
                found.add(lab.group)
    return view


def block_cards(facts: Facts, shared: dict) -> list[CardDecision]:
    """Cards for a block being ordered now: allergies to what it uses, and the series."""
    cards = []
    if facts.allergies:
        cards.append(CardDecision("allergy-warning", {**shared, "allergies": facts.allergies}))
    view: PathwayView = shared["pathway"]
    if view.series and (view.series.too_soon or view.series.full):
        cards.append(CardDecision("lsb-series", shared))
    return cards
