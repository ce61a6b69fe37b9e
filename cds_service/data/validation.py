"""Full FHIR R4 validation with `fhir.resources` (R4B models), for the records a decision uses.

Validation costs about 0.1 ms a resource, so the service reads cheap fields first and validates
only the records that matter. Error text names fields, never values: values can carry patient data.

The verdict depends only on the resource's content, and an EHR sends the same records again and
again (order-select fires at each change to an order, order-sign after it): verdicts are kept
for the last `REMEMBERED` resources, keyed by a BLAKE2b digest of their JSON, so the digest and
not the record stays in memory.
"""

from __future__ import annotations

import hashlib
import threading
import typing
from collections.abc import Iterable
from typing import Any

import orjson
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


REMEMBERED = 4096
_verdicts: dict[bytes, str | None] = {}
_verdicts_lock = threading.Lock()


def validation_error(resource: dict[str, Any]) -> str | None:
    """None if the resource is valid R4, else a short description of what is wrong."""
    try:
        digest = hashlib.blake2b(orjson.dumps(resource), digest_size=16).digest()
    except TypeError:  # not JSON (a caller's mistake): validated, not remembered
        return _validate(resource)
    try:
        return _verdicts[digest]
    except KeyError:
        pass
    verdict = _validate(resource)
    with _verdicts_lock:
        if len(_verdicts) >= REMEMBERED:
            del _verdicts[next(iter(_verdicts))]  # the oldest
        _verdicts[digest] = verdict
    return verdict


def _validate(resource: dict[str, Any]) -> str | None:
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
    except (TypeError, ValueError, KeyError) as exc:
        # fhir.resources raises KeyError for a contained resource of an unknown type
        return f"invalid {kind}: {type(exc).__name__}"
    return None
