"""Codes as the service compares them: canonical system URI + normalised code.

EHRs send the same code in several spellings (an OID instead of the URI, ICD-10 codes without
their dot, stray spaces). Every comparison in the service goes through `code_key`, so a code
matches by system and code, never by display text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CodeKey = tuple[str, str]


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str | None = None

    def as_coding(self) -> dict[str, str]:
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return coding

    def __str__(self) -> str:
        return f"{self.code} ({self.display})" if self.display else self.code


class CodeSystems:
    """Canonical URIs, their aliases, and which systems write codes with a dot."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.uri_by_name: dict[str, str] = {}
        self._canonical: dict[str, str] = {}
        self._dotted: set[str] = set()
        for name, entry in spec["systems"].items():
            uri = entry["uri"]
            self.uri_by_name[name] = uri
            for alias in [uri, *entry.get("aliases", [])]:
                self._canonical[alias] = uri
            if entry.get("dotted"):
                self._dotted.add(uri)

    def uri(self, name_or_uri: str) -> str:
        """A system given by its short name (`rxnorm`) or any alias, as its canonical URI."""
        return self.uri_by_name.get(name_or_uri) or self._canonical.get(name_or_uri, name_or_uri)

    def key(self, system: str, code: str) -> CodeKey:
        uri = self._canonical.get(system.strip(), system.strip())
        value = code.strip()
        if uri in self._dotted:
            value = value.upper()
            if "." not in value and len(value) > 3:
                value = f"{value[:3]}.{value[3:]}"
        return uri, value


def unit_named(value: object) -> str | None:
    """A unit as written, stripped; None when it names none: not text, empty, or a UCUM
    annotation alone (`{INR}`, `{ratio}`: an INR is a bare number)."""
    if not isinstance(value, str) or not value.strip():
        return None
    unit = value.strip()
    return None if unit.startswith("{") and unit.endswith("}") else unit


def as_list(value: Any) -> list[Any]:
    """A FHIR array from a record, or [] when the record has something else there."""
    return value if isinstance(value, list) else []


def codings(concept: Any) -> list[dict[str, Any]]:
    """The well-formed codings of a CodeableConcept-shaped value; anything else gives none.
    (A list, not a generator: it runs for every record of a heavy patient.)"""
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    if not isinstance(found, list):
        return []
    return [
        c
        for c in found
        if isinstance(c, dict)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


def first_code(concept: Any) -> str | None:
    """The code of a concept's first coding: how FHIR status concepts (clinicalStatus,
    verificationStatus) are read."""
    for coding in codings(concept):
        return str(coding["code"])
    return None


def concept_texts(concept: Any) -> list[str]:
    """Each distinct text of a CodeableConcept (its text, then its displays), stripped."""
    if not isinstance(concept, dict):
        return []
    parts = [concept.get("text")]
    coding = concept.get("coding")
    if isinstance(coding, list):
        parts += [c.get("display") for c in coding if isinstance(c, dict)]
    unique: dict[str, str] = {}
    for part in parts:
        if isinstance(part, str) and (stripped := part.strip()):
            unique.setdefault(stripped.lower(), stripped)
    return list(unique.values())


def concept_text(concept: Any) -> str:
    """All human-readable text of a CodeableConcept (its text and displays), for name matching."""
    return " | ".join(concept_texts(concept))


def concept_label(concept: Any) -> str:
    """The one phrase to show a clinician: the concept's text, else its first display."""
    texts = concept_texts(concept)
    return texts[0] if texts else ""
