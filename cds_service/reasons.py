"""Why part of a patient's record could not be read or checked: a code and its figures.

The words are in `cards/reasons.yaml`, where a clinician reviews them beside the cards that show
them (the data-quality card, a 412 answer's messages). The code that finds a gap names it; it
never words it. A figure is an HTTP status, a count, a record reference, a validator's message
or another Reason (the cause of a partial read): never a token or a patient identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    code: str  # a key of `reasons` in cards/reasons.yaml
    figures: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs the words take

    @classmethod
    def of(cls, code: str, **figures: Any) -> Reason:
        return cls(code, tuple(sorted(figures.items())))


def invalid(detail: str) -> Reason:
    """A record that is not valid FHIR R4: `detail` is the validator's message."""
    return Reason.of("invalid", detail=detail)
