"""Full FHIR R4 validation with `fhir.resources` (R4B models), for the records a decision uses.

Validation costs about 0.1 ms a resource, so the service reads cheap fields first and validates
only the records that matter. Error text names fields, never values: values can carry patient data.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

VALIDATED = (
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
    "Procedure",
    "ServiceRequest",
    "AllergyIntolerance",
    "Observation",
)


def preload_models(kinds: Iterable[str] = VALIDATED) -> int:
    """Imports the models of `kinds` and of every element type they can hold (Dosage, Timing,
    Quantity, ...), which `fhir.resources` otherwise imports the first time a record uses one:
    tens of milliseconds on some worker's first calls. Returns how many models are loaded."""
    seen: set[type] = set()
    todo: list[Any] = [get_fhir_model_class(kind) for kind in kinds]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for info in model.model_fields.values():
            todo += _models_in(info.annotation)
    return len(seen)


def _models_in(annotation: Any) -> list[Any]:
    found = []
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and hasattr(current, "get_model_klass"):
            found.append(current.get_model_klass())
        stack += typing.get_args(current)
    return found


preload_models()


def validation_error(resource: dict[str, Any]) -> str | None:
    """None if the resource is valid R4, else a short description of what is wrong."""
    kind = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(kind))
    except (KeyError, ValueError):
        return f"unknown resource type {kind!r:.40}"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or kind
        return f"{where}: {first.get('msg', 'invalid')}"[:200]
    except (TypeError, ValueError) as exc:
        return f"invalid {kind}: {type(exc).__name__}"
    return None
