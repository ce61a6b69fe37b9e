"""Words for a Reason and for a list's key, from cards/reasons.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from cds_service.reasons import Reason

WORDING = Path(__file__).parent / "reasons.yaml"
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


@cache
def _wording() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(WORDING.read_text(encoding="utf-8"))
    return doc


@cache
def _templates() -> dict[str, jinja2.Template]:
    return {code: _ENV.from_string(text) for code, text in _wording()["reasons"].items()}


def reason_words(reason: Reason) -> str:
    """`Reason.of("fhir-server-error", status=502)` -> "the EHR's FHIR server failed to answer
    (HTTP 502)"."""
    figures = {
        name: reason_words(value) if isinstance(value, Reason) else value
        for name, value in reason.figures
    }
    return " ".join(_templates()[reason.code].render(**figures).split())


def list_name(key: str) -> str:
    """`"medicationStatements"` -> "medication list"; a key without words stays as it is."""
    names: dict[str, str] = _wording()["lists"]
    return names.get(key, key)


def source_name(what: str) -> str:
    """A list's key -> "the medication list"; a record's reference stays as it is."""
    names: dict[str, str] = _wording()["lists"]
    return f"the {names[what]}" if what in names else what


def codes() -> set[str]:
    return set(_wording()["reasons"])
