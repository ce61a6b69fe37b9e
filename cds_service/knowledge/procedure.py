"""The lumbar sympathetic block itself (procedure.yaml): codes to order and recognise it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.knowledge.base import Reader, names_pattern
from cds_service.terminology import Code, CodeKey


@dataclass(frozen=True)
class Procedure:
    label: str
    order_codes: tuple[Code, ...]
    codes: frozenset[CodeKey]  # every code that names the block in a record
    names: re.Pattern[str] | None
    bleeding_risk: str | None  # the guideline's risk class, when confirmed
    referral_label: str
    referral_codes: tuple[Code, ...]  # a referral to pain medicine, beside the block order
    referral_category: tuple[Code, ...]


def load_procedure(reader: Reader) -> Procedure:
    proc = reader.docs["procedure"]["procedure"]
    order_codes = tuple(reader.code(c) for c in proc.get("order_codes") or ())
    recognise = set(reader.keys(proc.get("recognise_codes")))
    recognise.update((c.system, c.code) for c in order_codes)
    risk = proc.get("bleeding_risk") or {}
    referral = reader.docs["procedure"]["referral"]
    return Procedure(
        label=proc["label"],
        order_codes=order_codes,
        codes=frozenset(recognise),
        names=names_pattern(proc.get("names") or ()),
        bleeding_risk=risk.get("class") if risk.get("confirmed") else None,
        referral_label=referral["label"],
        referral_codes=tuple(reader.code(c) for c in referral["codes"]),
        referral_category=tuple(reader.code(c) for c in referral["category"]),
    )
