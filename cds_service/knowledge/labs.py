"""Laboratory results the bleeding cards show (labs.yaml): INR, platelet count, by LOINC code."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge.base import KnowledgeError, Reader
from cds_service.terminology import Code, CodeKey

EVERY = "every-antithrombotic"


@dataclass(frozen=True)
class Lab:
    id: str
    label: str
    shown_for: frozenset[str]  # hold lab checks ("inr-normal") or EVERY
    codes: tuple[Code, ...]

    def shown_with(self, hold_labs: tuple[str, ...]) -> bool:
        return EVERY in self.shown_for or bool(self.shown_for & set(hold_labs))


def load_labs(reader: Reader) -> tuple[tuple[Lab, ...], dict[CodeKey, Lab]]:
    labs, by_code = [], {}
    for entry in reader.docs["labs"]["labs"]:
        codes = tuple(reader.code(c) for c in entry["codes"])
        if not codes:
            raise KnowledgeError(f"lab {entry['id']}: no codes")
        lab = Lab(entry["id"], entry["label"], frozenset(entry["for"]), codes)
        labs.append(lab)
        by_code.update({(c.system, c.code): lab for c in codes})
    return tuple(labs), by_code
