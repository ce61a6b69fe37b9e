from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CardDecision:
    """One card to show: its kind (a template in `cards/`) and what the template needs."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    create: dict[str, Any] | None = None  # a FHIR resource the card's suggestion creates
    delete: list[str] = field(default_factory=list)  # draft orders the suggestion removes
    also_create: dict[str, Any] | None = None  # a second suggestion's resource (a referral)
    indicator: str | None = None  # overrides the template's, when the facts set the severity
    extension: dict[str, Any] | None = None  # record ids and match methods, for integrators
