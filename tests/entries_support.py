"""Searchset entries a service cannot read: no resource, or a match of another type than the
query asks for. Used to build requests (prefetch) and FHIR server answers alike."""

from __future__ import annotations

import copy
from typing import Any

from fixture_files import fixture_request

BASE = "http://ehr.example.org/fhir"


def no_resource(resource_type: str, id_: str) -> dict[str, Any]:
    """An entry that names a record but does not hold it."""
    return {"fullUrl": f"{BASE}/{resource_type}/{id_}", "search": {"mode": "match"}}


def misfiled(resource: dict[str, Any], mode: str = "match") -> dict[str, Any]:
    """An entry holding `resource` as a match (or as `mode` says)."""
    return {
        "fullUrl": f"{BASE}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def a_patient(id_: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": id_, "active": True}


def searchset(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": sum(e.get("search", {}).get("mode") == "match" for e in entries),
        "entry": list(entries),
    }


def with_entries(name: str, key: str, *entries: dict[str, Any]) -> dict[str, Any]:
    """The fixture's request with these entries added to the searchset of `key`."""
    body = copy.deepcopy(fixture_request(name))
    bundle = body["prefetch"][key]
    bundle["entry"] = [*bundle.get("entry", []), *entries]
    bundle["total"] = sum(e.get("search", {}).get("mode") == "match" for e in bundle["entry"])
    return body


def card_texts(response: Any) -> dict[str, str]:
    """Summary and detail of each card, by kind."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return {
        c["source"]["topic"]["code"]: f"{c['summary']}\n{c.get('detail', '')}"
        for c in response.get_json()["cards"]
    }
