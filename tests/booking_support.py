"""Building appointment-book calls for tests: a fixture request with its appointments or
prefetch changed, and an app whose clock the test sets."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from flask import Flask

from fixture_files import fixture_request

BOOK = "/cds-services/lsb-appointment-book"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def set_clock(app: Flask, now: str) -> None:
    """The time of the next hook calls: rules never read the wall clock."""
    moment = at(now)
    app.extensions["cds_clock"] = lambda: moment


def booking(name: str = "40-book-warfarin-in-time", **changes: Any) -> dict[str, Any]:
    """A booking fixture's request; keyword arguments replace fields of its first appointment
    (None removes one)."""
    body = copy.deepcopy(fixture_request(name))
    appointment = body["context"]["appointments"]["entry"][0]["resource"]
    for key, value in changes.items():
        if value is None:
            appointment.pop(key, None)
        else:
            appointment[key] = value
    return body


def kinds(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["source"]["topic"]["code"] for c in response.get_json()["cards"]]


def card(response: Any, kind: str) -> dict[str, Any]:
    return next(c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == kind)


def text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card.get('detail', '')}"


SCHEDULED_FIXTURE = "49-book-scheduled-block-too-close"  # a block on 10 Dec, one booked for 14 Dec


def scheduled(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The appointments already in the schedule, as the request's prefetch holds them."""
    return [e["resource"] for e in body["prefetch"]["scheduledAppointments"]["entry"]]


def in_schedule(body: dict[str, Any], *appointments: dict[str, Any]) -> dict[str, Any]:
    """The request with these appointments added to the schedule's searchset."""
    bundle = body["prefetch"]["scheduledAppointments"]
    for appointment in appointments:
        bundle["entry"].append(
            {
                "fullUrl": f"http://ehr.example.org/fhir/Appointment/{appointment['id']}",
                "resource": appointment,
                "search": {"mode": "match"},
            }
        )
    bundle["total"] = len(bundle["entry"])
    return body


def unreadable() -> dict[str, Any]:
    """What an EHR sends in place of a list it could not read."""
    issue = {"severity": "error", "code": "exception"}
    return {"resourceType": "OperationOutcome", "issue": [issue]}
