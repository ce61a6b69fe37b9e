"""Coded body sites (body_sites.yaml): which are in the leg or foot; the side an order carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cds_service.knowledge.base import KnowledgeError, Reader
from cds_service.terminology import Code, CodeKey

SIDES = ("left", "right", "bilateral")


def combined_side(sides: set[str]) -> str | None:
    """The side several statements make together: left and right, or any bilateral, make
    bilateral; else the one side stated, or None when none is."""
    if {"left", "right"} <= sides or "bilateral" in sides:
        return "bilateral"
    return next(iter(sides), None)


@dataclass(frozen=True)
class BodySites:
    lower_limb: Mapping[CodeKey, str | None]  # code -> the side it states, or None
    order_body_site: Mapping[str, tuple[Code, ...]]  # side -> codings for ServiceRequest.bodySite
    qualifiers: Mapping[CodeKey, str]  # laterality qualifier value -> the side it states

    def side(self, key: CodeKey) -> str | None:
        """The side a bodySite coding states: a lateralised structure or a qualifier."""
        return self.lower_limb.get(key) or self.qualifiers.get(key)


def load_body_sites(reader: Reader) -> BodySites:
    doc = reader.docs["body_sites"]
    lower: dict[CodeKey, str | None] = {}
    for entry in doc["lower_limb"]:
        side = entry.get("laterality")
        if side is not None and side not in SIDES:
            raise KnowledgeError(f"body site {entry['code']}: laterality must be one of {SIDES}")
        lower[reader.key(entry)] = side
    order = {
        side: tuple(reader.code(c) for c in codes) for side, codes in doc["order_body_site"].items()
    }
    if set(order) != set(SIDES):
        raise KnowledgeError(f"order_body_site needs exactly the sides {SIDES}")
    qualifiers = {}
    for entry in doc.get("laterality_qualifiers") or ():
        if entry.get("laterality") not in SIDES:
            raise KnowledgeError(f"laterality qualifier {entry['code']}: side not in {SIDES}")
        qualifiers[reader.key(entry)] = entry["laterality"]
    return BodySites(lower, order, qualifiers)
