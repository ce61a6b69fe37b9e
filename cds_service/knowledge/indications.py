"""Conditions that indicate the block, or do not, or only uncertainly (indications.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cds_service.knowledge.base import KnowledgeError, Reader
from cds_service.terminology import CodeKey

LsbFit = Literal["indicated", "uncertain", "not-indicated"]


@dataclass(frozen=True)
class Indication:
    id: str
    label: str
    lsb: LsbFit
    why: str | None
    laterality: Mapping[CodeKey, str] = field(default_factory=dict)
    # The code does not state the site: a lower-limb bodySite on the condition makes it indicated.
    lower_limb_site_indicates: bool = False
    label_in_lower_limb: str | None = None
    # "amputated-limb": indicated only for a lower limb, read from the recorded amputations,
    # unless the code itself states the limb (`stated_limb`).
    anatomy: str | None = None
    stated_limb: Mapping[CodeKey, str] = field(default_factory=dict)


def load_indications(reader: Reader) -> dict[CodeKey, Indication]:
    by_code: dict[CodeKey, Indication] = {}
    for entry in reader.docs["indications"]["indications"]:
        codes = list(entry.get("codes") or ())
        for oid in entry.get("valuesets") or ():
            codes += reader.valueset_codes(str(oid))
        laterality = {reader.key(c): c["laterality"] for c in codes if c.get("laterality")}
        indication = Indication(
            id=entry["id"],
            label=entry["label"],
            lsb=entry["lsb"],
            why=entry.get("why"),
            laterality=laterality,
            lower_limb_site_indicates=bool(entry.get("lower_limb_site_indicates")),
            label_in_lower_limb=entry.get("label_in_lower_limb"),
            anatomy=entry.get("anatomy"),
            stated_limb={reader.key(c): c["limb"] for c in codes if c.get("limb")},
        )
        if indication.lsb not in ("indicated", "uncertain", "not-indicated"):
            raise KnowledgeError(f"indication {indication.id}: unknown lsb value")
        for c in codes:
            key = reader.key(c)
            other = by_code.get(key)
            if other and other.id != indication.id:
                raise KnowledgeError(f"code {key} is in both {other.id} and {indication.id}")
            by_code[key] = indication
    return by_code
