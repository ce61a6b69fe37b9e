"""Hook requests without prefetch, and cards compared as a clinician would read them."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

import requests
from flask.testing import FlaskClient

from fhir_server.harness import FhirTestServer
from fixture_files import card_kind, fixture_request, service_for

TOKEN = "s3cr3t-ehr-access-token-7f1c"  # distinctive, so a leak is easy to spot


def authorization(token: str = TOKEN) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Condition.read patient/MedicationStatement.read",
        "subject": "lsb-cds-service",
    }


def fetching(
    name: str, fhir_server: str, keep: Iterable[str] = (), token: str | None = TOKEN
) -> dict[str, Any]:
    """The fixture's hook request with fhirServer and only the prefetch keys in `keep`."""
    body = copy.deepcopy(fixture_request(name))
    prefetch = {k: v for k, v in (body.pop("prefetch", None) or {}).items() if k in keep}
    if prefetch:
        body["prefetch"] = prefetch
    body["fhirServer"] = fhir_server
    if token is not None:
        body["fhirAuthorization"] = authorization(token)
    return body


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service_for(body)}", json=body)


def cards_seen(response: Any) -> list[tuple[str, str, str, str]]:
    """Kind, indicator, summary and detail of each card: all but the uuids, which differ."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(
        (card_kind(c), c["indicator"], c["summary"], c.get("detail", ""))
        for c in response.get_json()["cards"]
    )


def kinds(response: Any) -> list[str]:
    return sorted(kind for kind, *_ in cards_seen(response))


def card(response: Any, kind: str) -> dict[str, Any]:
    return next(c for c in response.get_json()["cards"] if card_kind(c) == kind)


def text_of(card: dict[str, Any]) -> str:
    """Summary and detail, with the Markdown escapes of record text undone."""
    return re.sub(r"\\(.)", r"\1", f"{card['summary']}\n{card.get('detail', '')}")


def diagnostics(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return "\n".join(str(issue.get("diagnostics")) for issue in body["issue"])


def requests_for(log: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in log if r["path"].startswith(f"/fhir/{resource_type}")]


def first_page(ehr: FhirTestServer, query: str) -> dict[str, Any]:
    """A searchset page as the EHR's own prefetch would send it: with a `next` link."""
    response = requests.get(f"{ehr.base_url}/{query}", headers=ehr.auth_headers(), timeout=10)
    response.raise_for_status()
    page: dict[str, Any] = response.json()
    assert any(link["relation"] == "next" for link in page["link"])
    return page


def statements_page_1(ehr: FhirTestServer) -> dict[str, Any]:
    return first_page(
        ehr, "MedicationStatement?patient=lsb-24&_include=MedicationStatement:medication&_count=1"
    )
