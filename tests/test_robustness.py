"""Bad input never gets a 500: every field of every fixture request, and of a feedback post,
replaced in turn by a value of every JSON type (null, boolean, number, string, array, object).

The service must answer with cards (2xx) or an OperationOutcome (4xx). The search is
deterministic, so CI catches a regression on every run. Fields of the same shape (the same hook
and path, list positions aside, in the same kind of resource) are damaged once, in the first
fixture that has them; `CDS_DAMAGE=all` damages every field of every fixture.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from damage_support import WRONG_TYPES, Path, dotted, fields, replaced, shape
from flask import Flask
from flask.testing import FlaskClient

from fixture_files import NAMES, fixture_request, service_for

SMALL = [n for n in NAMES if not n.startswith("27-")]  # 27: the heavy patient, 2.5 MB


def _cases() -> dict[str, list[Path]]:
    """The fields damaged in each fixture request."""
    every = os.environ.get("CDS_DAMAGE", "").strip().lower() == "all"
    seen: set[tuple[Any, ...]] = set()
    cases: dict[str, list[Path]] = {}
    for name in SMALL:
        body = fixture_request(name)
        cases[name] = []
        for path in fields(body):
            key = (body.get("hook"), shape(body, path))
            if every or key not in seen:
                seen.add(key)
                cases[name].append(path)
    return cases


CASES = _cases()


def _answers_well(client: FlaskClient, url: str, body: Any, cards: bool = True) -> str | None:
    """None when the answer is a 200 (with cards, for a hook call) or an OperationOutcome with
    a 4xx; else what was wrong."""
    response = client.post(url, json=body)
    payload = response.get_json(silent=True)
    if response.status_code >= 500:
        return f"{response.status_code}: {payload}"
    if response.status_code == 200:
        ok = not cards or (isinstance(payload, dict) and isinstance(payload.get("cards"), list))
    else:
        ok = isinstance(payload, dict) and payload.get("resourceType") == "OperationOutcome"
    return None if ok else f"{response.status_code} without cards or OperationOutcome"


@pytest.mark.parametrize("name", SMALL)
def test_damaged_requests_never_get_a_500(app: Flask, name: str) -> None:
    body = fixture_request(name)
    url = f"/cds-services/{service_for(body)}"
    client = app.test_client()
    failures = [
        f"{dotted(path)} = {value!r}: {why}"
        for path in CASES[name]
        for value in WRONG_TYPES
        if (why := _answers_well(client, url, replaced(body, path, value)))
    ]
    assert not failures, "\n".join(failures[:20])


def test_every_field_shape_is_damaged() -> None:
    """The deduplication keeps a field of every shape: none is skipped."""
    shapes = {
        (fixture_request(n).get("hook"), shape(fixture_request(n), p))
        for n in SMALL
        for p in fields(fixture_request(n))
    }
    damaged = {
        (fixture_request(n).get("hook"), shape(fixture_request(n), p))
        for n, paths in CASES.items()
        for p in paths
    }
    assert damaged == shapes
    assert len(shapes) > 500  # the fixtures' fields, not an empty walk


def _feedback(client: FlaskClient) -> dict[str, Any]:
    call = fixture_request("01-crps-left-apixaban")
    call["context"]["patientId"] = str(uuid.uuid4())  # its own patient: nothing quieted
    cards = client.post("/cds-services/lsb-order-select", json=call).get_json()["cards"]
    card = next(c for c in cards if c.get("suggestions"))
    return {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-25T09:00:00Z",
            },
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": card["overrideReasons"][0], "userComment": "x"},
                "outcomeTimestamp": "2026-11-25T09:01:00Z",
            },
        ]
    }


def test_damaged_feedback_never_gets_a_500(app: Flask) -> None:
    client = app.test_client()
    body = _feedback(client)
    url = "/cds-services/lsb-order-select/feedback"
    failures = [
        f"{dotted(path)} = {value!r}: {why}"
        for path in fields(body)
        for value in WRONG_TYPES
        if (why := _answers_well(client, url, replaced(body, path, value), cards=False))
    ]
    assert not failures, "\n".join(failures[:20])
