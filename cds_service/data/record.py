"""The patient's record as read for one hook call, with what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cds_service.terminology import as_list

Resource = dict[str, Any]


@dataclass(frozen=True)
class Gap:
    """Data the service needed for a prefetch key and could not obtain (or only in part)."""

    key: str
    reason: str  # general terms, safe to show a clinician: no token, no patient identifier
    partial: bool = False  # some resources were read, the rest (further pages) were not
    omitted: bool = False  # the EHR did not send the key at all (it never tried)


@dataclass
class PatientRecord:
    """Resources per prefetch key, the Medications they refer to, and the gaps."""

    resources: dict[str, list[Resource]] = field(default_factory=dict)
    medications: dict[str, Resource] = field(default_factory=dict)  # "Medication/<id>" -> resource
    gaps: dict[str, Gap] = field(default_factory=dict)
    next_pages: dict[str, str] = field(default_factory=dict)  # key -> `next` link not yet followed

    def add_bundle_entries(self, key: str, bundle: Resource) -> None:
        """Adds a searchset page: matches under `key`, any Medication to the lookup table."""
        matches = self.resources.setdefault(key, [])
        for entry in as_list(bundle.get("entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str):
                self.medications[f"Medication/{resource['id']}"] = resource
                search = entry.get("search")
                mode = search.get("mode") if isinstance(search, dict) else None
                if mode == "include":
                    continue
            matches.append(resource)

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
