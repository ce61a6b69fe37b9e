"""Past procedures (procedure_history.yaml): treatments tried and amputations by limb.

Earlier blocks are recognised with procedure.yaml's codes and names, physical therapy with
support.yaml's group: one list of codes for each thing, wherever it is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.knowledge.base import CodeGroup, Reader, names_pattern
from cds_service.terminology import CodeKey


@dataclass(frozen=True)
class LimbCodes:
    codes: frozenset[CodeKey]
    names: re.Pattern[str] | None

    def matches(self, keys: list[CodeKey], text: str) -> bool:
        if any(k in self.codes for k in keys):
            return True
        return bool(self.names and text and self.names.search(text))


@dataclass(frozen=True)
class ProcedureHistory:
    treatments: tuple[CodeGroup, ...]
    amputation_lower: LimbCodes
    amputation_upper: LimbCodes
    counts: frozenset[str]  # Procedure statuses that mean it was done


def _limb(reader: Reader, entry: dict | None) -> LimbCodes:
    entry = entry or {}
    return LimbCodes(reader.keys(entry.get("codes")), names_pattern(entry.get("names") or ()))


def load_procedure_history(reader: Reader) -> ProcedureHistory:
    doc = reader.docs["procedure_history"]
    amputation = doc.get("amputation") or {}
    return ProcedureHistory(
        treatments=tuple(reader.group(t) for t in doc.get("treatments") or ()),
        amputation_lower=_limb(reader, amputation.get("lower_limb")),
        amputation_upper=_limb(reader, amputation.get("upper_limb")),
        counts=frozenset(doc.get("procedure_counts") or ("completed",)),
    )
