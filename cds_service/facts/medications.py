"""Antithrombotic drugs, conservative treatments and opioids from medication records.

Records come from the medication list (MedicationStatement), prescriptions (MedicationRequest)
and the draft orders of this ordering session. A record whose medication cannot be read
becomes a Problem: an unreadable record must never pass as "no anticoagulant".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import orjson

from cds_service.data.record import PatientRecord, Resource
from cds_service.data.validation import validation_error
from cds_service.facts.dates import record_date
from cds_service.facts.dosage import Dosage, read_dosage, stop_date
from cds_service.facts.model import DrugFact, Origin, Problem, Stop, SupportFact
from cds_service.knowledge import Drug, DrugMatch, Knowledge
from cds_service.knowledge.base import CodeGroup
from cds_service.reasons import Reason, invalid
from cds_service.terminology import CodeKey, codings, concept_texts


@dataclass(frozen=True)
class MedicationConcept:
    keys: tuple[CodeKey, ...]
    text: str  # every text and display, for matching names
    label: str  # the phrase shown on a card


def medication_concept(resource: Resource, record: PatientRecord) -> MedicationConcept | Reason:
    """The coded medication of a statement or request, or why it cannot be read."""
    concept = resource.get("medicationCodeableConcept")
    if concept is None and "medicationReference" in resource:
        reference = resource["medicationReference"]
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str):
            return Reason("no-medication-reference")
        medication = record.medication(ref, resource)
        if medication is None:
            return Reason("medication-unread")
        concept = medication.get("code")
    if not isinstance(concept, dict):
        return Reason("no-medication")
    keys = tuple((c["system"], c["code"]) for c in codings(concept))
    texts = concept_texts(concept)
    if not keys and not texts:
        return Reason("medication-uncoded")
    return MedicationConcept(keys, " | ".join(texts), texts[0] if texts else "")


def match_drugs(
    concept: MedicationConcept, keys: list[CodeKey], kn: Knowledge
) -> list[tuple[Drug, str]]:
    """Antithrombotic drugs named by a medication (`keys`: its codes, normalised): by code
    first, then by name in text."""
    found: dict[str, tuple[Drug, str]] = {}
    for key in keys:
        match: DrugMatch | None = kn.drugs.by_code.get(key)
        if match:
            found.setdefault(match.drug.id, (match.drug, match.how))
    if found:
        return list(found.values())
    for system, code in keys:
        if system == kn.systems.uri("atc") and (label := kn.atc_class(code)):
            unknown = Drug(f"atc-{code}", f"a drug coded ATC {code}", label, "antithrombotic", None)
            return [(unknown, "ATC class")]
    return [(drug, "name in text") for drug in kn.drug_by_name(concept.text)]


@dataclass(frozen=True)
class ConceptReading:
    """What a medication concept means, whichever record names it."""

    concept: MedicationConcept
    keys: list[CodeKey]  # its codes, normalised
    matches: list[tuple[Drug, str]]  # antithrombotics it names, and how
    support: tuple[CodeGroup, ...]  # the treatments-tried and opioid groups it belongs to


def read_concept(concept: MedicationConcept, kn: Knowledge) -> ConceptReading:
    keys = [kn.systems.key(s, c) for s, c in concept.keys]
    return ConceptReading(
        concept, keys, match_drugs(concept, keys, kn), kn.support_groups(keys, concept.text)
    )


class ConceptReader:
    """Reads each distinct medication concept once per call: a long medication list names the
    same few drugs again and again (1,500 statements, 31 concepts in the heavy fixture)."""

    def __init__(self, record: PatientRecord, kn: Knowledge) -> None:
        self._record = record
        self._kn = kn
        self._read: dict[bytes, ConceptReading | Reason] = {}

    def __call__(self, resource: Resource) -> ConceptReading | Reason:
        inline = resource.get("medicationCodeableConcept")
        if not isinstance(inline, dict):  # a reference, or nothing: read as it is
            return self._read_one(resource)
        try:
            key = orjson.dumps(inline)
        except TypeError:
            return self._read_one(resource)
        if key not in self._read:
            self._read[key] = self._read_one(resource)
        return self._read[key]

    def _read_one(self, resource: Resource) -> ConceptReading | Reason:
        concept = medication_concept(resource, self._record)
        return concept if isinstance(concept, Reason) else read_concept(concept, self._kn)


def _counts(resource: Resource, kn: Knowledge) -> bool | None:
    """True if the record's status makes it count, False if ignored, None if unknown."""
    status = resource.get("status")
    if not isinstance(status, str):
        return None  # missing or malformed: unknown (and the record fails validation)
    rules = kn.rules
    if resource.get("resourceType") == "MedicationStatement":
        counts, ignored = rules.statement_counts, rules.statement_ignored
    else:
        counts, ignored = rules.request_counts, rules.request_ignored
    if status in counts:
        return True
    if status in ignored:
        return False
    return None


def _stopped_statuses(resource: Resource, kn: Knowledge) -> frozenset[str]:
    if resource.get("resourceType") == "MedicationStatement":
        return kn.rules.statement_stopped
    return kn.rules.request_stopped


def recent_stop(
    drug: Drug, dose_class: str | None, on: date, today: date, kn: Knowledge
) -> Stop | None:
    """A stop on `on` that the block must still heed today: within the drug's hold (its
    longest `before`, or the dose's), else within the stated look-back; None when long past.

    The last dose may have been late on `on`, so a hold counts from the next day's start: N
    days end on day on + N (the block on the day after, as the booking plan counts), hours
    end on the day the elapsed time runs out."""
    holds = kn.holds_for(drug)
    hold = holds[0] if holds else None
    before = hold.before_for(dose_class) if hold and hold.required else None
    days_ago = max((today - on).days, 0)
    if before is not None:
        clear = datetime.combine(on + timedelta(days=1), datetime.min.time(), UTC) + before.longest
        clear_day = (
            clear.date()
            if clear.time() == datetime.min.time()
            else clear.date() + timedelta(days=1)
        )
        ends_on = clear_day - timedelta(days=1)
        return Stop(on, days_ago, ends_on, before) if today <= ends_on else None
    look_back = kn.rules.stopped_look_back
    if look_back is not None and today - on <= look_back.longest:
        return Stop(on, days_ago, None, None)
    return None


def _drug_facts(
    resource: Resource,
    matches: list[tuple[Drug, str]],
    reading: ConceptReading,
    dosage: Dosage,
    origin: Origin,
    ended: date | None,
    today: date | None,
    kn: Knowledge,
) -> list[DrugFact]:
    """One fact per drug the record names, with its dose and intent; a stopped record only for
    the drugs it stopped recently (`ended`: its stop date)."""
    concept = reading.concept
    intent = resource.get("intent")
    planned = isinstance(intent, str) and intent in kn.rules.request_planned_intents
    status = str(resource.get("status") or "not recorded")
    recorded_as = concept.label or ", ".join(code for _, code in concept.keys)
    recorded_on = record_date(resource)
    facts = []
    for drug, how in matches:
        dose, judged = dosage.dose, None
        if dose and drug.dose_rule:
            judged = drug.dose_rule.judge(dose.value, dose.unit, dose.per_day)
        dose_class = judged[0] if judged else None
        stop = None
        if ended and today:
            stop = recent_stop(drug, dose_class, min(ended, today), today, kn)
            if stop is None:
                continue  # stopped long enough ago
        facts.append(
            DrugFact(
                drug,
                how,
                recorded_as,
                status,
                origin,
                recorded_on,
                dose=dose if drug.dose_rule else None,
                dose_class=dose_class,
                dose_in_label=bool(judged and judged[1]),
                stopped=stop,
                planned=planned,
            )
        )
    return facts


def read_medications(
    sources: Iterable[tuple[Resource, str]],
    record: PatientRecord,
    kn: Knowledge,
    collect_support: bool = True,
    today: date | None = None,
    ordered_now: bool = False,
) -> tuple[list[DrugFact], list[SupportFact], list[Problem]]:
    """`sources` pairs each medication record with where it was read.

    Support (treatments tried, opioid use) is read from the patient's history, not from the
    orders being placed now: `collect_support=False` for draft orders, `ordered_now=True`.
    `today` dates the check for records too old to trust and for drugs stopped recently (none
    flagged or shown without it).
    """
    stale_before = today - timedelta(days=kn.rules.medication_stale_after_days) if today else None
    read = ConceptReader(record, kn)
    drugs: list[DrugFact] = []
    support: list[SupportFact] = []
    problems: list[Problem] = []
    for resource, where in sources:
        if resource.get("resourceType") not in ("MedicationStatement", "MedicationRequest"):
            continue
        origin = Origin(f"{resource['resourceType']}/{resource.get('id', '?')}", where)
        if resource.get("status") == "entered-in-error":
            continue
        reading = read(resource)
        if isinstance(reading, Reason):
            problems.append(Problem(origin.reference, reading))
            continue
        concept = reading.concept
        counts = _counts(resource, kn)
        status = str(resource.get("status") or "not recorded")
        matches = reading.matches
        dosage: Dosage | None = None
        if matches:  # heparin keeping a catheter open is not anticoagulation
            dosage = read_dosage(resource, concept.text, kn)
            matches = [
                (d, how)
                for d, how in matches
                if not kn.drugs.lock_flush.applies(
                    d, concept.text, dosage.instructions, dosage.has_rate
                )
            ]
        current = counts or (counts is None and kn.rules.unknown_status_counts)
        ended = None
        if matches and not current and today and status in _stopped_statuses(resource, kn):
            ended = stop_date(resource)
        if matches and dosage and (current or ended):
            facts = _drug_facts(resource, matches, reading, dosage, origin, ended, today, kn)
            if facts and (error := validation_error(resource)):  # warned about all the same
                problems.append(Problem(origin.reference, invalid(error)))
            recorded_on = facts[0].recorded_on if facts else None
            stale = bool(current and stale_before and recorded_on and recorded_on < stale_before)
            drugs += [replace(f, stale=stale, ordered_now=ordered_now) for f in facts]
        if not collect_support:
            continue
        for group in reading.support:
            current = bool(counts)
            label = concept.label or group.label
            support.append(SupportFact(group.label, label, current, origin, record_date(resource)))
    return drugs, support, problems
