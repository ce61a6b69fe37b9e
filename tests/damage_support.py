"""Damaged copies of a JSON document: every field replaced by every JSON type, in turn.

The robustness tests post each copy and expect cards or an OperationOutcome, never a 500.
Deterministic, so a regression is caught on every run, not when a random search happens on it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

# One value of each JSON type: a field of the wrong type is the damage an EHR most often sends.
WRONG_TYPES: tuple[Any, ...] = (None, True, 0, "x", [], {})

Path = tuple[Any, ...]


def fields(node: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every place in the document a value could be replaced, parents before children."""
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from fields(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from fields(value, (*prefix, index))


def shape(doc: Any, path: Path) -> tuple[str, ...]:
    """The path with list positions blurred and each key named with the type of the resource
    it belongs to: `entry.0.resource.status` and `entry.3.resource.status` of two
    MedicationStatements are the same shape; a Medication's status is another."""
    parts: list[str] = []
    node = doc
    for step in path:
        if isinstance(step, int):
            parts.append("#")
        else:
            kind = node.get("resourceType") if isinstance(node, dict) else None
            parts.append(f"{kind}.{step}" if isinstance(kind, str) else str(step))
        node = node[step]
    return tuple(parts)


def replaced(doc: Any, path: Path, value: Any) -> Any:
    """A copy of the document with the value at `path` replaced."""
    damaged = copy.deepcopy(doc)
    node = damaged
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = copy.deepcopy(value)
    return damaged


def dotted(path: Path) -> str:
    return ".".join(f"[{s}]" if isinstance(s, int) else str(s) for s in path)
