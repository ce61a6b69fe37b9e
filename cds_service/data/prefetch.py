"""Reads the `prefetch` object of a hook call into a PatientRecord.

Per the CDS Hooks spec a key may be a searchset Bundle, `null` (nothing found), an
OperationOutcome (the EHR failed to fetch it) or omitted (the EHR did not try). Only `null`
and a Bundle are data; anything else becomes a Gap, never "no results".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cds_service.data.record import Gap, PatientRecord
from cds_service.reasons import Reason
from cds_service.terminology import as_list

TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Substitutes `{{context.x}}` tokens; None when a token has no value in this call."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        path = match.group(1).split(".")
        if path[0] != "context" or len(path) != 2:
            missing = True
            return ""
        found = context.get(path[1])
        if not isinstance(found, str) or not found:
            missing = True
            return ""
        return found

    rendered = TOKEN.sub(value, template)
    return None if missing else rendered


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in as_list(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def read_prefetch(
    templates: Mapping[str, str], prefetch: Mapping[str, Any] | None
) -> PatientRecord:
    """`templates`: the service's prefetch templates, which say what each key holds."""
    record = PatientRecord()
    record.expect(templates)
    prefetch = prefetch or {}
    for key in templates:
        if key not in prefetch:
            record.gaps[key] = Gap(key, Reason("not-provided"), omitted=True)
            continue
        value = prefetch[key]
        if value is None:
            record.resources[key] = []
            continue
        kind = value.get("resourceType") if isinstance(value, dict) else None
        if kind == "OperationOutcome":
            record.gaps[key] = Gap(key, Reason("prefetch-error"))
        elif kind == "Bundle" and isinstance(value.get("entry", []), list):
            record.add_bundle_entries(key, value)
            if url := next_link(value):
                record.next_pages[key] = url
                record.gaps[key] = Gap(key, Reason("prefetch-first-page-only"), partial=True)
        else:
            record.gaps[key] = Gap(key, Reason("prefetch-not-a-bundle"))
    return record
