"""Which selected orders make the suggestion appear (triggers.yaml)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cds_service.knowledge.base import CodeGroup, KnowledgeError, Reader, names_pattern
from cds_service.terminology import CodeKey


@dataclass(frozen=True)
class Triggers:
    mode: str  # pain-related | any-order
    groups: tuple[CodeGroup, ...]
    codes: frozenset[CodeKey]
    names: re.Pattern[str] | None


def load_triggers(reader: Reader, groups: Mapping[str, CodeGroup]) -> Triggers:
    doc = reader.docs["triggers"]
    pain = doc.get("pain_related") or {}
    try:
        trigger_groups = tuple(groups[g] for g in pain.get("groups") or ())
    except KeyError as exc:
        raise KnowledgeError(f"triggers.yaml names an unknown group {exc}") from exc
    return Triggers(
        mode=str(doc.get("mode", "pain-related")),
        groups=trigger_groups,
        codes=reader.keys(pain.get("service_request_codes")),
        names=names_pattern(pain.get("names") or ()),
    )
