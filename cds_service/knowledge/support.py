"""Evidence that supports the block (support.yaml): treatments tried, opioids, amputations."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge.base import CodeGroup, Reader
from cds_service.terminology import CodeKey


@dataclass(frozen=True)
class Support:
    treatments: tuple[CodeGroup, ...]
    opioids: CodeGroup
    amputation_lower: frozenset[CodeKey]
    amputation_upper: frozenset[CodeKey]


def load_support(reader: Reader) -> Support:
    doc = reader.docs["support"]
    amputation = doc.get("amputation") or {}
    return Support(
        treatments=tuple(reader.group(t) for t in doc.get("conservative_treatments") or ()),
        opioids=reader.group({"id": "opioids", "label": "Opioid", **doc["opioids"]}),
        amputation_lower=reader.keys(amputation.get("lower_limb")),
        amputation_upper=reader.keys(amputation.get("upper_limb")),
    )
