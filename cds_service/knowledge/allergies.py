"""Allergies that matter for the block (allergies.yaml): contrast, amide local anaesthetics."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge.base import CodeGroup, Reader


@dataclass(frozen=True)
class AllergyRules:
    groups: tuple[CodeGroup, ...]
    active: frozenset[str]  # clinicalStatus codes that make a record count
    missing_status_counts: bool
    excluded_verification: frozenset[str]


def load_allergies(reader: Reader) -> AllergyRules:
    doc = reader.docs["allergies"]
    return AllergyRules(
        groups=tuple(reader.group(g) for g in doc["groups"]),
        active=frozenset(doc["clinical_status_counts"]),
        missing_status_counts=bool(doc["missing_clinical_status_counts"]),
        excluded_verification=frozenset(doc["excluded_verification"]),
    )
