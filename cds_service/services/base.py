"""A CDS service as one declared unit: its hook, its prefetch and its decision function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cds_service.data.record import PatientRecord
from cds_service.decisions import CardDecision
from cds_service.hook_call import HookCall
from cds_service.knowledge import Knowledge

Decide = Callable[[HookCall, PatientRecord, Knowledge], list[CardDecision]]


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    decide: Decide
    # Prefetch keys without which no decision is possible: unobtainable -> 412. The others
    # degrade to a data-quality card.
    required: tuple[str, ...] = ()
    usage_requirements: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def discovery(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry
