"""Anticoagulant and antiplatelet drugs (antithrombotics.yaml): codes, names, hold intervals.

Intervals are data a program computes with: a number and a unit (`h` elapsed hours, `d`
calendar days), never a sentence. The words a clinician reads are in `cards/`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from cds_service.knowledge.base import (
    WORD,
    KnowledgeError,
    Reader,
    Source,
    cited,
    names_pattern,
)
from cds_service.terminology import CodeKey

# interval: the guideline (or a clinic protocol) gives a hold before the block.
# shared-assessment: no fixed interval; decide with the prescriber (aspirin).
# not-required: no hold for an intermediate-risk procedure (cilostazol, dipyridamole).
# unknown: no confirmed figure; the card must say so and never guess.
HoldPolicy = Literal["interval", "shared-assessment", "not-required", "unknown"]
POLICIES: tuple[HoldPolicy, ...] = ("interval", "shared-assessment", "not-required", "unknown")
Unit = Literal["h", "d"]
LAB_CHECKS = frozenset({"inr-normal"})


@dataclass(frozen=True)
class Interval:
    """`value` hours or calendar days; `high` makes it a range (12 to 24 hours)."""

    value: int
    unit: Unit
    high: int | None = None
    when: str | None = None  # the dose or situation it applies to: "therapeutic dose"

    def _span(self, n: int) -> timedelta:
        return timedelta(hours=n) if self.unit == "h" else timedelta(days=n)

    @property
    def longest(self) -> timedelta:
        return self._span(self.high or self.value)

    @property
    def shortest(self) -> timedelta:
        return self._span(self.value)


@dataclass(frozen=True)
class KidneyBasis:
    """Why a clinic protocol's kidney-dependent hold has its figure for this patient: the
    kidney result it was chosen by (`lab` None: no result the protocol's limits can be compared
    with, so the longest figure) and the limit that result fell below (`below` None: none, so
    the usual figure)."""

    lab: str | None = None  # "eGFR", as labs.yaml labels it
    value: str | None = None
    unit: str | None = None
    when: str | None = None  # the result's date, as recorded
    below: float | None = None


@dataclass(frozen=True)
class Hold:
    policy: HoldPolicy
    before: tuple[Interval, ...]  # one, or one per dose; empty unless policy is "interval"
    restart: Interval | None
    labs: tuple[str, ...]  # checks before the block, e.g. "inr-normal"
    note: str | None
    source: Source | None
    kidney: KidneyBasis | None = None  # set where a clinic protocol's hold follows kidney function

    @property
    def confirmed(self) -> bool:
        return self.policy != "unknown"

    @property
    def required(self) -> bool:
        """The drug must be held before the block (a figure is known)."""
        return self.policy == "interval"

    @property
    def longest_before(self) -> Interval | None:
        """The longest hold: the safe choice when the dose is not known."""
        return max(self.before, key=lambda i: i.longest, default=None)

    def before_for(self, dose_class: str | None) -> Interval | None:
        """The hold for a dose class ("prophylactic dose"), else the longest."""
        chosen = [i for i in self.before if dose_class and i.when == dose_class]
        return chosen[0] if chosen else self.longest_before


@dataclass(frozen=True)
class Regimen:
    """A dose of the label's: up to `value` `unit` per administration, `per_day` a day."""

    when: str  # the class it belongs to, as the hold interval's `when` names it
    value: float
    unit: str  # "mg" | "mg/kg"
    per_day: float


@dataclass(frozen=True)
class DoseRule:
    """Which hold a dose calls for: the first regimen it fits (same unit, no more per
    administration, no more often), else `otherwise` (the longer hold: the safe side)."""

    regimens: tuple[Regimen, ...]
    otherwise: str
    source: Source | None

    def judge(self, value: float, unit: str, per_day: float | None) -> tuple[str, bool] | None:
        """The dose class, and whether a label regimen holds the dose (False: `otherwise`);
        None when the dose cannot be judged (frequency not known, or a unit the rule does not
        use)."""
        if per_day is None or unit not in {r.unit for r in self.regimens}:
            return None
        for r in self.regimens:
            if r.unit == unit and value <= r.value and per_day <= r.per_day:
                return r.when, True
        return self.otherwise, False

    def classify(self, value: float, unit: str, per_day: float | None) -> str | None:
        judged = self.judge(value, unit, per_day)
        return judged[0] if judged else None


@dataclass(frozen=True)
class Drug:
    id: str
    name: str
    class_label: str
    kind: str  # anticoagulant | antiplatelet
    hold: Hold | None
    dose_rule: DoseRule | None = None  # which dose calls for which hold (enoxaparin)


@dataclass(frozen=True)
class DrugMatch:
    drug: Drug
    how: str  # which route matched: "RxNorm product", "RxNorm ingredient", "ATC", ...


@dataclass(frozen=True)
class LockFlush:
    """Heparin used to keep a catheter open: recognised by text, never a bleeding warning.

    Never for an infusion: a dosage with a rate, or instructions naming an infusion, is
    systemic anticoagulation whatever else the text says. A flush word after a negation ("do
    not flush the line") does not count."""

    drug_ids: frozenset[str]
    names: re.Pattern[str] | None  # in the medication's name or text
    instructions: re.Pattern[str] | None  # in the dosage instructions
    infusion: re.Pattern[str] | None  # in the instructions: never a flush
    negations: frozenset[str]  # words that cancel a flush word just before it
    negation_reach: int  # how many words before the flush word a negation reaches

    def applies(
        self, drug: Drug, medication_text: str, instructions: str, has_rate: bool = False
    ) -> bool:
        if drug.id not in self.drug_ids or has_rate:
            return False
        if self.infusion and self.infusion.search(f"{medication_text} {instructions}"):
            return False
        return self._said(self.names, medication_text) or self._said(
            self.instructions, instructions
        )

    def _said(self, pattern: re.Pattern[str] | None, text: str) -> bool:
        """A flush word in `text` that no negation just before it cancels."""
        if pattern is None:
            return False
        for match in pattern.finditer(text):
            before = WORD.findall(text[: match.start()].lower().replace("n't", " not"))
            if not self.negations.intersection(before[-self.negation_reach :]):
                return True
        return False


@dataclass(frozen=True)
class RestartOnly:
    """A group of drugs (support.yaml) with a restart time in the guideline's table but no
    hold for this block: NSAIDs."""

    group: str  # a support.yaml group id
    restart: Interval
    source: Source | None
    label: str = ""  # the group's label, filled in once the support groups are loaded


INDICATORS = ("info", "warning", "critical")


@dataclass(frozen=True)
class DrugIndex:
    by_code: Mapping[CodeKey, DrugMatch]
    classes_by_atc_prefix: Mapping[str, str]
    names: Mapping[str, Drug]  # lowercase ingredient and brand names, words split by spaces
    by_id: Mapping[str, Drug]
    block_ordered_indicator: Mapping[str, str]  # hold policy -> card indicator
    lock_flush: LockFlush
    combined_kinds: tuple[frozenset[str], ...] = ()  # kinds that together are combined therapy
    restart_only: tuple[RestartOnly, ...] = ()

    def combined(self, drugs: list[Drug]) -> list[Drug]:
        """The drugs that make combined antithrombotic therapy (empty when they do not)."""
        kinds = [d.kind for d in drugs]
        for pair in self.combined_kinds:
            wanted = sorted(pair) if len(pair) == 2 else [*pair, *pair]
            if all(kinds.count(k) >= wanted.count(k) for k in wanted):
                return [d for d in drugs if d.kind in pair]
        return []


def read_interval(raw: Any, where: str) -> Interval:
    if not isinstance(raw, Mapping):
        raise KnowledgeError(f"{where}: an interval is {{value, unit}}, got {raw!r}")
    value, unit, high = raw.get("value"), raw.get("unit"), raw.get("high")
    for n in (value, high):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise KnowledgeError(f"{where}: interval values are whole numbers >= 0")
    if value is None or unit not in ("h", "d") or (high is not None and high < value):
        raise KnowledgeError(f"{where}: interval needs a value and a unit of h or d")
    return Interval(value, unit, high, raw.get("when"))


def read_hold(raw: Mapping[str, Any], where: str, sources: Mapping[str, Source]) -> Hold:
    policy = raw.get("policy")
    if policy not in POLICIES:
        raise KnowledgeError(f"{where}: hold policy must be one of {', '.join(POLICIES)}")
    before = tuple(read_interval(b, where) for b in raw.get("before") or ())
    if (policy == "interval") != bool(before):
        raise KnowledgeError(f"{where}: a hold interval goes with policy 'interval' only")
    restart = raw.get("restart")
    labs = tuple(raw.get("labs") or ())
    if unknown := set(labs) - LAB_CHECKS:
        raise KnowledgeError(f"{where}: unknown lab check {sorted(unknown)}")
    return Hold(
        policy=policy,
        before=before,
        restart=read_interval(restart, where) if restart is not None else None,
        labs=labs,
        note=raw.get("note"),
        source=cited(sources, raw.get("source"), where),
    )


def read_dose_rule(raw: Any, where: str, sources: Mapping[str, Source]) -> DoseRule:
    regimens = tuple(
        Regimen(
            str(r["when"]),
            float(r["up_to"]["value"]),
            str(r["up_to"]["unit"]),
            float(r["per_day_up_to"]),
        )
        for r in raw["regimens"]
    )
    if not regimens or not raw.get("otherwise"):
        raise KnowledgeError(f"{where}: a dose rule needs regimens and `otherwise`")
    return DoseRule(regimens, str(raw["otherwise"]), cited(sources, raw.get("source"), where))


def load_drugs(reader: Reader) -> DrugIndex:
    doc = reader.docs["antithrombotics"]
    classes = {c["id"]: c for c in doc["classes"]}
    by_code: dict[CodeKey, DrugMatch] = {}
    by_name: dict[str, Drug] = {}
    by_id: dict[str, Drug] = {}
    valueset_drugs: dict[str, list[tuple[re.Pattern[str], Drug]]] = {}
    for entry in doc["drugs"]:
        cls = classes.get(entry["class"])
        if cls is None:
            raise KnowledgeError(f"drug {entry['id']}: unknown class {entry['class']}")
        hold = entry.get("hold")
        drug = Drug(
            id=entry["id"],
            name=entry["name"],
            class_label=cls["label"],
            kind=cls["kind"],
            hold=read_hold(hold, f"drug {entry['id']}", reader.sources) if hold else None,
            dose_rule=read_dose_rule(entry["dose_rule"], f"drug {entry['id']}", reader.sources)
            if entry.get("dose_rule")
            else None,
        )
        whens = {i.when for i in drug.hold.before} if drug.hold else set()
        if drug.dose_rule and not {r.when for r in drug.dose_rule.regimens} <= whens:
            raise KnowledgeError(f"drug {drug.id}: each dose class needs a hold interval")
        by_id[drug.id] = drug
        routes = (
            ("ingredient_codes", "RxNorm ingredient"),
            ("product_codes", "RxNorm product"),
            ("atc_codes", "ATC"),
        )
        for field_name, how in routes:
            for c in entry.get(field_name) or ():
                by_code[reader.key(c)] = DrugMatch(drug, how)
        names = [n.lower() for n in entry.get("names") or ()]
        for n in names:
            by_name[" ".join(WORD.findall(n))] = drug
        pattern = names_pattern(names)
        for oid in entry.get("valuesets") or ():
            if pattern:
                valueset_drugs.setdefault(str(oid), []).append((pattern, drug))
    for oid, candidates in valueset_drugs.items():
        for c in reader.valueset_codes(oid):
            display = c.get("display", "")
            for pattern, drug in candidates:
                if pattern.search(display):
                    by_code.setdefault(reader.key(c), DrugMatch(drug, "RxNorm product"))
    atc_classes = {str(c["atc"]): c["label"] for c in classes.values() if c.get("atc")}
    indicators = dict(doc["block_ordered_indicator"])
    if set(indicators) != set(POLICIES) or not set(indicators.values()) <= set(INDICATORS):
        raise KnowledgeError("block_ordered_indicator: each hold policy -> info|warning|critical")
    flush = doc["catheter_lock_flush"]
    lock_flush = LockFlush(
        drug_ids=frozenset(flush["drugs"]),
        names=names_pattern(flush.get("names") or ()),
        instructions=names_pattern(flush.get("instructions") or ()),
        infusion=names_pattern(flush.get("never_with") or ()),
        negations=frozenset(w.lower() for w in flush.get("negations") or ()),
        negation_reach=int(flush.get("negation_reach", 3)),
    )
    if unknown_ids := lock_flush.drug_ids - set(by_id):
        raise KnowledgeError(f"catheter_lock_flush names unknown drugs {sorted(unknown_ids)}")
    kinds = {c["kind"] for c in classes.values()}
    combined = tuple(frozenset(pair) for pair in doc.get("combined_therapy") or ())
    if any(not pair <= kinds for pair in combined):
        raise KnowledgeError("combined_therapy: pairs of drug kinds (anticoagulant, antiplatelet)")
    restart_only = tuple(
        RestartOnly(
            str(r["group"]),
            read_interval(r["restart"], f"restart_only {r['group']}"),
            cited(reader.sources, r.get("source"), f"restart_only {r['group']}"),
        )
        for r in doc.get("restart_only") or ()
    )
    return DrugIndex(
        by_code, atc_classes, by_name, by_id, indicators, lock_flush, combined, restart_only
    )
