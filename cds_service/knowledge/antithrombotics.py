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

from cds_service.knowledge.base import WORD, KnowledgeError, Reader, Source, names_pattern
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
class Hold:
    policy: HoldPolicy
    before: tuple[Interval, ...]  # one, or one per dose; empty unless policy is "interval"
    restart: Interval | None
    labs: tuple[str, ...]  # checks before the block, e.g. "inr-normal"
    note: str | None
    source: Source | None

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


@dataclass(frozen=True)
class Drug:
    id: str
    name: str
    class_label: str
    kind: str  # anticoagulant | antiplatelet
    hold: Hold | None


@dataclass(frozen=True)
class DrugMatch:
    drug: Drug
    how: str  # which route matched: "RxNorm product", "RxNorm ingredient", "ATC", ...


@dataclass(frozen=True)
class LockFlush:
    """Heparin used to keep a catheter open: recognised by text, never a bleeding warning."""

    drug_ids: frozenset[str]
    names: re.Pattern[str] | None  # in the medication's name or text
    instructions: re.Pattern[str] | None  # in the dosage instructions

    def applies(self, drug: Drug, medication_text: str, instructions: str) -> bool:
        if drug.id not in self.drug_ids:
            return False
        return bool(
            (self.names and self.names.search(medication_text))
            or (self.instructions and self.instructions.search(instructions))
        )


INDICATORS = ("info", "warning", "critical")


@dataclass(frozen=True)
class DrugIndex:
    by_code: Mapping[CodeKey, DrugMatch]
    classes_by_atc_prefix: Mapping[str, str]
    names: Mapping[str, Drug]  # lowercase ingredient and brand names, words split by spaces
    by_id: Mapping[str, Drug]
    block_ordered_indicator: Mapping[str, str]  # hold policy -> card indicator
    lock_flush: LockFlush


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
        source=sources.get(raw.get("source", "")),
    )


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
        )
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
    )
    if unknown_ids := lock_flush.drug_ids - set(by_id):
        raise KnowledgeError(f"catheter_lock_flush names unknown drugs {sorted(unknown_ids)}")
    return DrugIndex(by_code, atc_classes, by_name, by_id, indicators, lock_flush)
