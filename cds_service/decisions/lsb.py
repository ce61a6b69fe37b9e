"""When to suggest a lumbar sympathetic block, and when to warn about bleeding risk.

One card per concern, at the right moment:
- order-select, a pain-related order selected: the suggestion (bleeding facts as one line per
  drug inside it), or "confirm the indication" when the site or the diagnosis is not settled;
- the block itself selected (order-select) or among the orders signed (order-sign): the bleeding
  card, as loud as the drugs call for; a warning for a lab result that signals a bleeding risk
  (by the lab's own range), when no leg or foot indication is on record, and when the block's
  side is not the side of any indication;
- order-sign otherwise: nothing (the suggestion belongs to order-select).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.decisions.anatomy import split_by_limb
from cds_service.decisions.labs import lab_extension
from cds_service.decisions.model import CardDecision
from cds_service.decisions.orders import proposed_order, referral
from cds_service.decisions.pathway import PathwayView, block_cards, pathway_view, today
from cds_service.decisions.restarts import restart_lines
from cds_service.decisions.sides import wrong_sides
from cds_service.facts.model import DrugFact, Facts, IndicationFact, Stop, SupportFact
from cds_service.hook_call import HookCall
from cds_service.knowledge import Drug, Hold, Interval, Knowledge

SEVERITY = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class DrugFinding:
    """One drug, every record that names it, the hold rule to follow and how loud it is."""

    drug: Drug
    found: list[DrugFact]
    hold: Hold | None  # the first rule that applies (a clinic protocol before the guideline)
    indicator: str  # of the bleeding card when the block itself is ordered

    @property
    def latest(self) -> DrugFact:
        """The latest record that says it is taken (of the stopped ones if none does)."""
        dated = [f for f in self.current if f.recorded_on]
        return max(dated, key=lambda f: f.recorded_on) if dated else self.current[0]  # type: ignore[arg-type,return-value]

    @property
    def stale(self) -> bool:
        """Every record that says it is taken is older than the stated age."""
        return all(f.stale for f in self.current)

    @property
    def from_text_only(self) -> bool:
        return all(f.from_text for f in self.found)

    @property
    def current(self) -> list[DrugFact]:
        """The records that say it is taken (or planned); all of them if every one is stopped."""
        return [f for f in self.found if f.stopped is None] or self.found

    @property
    def stopped(self) -> Stop | None:
        """The latest stop, when every record of the drug is stopped (but recently)."""
        stops = [f.stopped for f in self.found if f.stopped]
        if len(stops) < len(self.found):
            return None
        return max(stops, key=lambda s: s.on)

    @property
    def planned(self) -> bool:
        return all(f.planned for f in self.current)

    @property
    def ordered_now(self) -> bool:
        return any(f.ordered_now for f in self.found)

    @property
    def dose_fact(self) -> DrugFact | None:
        """The record whose dose chose the hold: only when every current record's dose was
        judged, and alike (else the longest hold applies, "dose not known")."""
        classes = {f.dose_class for f in self.current}
        if len(classes) != 1 or None in classes:
            return None
        return self.current[0]

    def before(self, hold: Hold | None = None) -> Interval | None:
        """The hold before the block to follow: the dose's, else the longest."""
        hold = hold or self.hold
        if hold is None or not hold.required:
            return None
        fact = self.dose_fact
        return hold.before_for(fact.dose_class if fact else None)


def drugs_found(facts: Facts, kn: Knowledge) -> list[DrugFinding]:
    """Each drug once, the loudest first, then by name: the same order on every call."""
    by_drug: dict[str, list[DrugFact]] = defaultdict(list)
    for fact in facts.drugs:
        by_drug[fact.drug.id].append(fact)
    findings = []
    for found in by_drug.values():
        drug = found[0].drug
        holds = kn.holds_for(drug)
        indicator = kn.indicator_when_block_ordered(drug)
        findings.append(DrugFinding(drug, found, holds[0] if holds else None, indicator))
    return sorted(findings, key=lambda d: (SEVERITY[d.indicator], d.drug.name, d.drug.id))


@dataclass(frozen=True)
class Tried:
    """One treatment, opioid or amputation on the suggestion, with its latest date."""

    label: str
    when: date | None
    years_ago: int  # whole years before the call; 0 within the record age rules' limit


@dataclass(frozen=True)
class Evidence:
    """One kind of supporting evidence, summarised: a long history must not flood the card."""

    group: str
    current: list[Tried]
    past: list[Tried]
    records: int
    example: str  # one record it came from


def _tried(found: list[SupportFact], on: date | None, old_after: int) -> list[Tried]:
    """Each label once, with its latest date, the most recent first."""
    latest: dict[str, date | None] = {}
    for fact in found:
        seen = latest.get(fact.recorded_as)
        if fact.recorded_as not in latest or (fact.when and (seen is None or fact.when > seen)):
            latest[fact.recorded_as] = fact.when
    items = []
    for label, when in latest.items():
        years = 0
        if on and when and (on - when).days > old_after:
            years = _whole_years(when, on)
        items.append(Tried(label, when, years))
    return sorted(items, key=lambda t: (t.when is None, -(t.when.toordinal() if t.when else 0)))


def _whole_years(since: date, on: date) -> int:
    """Completed years from `since` to `on`, as a birthday counts them."""
    return on.year - since.year - ((on.month, on.day) < (since.month, since.day))


def summarise_support(
    facts: Facts, on: date | None, old_after: int, shown: int = 2
) -> list[Evidence]:
    """`on`: the day of the call; therapy older than `old_after` days is shown with its age."""
    by_group: dict[str, list[SupportFact]] = defaultdict(list)
    for fact in facts.support:
        by_group[fact.group].append(fact)
    summary = []
    for group, found in by_group.items():
        current = _tried([f for f in found if f.current], on, old_after)
        labels = {t.label for t in current}
        past = [
            t for t in _tried([f for f in found if not f.current], on, old_after)
            if t.label not in labels
        ]
        summary.append(
            Evidence(group, current[:shown], past[:shown], len(found), found[0].origin.reference)
        )
    return summary


def evidence_extension(
    indications: list[IndicationFact], drugs: list[DrugFinding]
) -> dict[str, Any]:
    """What a clinician does not read but an integrator needs: record ids and match methods."""
    return {
        "urn:lsb-cds-service:evidence": {
            "indications": [
                {
                    "reference": f.origin.reference,
                    "list": f.origin.where,
                    "system": f.code.system,
                    "code": f.code.code,
                    "fit": f.fit,
                    "verified": f.verified,
                    "laterality": f.laterality,
                }
                for f in indications
            ],
            "drugs": [
                {
                    "drug": d.drug.id,
                    "holdPolicy": d.hold.policy if d.hold else "unknown",
                    "records": [
                        {
                            "reference": f.origin.reference,
                            "list": f.origin.where,
                            "matchedBy": f.matched_by,
                            "recordedAs": f.recorded_as,
                            "status": f.status,
                            "recordedOn": f.recorded_on.isoformat() if f.recorded_on else None,
                            "stale": f.stale,
                            "stoppedOn": f.stopped.on.isoformat() if f.stopped else None,
                            "doseClass": f.dose_class,
                            "planned": f.planned,
                        }
                        for f in d.found
                    ],
                }
                for d in drugs
            ],
        }
    }


def decide(call: HookCall, facts: Facts, kn: Knowledge) -> list[CardDecision]:
    drugs = drugs_found(facts, kn)
    shared: dict[str, Any] = {
        "drugs": drugs,
        # Combined therapy is what is taken now: a drug stopped recently is on its own line.
        "combined": kn.drugs.combined(
            sorted((d.drug for d in drugs if not d.stopped), key=lambda d: d.name)
        ),
        "restarts": restart_lines(facts, kn),
        "facts": facts,
        "kn": kn,
        "pathway": pathway_view(call, facts, kn, [(d.drug, d.found) for d in drugs]),
    }
    if facts.lsb_selected:
        return block_ordered(facts, drugs, shared)
    if call.hook != "order-select":
        return []  # at order-sign only the safety cards, and the block is not among the orders
    if facts.lsb_in_other_drafts or not facts.pain_orders_selected:
        return []
    return suggest(call, facts, drugs, shared, kn)


def block_ordered(
    facts: Facts, drugs: list[DrugFinding], shared: dict[str, Any]
) -> list[CardDecision]:
    """The block itself is being ordered: the bleeding check, and whether it is indicated."""
    cards = []
    orders = {"orders": facts.lsb_selected}
    if drugs:
        indicator = drugs[0].indicator  # the loudest: drugs are sorted by severity
        critical = indicator == "critical"
        cards.append(
            CardDecision(
                "lsb-bleeding-risk",
                {**shared, **orders, "indicator": indicator},
                delete=[o.reference for o in facts.lsb_selected] if critical else [],
                indicator=indicator,
                extension=evidence_extension([], drugs),
            )
        )
    view: PathwayView = shared["pathway"]
    if view.lab_risks:  # with or without a drug on record
        cards.append(
            CardDecision(
                "lsb-lab-bleeding-risk",
                {**shared, **orders, "risks": view.lab_risks},
                extension=lab_extension(view.lab_risks),
            )
        )
    cards += block_cards(facts, shared)  # allergies to what the block uses, the series
    # The wider net: any active lower-limb indication, confirmed or not, is enough here. A
    # problem list not read in full cannot show there is none: the data-quality card says so.
    lower_limb, _ = split_by_limb([f for f in facts.indications if f.fit == "indicated"], facts)
    no_indication = not lower_limb
    if wrong := wrong_sides(facts.lsb_selected, lower_limb):
        extension = evidence_extension(lower_limb, [])
        extension["urn:lsb-cds-service:evidence"]["orders"] = [
            {"reference": w.order.reference, "laterality": w.order.laterality} for w in wrong
        ]
        data = {**shared, "wrong": wrong}
        cards.append(CardDecision("lsb-wrong-side", data, extension=extension))
    list_unread = any(not p.affects_medications and p.topic is None for p in facts.problems)
    if no_indication and not list_unread:
        cards.append(
            CardDecision(
                "lsb-no-indication",
                {**shared, **orders, "on_record": facts.indications},
                extension=evidence_extension(facts.indications, []),
            )
        )
    # An unread problem list matters here only if it could have held the indication; unread
    # lab results could have held a bleeding risk of their own.
    if unread := [
        p
        for p in facts.problems
        if p.affects_medications
        or p.topic in ("allergies", "labs")
        or (no_indication and p.topic is None)
    ]:
        cards.append(CardDecision("data-quality", {**shared, "problems": unread}))
    return cards


def suggest(
    call: HookCall,
    facts: Facts,
    drugs: list[DrugFinding],
    shared: dict[str, Any],
    kn: Knowledge,
) -> list[CardDecision]:
    indicated = [f for f in facts.indications if f.fit == "indicated" and f.verified]
    # Phantom limb pain follows the amputated limb: the leg, the arm, or not recorded.
    indicated, limb_unconfirmed = split_by_limb(indicated, facts)
    to_confirm = [
        f
        for f in facts.indications
        if f.fit == "uncertain" or (f.fit == "indicated" and not f.verified)
    ]
    if indicated:
        cards = [
            CardDecision(
                "lsb-suggestion",
                {
                    **shared,
                    "indications": indicated,
                    "uncertain": to_confirm,
                    "evidence": summarise_support(
                        facts, today(call), kn.rules.medication_stale_after_days
                    ),
                },
                create=proposed_order(call, indicated, kn),
                also_create=referral(call, indicated, kn),
                extension=evidence_extension(indicated + to_confirm, drugs),
            )
        ]
    elif to_confirm:
        cards = [
            CardDecision(
                "lsb-confirm-indication",
                {**shared, "indications": to_confirm},
                extension=evidence_extension(to_confirm, drugs),
            )
        ]
    elif limb_unconfirmed:
        cards = [
            CardDecision(
                "lsb-limb-unconfirmed",
                {**shared, "indications": limb_unconfirmed},
                extension=evidence_extension(limb_unconfirmed, drugs),
            )
        ]
    else:
        # No indication found, but part of the problem list was unreadable: say the check was
        # incomplete rather than let silence read as "no indication".
        unread = [p for p in facts.problems if not p.affects_medications]
        return [CardDecision("data-quality", {**shared, "problems": unread})] if unread else []
    if facts.problems:
        cards.append(CardDecision("data-quality", {**shared, "problems": facts.problems}))
    return cards
