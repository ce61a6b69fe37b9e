"""Smoke test of the loopback FHIR test server and its harness (real HTTP, no mocks)."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import requests

from .harness import DEFAULT_TEST_TOKEN, FhirTestServer

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
FHIR_JSON = "application/fhir+json"


def _bundle() -> dict[str, Any]:
    """Synthetic data for Patient/p1 only; no Patient resource on purpose."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "cond-g90",
                    "subject": {"reference": "Patient/p1"},
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "code": {
                        "coding": [
                            {
                                "system": ICD10CM,
                                "code": "G90.522",
                                "display": "Complex regional pain syndrome I of left lower limb",
                            }
                        ]
                    },
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "cond-other-patient",
                    "subject": {"reference": "Patient/p2"},
                    "code": {"coding": [{"system": ICD10CM, "code": "I48.91"}]},
                }
            },
            {
                "resource": {
                    "resourceType": "Medication",
                    "id": "m1",
                    "code": {
                        "coding": [
                            {
                                "system": RXNORM,
                                "code": "1364445",
                                "display": "apixaban 5 MG Oral Tablet",
                            }
                        ]
                    },
                }
            },
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": "ms-contained",
                    "status": "active",
                    "subject": {"reference": "Patient/p1"},
                    "contained": [
                        {
                            "resourceType": "Medication",
                            "id": "med-c",
                            "code": {
                                "coding": [
                                    {
                                        "system": RXNORM,
                                        "code": "855332",
                                        "display": "warfarin sodium 5 MG Oral Tablet",
                                    }
                                ]
                            },
                        }
                    ],
                    "medicationReference": {"reference": "#med-c"},
                }
            },
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": "ms-ref",
                    "status": "active",
                    "subject": {"reference": "Patient/p1"},
                    "medicationReference": {"reference": "Medication/m1"},
                }
            },
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "mr-1",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": "Patient/p1"},
                    "medicationReference": {"reference": "Medication/m1"},
                }
            },
        ],
    }


def _get(server: FhirTestServer, path_or_url: str, **kw: Any) -> requests.Response:
    url = path_or_url if path_or_url.startswith("http") else f"{server.base_url}/{path_or_url}"
    headers = {"Accept": FHIR_JSON, **server.auth_headers(), **kw.pop("headers", {})}
    timeout = kw.pop("timeout", 10)
    return requests.get(url, headers=headers, timeout=timeout, **kw)


def _search(server: FhirTestServer, path: str) -> dict[str, Any]:
    resp = _get(server, path)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith(FHIR_JSON)
    bundle: dict[str, Any] = resp.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return sorted(
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") == mode
    )


def test_startup_and_sigterm() -> None:
    server = FhirTestServer()
    base = server.start(token=None)
    try:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/fhir")
        assert server.startup_seconds is not None and server.startup_seconds < 10, (
            server.startup_seconds
        )
        print(f"FHIR test server start-up: {server.startup_seconds:.2f}s")
        # no token configured: no auth needed
        assert requests.get(f"{base}/metadata", timeout=5).status_code == 200
        assert requests.get(f"{base}/Condition?patient=p1", timeout=5).status_code == 200
        proc = server._proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        server.stop()
    assert not server.running


def test_search_by_patient_forms(fhir: FhirTestServer) -> None:
    loaded = fhir.load(_bundle())
    assert "Patient/p1" in loaded["stub_patients"]

    for query in (
        "Condition?patient=Patient/p1",
        "Condition?patient=p1",
        "Condition?subject=Patient/p1",
        "Condition?subject=p1",
        "Condition?subject:Patient=p1",
        f"Condition?patient={fhir.base_url}/Patient/p1",
    ):
        bundle = _search(fhir, query)
        assert _ids(bundle) == ["Condition/cond-g90"], query
        assert bundle["total"] == 1
        coding = bundle["entry"][0]["resource"]["code"]["coding"][0]
        assert (coding["system"], coding["code"]) == (ICD10CM, "G90.522")
        assert bundle["entry"][0]["fullUrl"] == f"{fhir.base_url}/Condition/cond-g90"

    token_search = _search(fhir, f"Condition?patient=p1&code={ICD10CM}|G90.522")
    assert _ids(token_search) == ["Condition/cond-g90"]
    assert _search(fhir, "Condition?patient=nobody").get("entry") is None

    unknown = _get(fhir, "Condition?no-such-param=1")
    assert unknown.status_code == 400
    assert unknown.json()["resourceType"] == "OperationOutcome"


def test_include_and_read(fhir: FhirTestServer) -> None:
    fhir.load(_bundle())

    ms = _search(
        fhir, "MedicationStatement?patient=Patient/p1&_include=MedicationStatement:medication"
    )
    assert _ids(ms) == ["MedicationStatement/ms-contained", "MedicationStatement/ms-ref"]
    assert _ids(ms, "include") == ["Medication/m1"]
    assert ms["total"] == 2  # total counts matches only

    mr = _search(fhir, "MedicationRequest?patient=p1&_include=MedicationRequest:medication")
    assert _ids(mr) == ["MedicationRequest/mr-1"]
    assert _ids(mr, "include") == ["Medication/m1"]

    no_include = _search(fhir, "MedicationStatement?patient=p1")
    assert _ids(no_include, "include") == []

    resp = _get(fhir, "Medication/m1")
    assert resp.status_code == 200
    med = resp.json()
    assert med["code"]["coding"][0] == {
        "system": RXNORM,
        "code": "1364445",
        "display": "apixaban 5 MG Oral Tablet",
    }
    assert _get(fhir, "Medication/does-not-exist").status_code == 404


def test_pagination_follows_next_links(fhir: FhirTestServer) -> None:
    bundle = _bundle()
    for i in range(3):
        bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": f"extra-{i}",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": ICD10CM, "code": "E11.9"}]},
                }
            }
        )
    fhir.load(bundle)

    seen: list[str] = []
    url: str | None = f"{fhir.base_url}/Condition?patient=p1&_count=1"
    pages = 0
    while url:
        assert url.startswith(fhir.base_url + "/"), url
        page = _search(fhir, url)
        pages += 1
        assert len(page.get("entry", [])) == 1
        assert page["total"] == 4
        seen += _ids(page)
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        assert pages <= 10
    assert pages == 4
    assert sorted(seen) == [
        "Condition/cond-g90",
        "Condition/extra-0",
        "Condition/extra-1",
        "Condition/extra-2",
    ]

    # paging keeps _include working on each page
    url = (
        f"{fhir.base_url}/MedicationStatement?patient=p1"
        "&_include=MedicationStatement:medication&_count=1"
    )
    includes: list[str] = []
    while url:
        page = _search(fhir, url)
        includes += _ids(page, "include")
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert includes == ["Medication/m1"]


def test_auth_required(fhir: FhirTestServer) -> None:
    fhir.load(_bundle())
    assert fhir.token == DEFAULT_TEST_TOKEN

    missing = requests.get(f"{fhir.base_url}/Condition?patient=p1", timeout=5)
    assert missing.status_code == 401
    assert missing.json()["resourceType"] == "OperationOutcome"

    wrong = requests.get(
        f"{fhir.base_url}/Condition?patient=p1", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert wrong.status_code == 401
    assert wrong.json()["resourceType"] == "OperationOutcome"

    assert _get(fhir, "Condition?patient=p1").status_code == 200

    log = fhir.requests_log()
    assert [(r["status"], r["has_authorization"]) for r in log] == [
        (401, False),
        (401, True),
        (200, True),
    ]
    assert all(r["path"] == "/fhir/Condition?patient=p1" for r in log)
    assert DEFAULT_TEST_TOKEN not in json.dumps(log)


def test_fault_injection(fhir: FhirTestServer) -> None:
    fhir.load(_bundle())
    fhir.behave(status=429, retry_after="1", times=2, path_contains="MedicationStatement")

    # other paths are unaffected
    assert _get(fhir, "Condition?patient=p1").status_code == 200
    for _ in range(2):
        resp = _get(fhir, "MedicationStatement?patient=p1")
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "1"
        assert resp.json()["resourceType"] == "OperationOutcome"
    assert _get(fhir, "MedicationStatement?patient=p1").status_code == 200

    fhir.behave(delay_ms=400, times=1)
    t0 = time.monotonic()
    assert _get(fhir, "Medication/m1").status_code == 200
    assert time.monotonic() - t0 >= 0.35

    fhir.behave(delay_ms=1500, times=1)
    try:
        _get(fhir, "Medication/m1", timeout=0.3)
        raise AssertionError("expected a client timeout")
    except requests.Timeout:
        pass

    fhir.behave(status=503, times=-1)
    assert _get(fhir, "Medication/m1").status_code == 503
    assert _get(fhir, "Medication/m1").status_code == 503
    fhir.behave(reset=True)
    assert _get(fhir, "Medication/m1").status_code == 200

    log = fhir.requests_log()
    assert [r["status"] for r in log if "MedicationStatement" in r["path"]] == [429, 429, 200]
    assert sum(1 for r in log if r["injected"]) == 6


def test_transaction_via_fhir_api(fhir: FhirTestServer) -> None:
    result = fhir.load_via_fhir(_bundle())
    assert result["type"] == "transaction-response"
    assert all(e["response"]["status"].startswith("20") for e in result["entry"])
    assert (
        _get(fhir, "MedicationStatement/ms-ref").json()["medicationReference"]["reference"]
        == "Medication/m1"
    )
    # no Patient resource exists here: search by patient still works
    assert _get(fhir, "Patient/p1").status_code == 404
    assert _ids(_search(fhir, "Condition?patient=p1")) == ["Condition/cond-g90"]
