"""The patient's record as read for one hook call, with what could not be read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from cds_service.reasons import Reason
from cds_service.terminology import as_list

Resource = dict[str, Any]
# An OperationOutcome entry (search.mode "outcome") with one of these says matches are missing.
FAILED = ("error", "fatal")


@lru_cache(maxsize=64)  # a service's few templates, parsed once rather than on every call
def match_kinds(template: str) -> frozenset[str]:
    """The resource types a prefetch query returns as matches: the one it searches, and
    Medication where it `_include`s the medications. `Condition?patient=...` -> {"Condition"}."""
    path, _, query = template.partition("?")
    kinds = {path.strip("/").split("/")[-1]}
    if any(n == "_include" and v.endswith(":medication") for n, v in parse_qsl(query)):
        kinds.add("Medication")
    return frozenset(kinds)


@dataclass(frozen=True)
class Gap:
    """Data the service needed for a prefetch key and could not obtain (or only in part)."""

    key: str
    reason: Reason  # worded in cards/reasons.yaml: no token, no patient identifier
    partial: bool = False  # some resources were read, the rest (further pages) were not
    omitted: bool = False  # the EHR did not send the key at all (it never tried)


@dataclass
class PatientRecord:
    """Resources per prefetch key, the Medications they refer to, and the gaps."""

    resources: dict[str, list[Resource]] = field(default_factory=dict)
    medications: dict[str, Resource] = field(default_factory=dict)  # "Medication/<id>" -> resource
    gaps: dict[str, Gap] = field(default_factory=dict)
    next_pages: dict[str, str] = field(default_factory=dict)  # key -> `next` link not yet followed
    # What each key's query returns as matches (from the service's templates); a key without
    # one takes any resource.
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    # Entries that could not be read, per key: no resource, or a match of another type. Never
    # dropped in silence: each is counted and said on the data-quality card.
    unreadable: dict[str, int] = field(default_factory=dict)

    def expect(self, templates: Mapping[str, str]) -> None:
        for key, template in templates.items():
            self.kinds[key] = match_kinds(template)

    def add_bundle_entries(self, key: str, bundle: Resource) -> None:
        """Adds a searchset page: matches under `key`, any Medication to the lookup table, and
        counts the entries that could not be read."""
        matches = self.resources.setdefault(key, [])
        kinds = self.kinds.get(key)
        for entry in as_list(bundle.get("entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                self._unreadable(key)
                continue
            search = entry.get("search")
            mode = search.get("mode") if isinstance(search, dict) else None
            kind = resource.get("resourceType")
            kind = kind if isinstance(kind, str) else None  # damaged: never a type we expect
            if kind == "Medication" and isinstance(resource.get("id"), str):
                self.medications[f"Medication/{resource['id']}"] = resource
            if mode == "include":
                continue  # a record the matches refer to, not a match
            if mode == "outcome" or (kind == "OperationOutcome" and kinds is not None):
                if _failed(resource):
                    self._unreadable(key)
                continue
            if kinds is not None and kind not in kinds:
                self._unreadable(key)
                continue
            matches.append(resource)

    def _unreadable(self, key: str) -> None:
        self.unreadable[key] = self.unreadable.get(key, 0) + 1

    def medication(self, reference: str, container: Resource) -> Resource | None:
        """Resolves a medicationReference: contained (`#id`) or a Medication read beside it."""
        if reference.startswith("#"):
            for contained in as_list(container.get("contained")):
                if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                    return contained
            return None
        parts = reference.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Medication":
            return self.medications.get(f"Medication/{parts[-1]}")
        return None


def _failed(outcome: Resource) -> bool:
    """An outcome entry that reports an error: some matches were not sent."""
    return any(
        isinstance(issue, dict) and issue.get("severity") in FAILED
        for issue in as_list(outcome.get("issue"))
    )
