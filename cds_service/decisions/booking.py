"""When a lumbar sympathetic block is booked: a dated hold plan per appointment, a critical
card when the booking leaves no time for the hold, preparation and after-care, and the spacing
of a series (with the blocks done and those already in the schedule). No wording here: that
lives in `cards/`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from cds_service.decisions.hold_dates import DatedHold, Moment, date_hold
from cds_service.decisions.labs import lab_extension, lab_risks
from cds_service.decisions.lsb import DrugFinding, drugs_found, evidence_extension
from cds_service.decisions.model import CardDecision
from cds_service.decisions.pathway import current_series
from cds_service.decisions.restarts import restart_lines
from cds_service.facts.appointments import AppointmentFact
from cds_service.facts.model import BlockFact, Facts, Problem
from cds_service.hook_call import HookCall
from cds_service.knowledge import Drug, Hold, Knowledge

UNDATED = datetime.min.replace(tzinfo=UTC)  # a sort key only: never compared as a date


@dataclass(frozen=True)
class DrugPlan:
    finding: DrugFinding  # the drug and every record that names it
    hold: Hold | None  # the rule followed: the first of `holds_for`, None when none is known
    dated: DatedHold | None  # None without an interval or without a start time
    differs: Hold | None = None  # the guideline's figure where a clinic protocol differs from it

    @property
    def drug(self) -> Drug:
        return self.finding.drug

    @property
    def too_soon(self) -> bool:
        return bool(self.dated and self.dated.too_soon)

    @property
    def unconfirmed(self) -> bool:
        """No confirmed interval for a drug the order cards call critical: no date can be
        shown safe, so no booking is (the fail-safe reading: docs/booking.md)."""
        known = self.hold is not None and self.hold.policy != "unknown"
        return not known and self.finding.indicator == "critical"


@dataclass(frozen=True)
class BlockPlan:
    appointment: AppointmentFact
    number: int  # its place among the blocks booked in this call, in date order
    drugs: list[DrugPlan] = field(default_factory=list)
    # Its number in the series: the blocks done and those already in the schedule before it,
    # and its place among those booked now (0: not counted, as it has no start).
    in_series: int = 0

    @property
    def too_soon(self) -> list[DrugPlan]:
        return [d for d in self.drugs if d.too_soon]

    @property
    def unconfirmed(self) -> list[DrugPlan]:
        return [d for d in self.drugs if d.unconfirmed]

    @property
    def day(self) -> date | None:
        start = self.appointment.start
        return start.date() if start else None


BlockSource = Literal["done", "scheduled", "booked"]


@dataclass(frozen=True)
class SpacedBlock:
    """A block on the series' timeline: done (on record), already in the schedule, or booked
    now. Its day is in the appointment's own offset (a done block has a date only)."""

    day: date
    source: BlockSource
    appointment: AppointmentFact | None = None  # None for a block done


@dataclass(frozen=True)
class Spacing:
    first: SpacedBlock
    second: SpacedBlock
    days: int  # calendar days between the two blocks


def plan_drug(
    finding: DrugFinding, booked: AppointmentFact, kn: Knowledge, now: datetime
) -> DrugPlan:
    holds = kn.holds_for(finding.drug)
    hold = holds[0] if holds else None
    before = finding.before(hold)  # the dose's hold where the dose is known, else the longest
    dated = None
    if before is not None and booked.start is not None:
        restart = hold.restart if hold else None
        dated = date_hold(before, restart, booked.start, booked.end, now)
        dated = since_stop(dated, finding, booked.start)
    other = holds[1] if len(holds) > 1 and holds[1].required else None
    if other is not None and hold is not None and (other.before, other.restart) == (
        hold.before,
        hold.restart,
    ):
        other = None  # the same figures: once is enough
    return DrugPlan(finding, hold, dated, other)


def since_stop(dated: DatedHold, finding: DrugFinding, start: datetime) -> DatedHold:
    """A drug already stopped: its hold ran from its last dose, not from now; the block must
    fall after the hold's last day."""
    stop = finding.stopped
    if stop is None or stop.hold_ends_on is None:
        return dated
    return replace(
        dated,
        last_dose=Moment(stop.on),
        too_soon=start.date() <= stop.hold_ends_on,
        earliest=Moment(stop.hold_ends_on + timedelta(days=1)),
    )


def _in_date_order(appointments: list[AppointmentFact]) -> list[AppointmentFact]:
    """By start instant (offsets compared); those without a start last, as given."""
    return sorted(appointments, key=lambda a: (a.start is None, a.start or UNDATED))


def too_close(
    plans: list[BlockPlan],
    done: BlockFact | None,
    scheduled: list[AppointmentFact],
    kn: Knowledge,
) -> list[Spacing]:
    """Neighbouring blocks closer together than the pathway's follow-up after the earlier one,
    where at least one of the two is booked now: the last block done, the blocks already in the
    schedule and those booked now, on one timeline. Two blocks both booked before this call
    were checked when they were booked."""
    shortest = kn.pathway.follow_up.longest.days
    timeline = [
        SpacedBlock(p.day, "booked", p.appointment) for p in plans if p.day is not None
    ] + [SpacedBlock(a.start.date(), "scheduled", a) for a in scheduled if a.start is not None]
    # Same day: the one already in the schedule first, so the booked one follows it.
    timeline.sort(key=lambda b: (b.day, b.source == "booked"))
    if done is not None and done.when is not None:
        timeline.insert(0, SpacedBlock(done.when, "done"))
    return [
        Spacing(first, second, (second.day - first.day).days)
        for first, second in pairwise(timeline)
        if "booked" in (first.source, second.source)
        and (second.day - first.day).days < shortest
    ]


def place_in_series(
    plan: BlockPlan,
    plans: list[BlockPlan],
    facts: Facts,
    scheduled: list[AppointmentFact],
    kn: Knowledge,
) -> int:
    """How many blocks the series has up to and including this one: walking back from its
    day over blocks no further apart than the series gap (as `current_series` does)."""
    if plan.day is None:
        return 0
    days = sorted(
        [b.when for b in facts.blocks if b.when is not None and b.when <= plan.day]
        + [a.start.date() for a in scheduled if a.start and a.start.date() <= plan.day]
        + [p.day for p in plans if p.day is not None and p.number < plan.number]
    )
    count, last = 1, plan.day
    for day in reversed(days):
        if last - day > kn.pathway.series_gap.longest:
            break
        count, last = count + 1, day
    return count


def earlier_in_series(facts: Facts, plans: list[BlockPlan], kn: Knowledge) -> list[BlockFact]:
    """The blocks on record in the series the first booked block continues (oldest first)."""
    first_day = next((p.day for p in plans if p.day is not None), None)
    if first_day is None:
        return []
    series = current_series(facts, kn, first_day)
    return list(series.blocks) if series else []


def follow_up_request(call: HookCall, last: BlockPlan, kn: Knowledge) -> dict[str, Any] | None:
    """The follow-up to schedule after the last block booked: an order with the pathway's
    window, which the clinic's scheduling books (the EHR owns the calendar)."""
    if last.day is None:
        return None
    window = kn.pathway.follow_up
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"text": f"Follow-up visit after {kn.procedure.label.lower()}"},
        "subject": {"reference": f"Patient/{call.patient_id}"},
        "occurrencePeriod": {
            "start": (last.day + window.shortest).isoformat(),
            "end": (last.day + window.longest).isoformat(),
        },
        "supportingInfo": [{"reference": last.appointment.reference}],
    }
    if encounter := call.context.get("encounterId"):
        order["encounter"] = {"reference": f"Encounter/{encounter}"}
    if requester := call.context.get("userId"):
        order["requester"] = {"reference": requester}
    return order


def decide(
    call: HookCall,
    facts: Facts,
    booked: list[AppointmentFact],
    unreadable: list[Problem],
    kn: Knowledge,
    scheduled: list[AppointmentFact],
    unchecked: list[Problem],
) -> list[CardDecision]:
    """`scheduled`: the blocks already in the schedule and still to come; `unchecked`: what
    kept the schedule from being read (the spacing card cannot speak for those)."""
    # The procedures hold the last block done, which the spacing counts from.
    safety_problems = [
        p
        for p in facts.problems
        if p.affects_medications or p.topic in ("allergies", "procedures", "labs")
    ]
    if not booked:
        # Silence would read as "not a block": say which appointments could not be told apart.
        return [CardDecision("data-quality", {"problems": unreadable})] if unreadable else []
    now = call.received_at
    if now is None:
        raise ValueError("an appointment-book decision needs the time of the call")
    drugs = drugs_found(facts, kn)  # each drug once, the loudest first
    plans = [
        BlockPlan(a, n, [plan_drug(d, a, kn, now) for d in drugs])
        for n, a in enumerate(_in_date_order(booked), start=1)
    ]
    plans = [replace(p, in_series=place_in_series(p, plans, facts, scheduled, kn)) for p in plans]
    earlier = earlier_in_series(facts, plans, kn)
    shared = {"kn": kn, "now": now, "count": len(plans), "earlier": earlier, "first": plans[0]}
    shared["restarts"] = restart_lines(facts, kn)  # NSAIDs: a restart time on the hold plan
    extension = booking_extension(plans, drugs, earlier, scheduled)
    cards = []
    for plan in plans:
        if plan.too_soon:
            cards.append(
                CardDecision("booking-too-soon", {**shared, "plan": plan}, extension=extension)
            )
        if plan.drugs:
            # As loud as the order cards: a drug they call critical for want of a confirmed
            # interval is critical here too (kn.indicator_when_block_ordered).
            cards.append(
                CardDecision(
                    "booking-hold-plan",
                    {**shared, "plan": plan},
                    indicator="critical" if plan.unconfirmed else None,
                    extension=extension,
                )
            )
    risks, limits = lab_risks(facts, kn)
    if risks:  # with or without a drug on record
        cards.append(
            CardDecision(
                "booking-lab-bleeding-risk",
                {**shared, "risks": risks, "limits": limits},
                extension=lab_extension(risks),
            )
        )
    if facts.allergies:  # contrast and local anaesthetic are given at every block
        cards.append(CardDecision("allergy-warning", {"allergies": facts.allergies}))
    if spacing := too_close(plans, earlier[-1] if earlier else None, scheduled, kn):
        cards.append(
            CardDecision(
                "booking-series-spacing", {**shared, "pairs": spacing}, extension=extension
            )
        )
    follow_up = follow_up_request(call, plans[-1], kn)
    cards.append(
        CardDecision(
            "booking-preparation",
            {
                **shared,
                "plans": plans,
                "scheduled": scheduled,
                "follow_up": follow_up,
                "window": kn.pathway.follow_up,
            },
            create=follow_up,
            extension=extension,
        )
    )
    if problems := safety_problems + unreadable + unchecked:
        cards.append(CardDecision("data-quality", {"problems": problems}))
    return cards


def booking_extension(
    plans: list[BlockPlan],
    drugs: list[DrugFinding],
    earlier: list[BlockFact],
    scheduled: list[AppointmentFact],
) -> dict[str, Any]:
    """Record ids and match methods, for integrators: the cards' text names none."""
    extension = evidence_extension([], drugs)
    extension["urn:lsb-cds-service:booking"] = {
        "appointments": [
            {
                "reference": p.appointment.reference,
                "recognisedBy": p.appointment.recognised_by,
                "basedOn": p.appointment.based_on,
            }
            for p in plans
        ],
        "earlierBlocks": [b.origin.reference for b in earlier],
        "scheduledBlocks": [
            {"reference": a.reference, "recognisedBy": a.recognised_by, "basedOn": a.based_on}
            for a in scheduled
        ],
    }
    return extension
