"""Laboratory results the cards show (labs.yaml): INR, platelet count and kidney function, by
LOINC code; the lab's interpretation codes; the drugs cleared partly by the kidneys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cds_service.knowledge.base import KnowledgeError, Reader
from cds_service.terminology import Code, CodeKey

EVERY = "every-antithrombotic"
RENAL = "renally-cleared"
Direction = Literal["low", "high", "abnormal", "normal"]
DIRECTIONS = ("low", "high", "abnormal", "normal")


@dataclass(frozen=True)
class Lab:
    id: str
    label: str
    shown_for: frozenset[str]  # hold lab checks ("inr-normal"), EVERY or RENAL
    codes: tuple[Code, ...]
    bleeding_risk_when: Direction | None = None  # the side of the lab's range that warns
    group: str | None = None  # labs that stand in for each other (eGFR, creatinine clearance)

    def shown_with(self, hold_labs: tuple[str, ...], renal_drug: bool = False) -> bool:
        return (
            EVERY in self.shown_for
            or bool(self.shown_for & set(hold_labs))
            or (renal_drug and RENAL in self.shown_for)
        )

    @property
    def kidney_function(self) -> bool:
        return RENAL in self.shown_for


@dataclass(frozen=True)
class Interpretation:
    display: str  # the code's display, shown when the record sends the code alone
    direction: Direction


@dataclass(frozen=True)
class LabKnowledge:
    labs: tuple[Lab, ...]
    by_code: Mapping[CodeKey, Lab]
    interpretations: Mapping[CodeKey, Interpretation]
    renally_cleared: frozenset[str]  # drug ids (antithrombotics.yaml)


def _interpretations(reader: Reader) -> dict[CodeKey, Interpretation]:
    spec = reader.docs["labs"]["interpretation"]
    if spec.get("source") not in reader.sources:
        raise KnowledgeError("labs interpretation: unknown source")
    system = reader.systems.uri(spec["system"])
    found = {}
    for entry in spec["codes"]:
        if entry["direction"] not in DIRECTIONS:
            raise KnowledgeError(f"interpretation {entry['code']}: direction {entry['direction']}")
        key = reader.systems.key(system, str(entry["code"]))
        found[key] = Interpretation(str(entry["display"]), entry["direction"])
    return found


def load_labs(reader: Reader) -> LabKnowledge:
    doc = reader.docs["labs"]
    labs, by_code = [], {}
    for entry in doc["labs"]:
        codes = tuple(reader.code(c) for c in entry["codes"])
        if not codes:
            raise KnowledgeError(f"lab {entry['id']}: no codes")
        when = entry.get("bleeding_risk_when")
        if when not in (None, "low", "high"):
            raise KnowledgeError(f"lab {entry['id']}: bleeding_risk_when must be low or high")
        lab = Lab(
            entry["id"], entry["label"], frozenset(entry["for"]), codes, when, entry.get("group")
        )
        labs.append(lab)
        by_code.update({(c.system, c.code): lab for c in codes})
    renal = []
    for entry in doc.get("renally_cleared") or ():
        if entry.get("source") not in reader.sources:
            raise KnowledgeError(f"renally_cleared {entry.get('drug')}: a source is required")
        renal.append(str(entry["drug"]))
    return LabKnowledge(tuple(labs), by_code, _interpretations(reader), frozenset(renal))
