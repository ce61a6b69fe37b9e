"""Full FHIR R4 validation with `fhir.resources` (R4B models), for the records a decision uses.

Validation costs about 0.1 ms a resource, so the service reads cheap fields first and validates
only the records that matter. Error text names fields, never values: values can carry patient data.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

# The models are imported on first use; import the ones the service validates now, so the
# first hook call of a worker does not pay for it.
for _kind in (
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
    "Procedure",
    "ServiceRequest",
    "AllergyIntolerance",
    "Observation",
):
    get_fhir_model_class(_kind)


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
