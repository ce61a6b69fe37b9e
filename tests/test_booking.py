"""The appointment-book service through the HTTP API: the dated plan, too-soon bookings, the
clinic's protocol, the series, and everything around it (discovery, 400, 412, data quality,
feedback, trust). Every call runs at a time the test sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from booking_support import (
    BOOK,
    SCHEDULED_FIXTURE,
    at,
    booking,
    card,
    in_schedule,
    kinds,
    scheduled,
    set_clock,
    text,
    unreadable,
)
from flask import Flask
from flask.testing import FlaskClient
from jwt_helpers import PUBLIC_URL, TestIssuer

from cds_service import create_app
from cds_service.config import ConfigError
from cds_service.services import BY_ID

from fixture_files import FIXTURE_NOW, ROOT, fixture_request

NOW = FIXTURE_NOW.isoformat()
EXAMPLE_PROTOCOL = ROOT / "docs" / "examples" / "local-protocol.yaml"


@pytest.fixture()
def booked(app: Flask, client: FlaskClient) -> Callable[..., Any]:
    """Posts an appointment-book call at a given time (the fixtures' time by default)."""

    def post(body: dict[str, Any], now: str = NOW) -> Any:
        set_clock(app, now)
        return client.post(BOOK, json=body)

    return post


# --- discovery and request validation --------------------------------------------------------


def test_discovery_lists_the_booking_service_with_its_prefetch(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    [service] = [s for s in services if s["hook"] == "appointment-book"]
    assert service["id"] == "lsb-appointment-book"
    assert service["prefetch"] == {
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
        "&_include=MedicationStatement:medication",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
        "&_include=MedicationRequest:medication",
        "serviceRequests": "ServiceRequest?patient={{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
        "completedServiceRequests": "ServiceRequest?patient={{context.patientId}}&status=completed",
        "allergies": "AllergyIntolerance?patient={{context.patientId}}",
        # The order services' lab query: bleeding-risk labs and kidney function.
        "observations": BY_ID["lsb-order-select"].prefetch["observations"],
        # Only context tokens: the appointments still to come by status, past ones left out
        # in code by the call's clock.
        "scheduledAppointments": "Appointment?patient={{context.patientId}}"
        "&status=proposed,pending,booked,arrived,checked-in",
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"start": "2026-12-11T09:00:00"}, "UTC offset"),  # local time: which day is unknown
        ({"start": "next friday"}, "instant"),
        ({"end": "2026-12-11"}, "instant"),
    ],
)
def test_a_start_without_its_offset_is_a_400(
    booked: Callable[..., Any], change: dict[str, str], why: str
) -> None:
    response = booked(booking(**change))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    found = {e: i["diagnostics"] for i in issues for e in i.get("expression", [])}
    assert why in found["context.appointments"]


def test_appointments_must_be_a_bundle_of_appointments(booked: Callable[..., Any]) -> None:
    body = booking()
    body["context"]["appointments"]["entry"].append({"resource": {"resourceType": "Patient"}})
    assert booked(body).status_code == 400
    del body["context"]["appointments"]
    response = booked(body)
    assert response.status_code == 400
    assert "context.appointments" in response.get_data(as_text=True)


def test_an_omitted_prefetch_key_without_a_fhir_server_is_412(booked: Callable[..., Any]) -> None:
    body = booking()
    del body["prefetch"]["serviceRequests"]
    response = booked(body)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert "prefetch.serviceRequests" in response.get_data(as_text=True)


# --- the dated plan and the clock ----------------------------------------------------------


def test_the_same_booking_becomes_too_soon_as_the_clock_moves(booked: Callable[..., Any]) -> None:
    body = booking()  # warfarin, block on Friday 11 December 09:00 -05:00: last dose the 5th
    assert "booking-too-soon" not in kinds(booked(body, "2026-12-06T04:59:00Z"))  # the 5th there
    late = booked(body, "2026-12-06T05:00:00Z")  # midnight in the appointment's offset
    assert kinds(late)[0] == "booking-too-soon"
    critical = card(late, "booking-too-soon")
    assert critical["indicator"] == "critical"
    assert "warfarin" in critical["summary"] and "5 days" in critical["summary"]
    assert "Earliest date that works: Saturday 12 December 2026" in critical["detail"]
    assert "suggestions" not in critical  # nothing moves the appointment
    reasons = {r["display"] for r in critical["overrideReasons"]}
    assert {"Hold already started", "Prescriber plan differs"} <= reasons


def test_hours_are_dated_to_the_minute_in_the_appointments_offset(
    booked: Callable[..., Any],
) -> None:
    body = booking("46-book-series-of-three")
    entry = body["context"]["appointments"]["entry"][1]["resource"]
    entry["start"], entry["end"] = "2026-12-15T09:30:00+05:30", "2026-12-15T10:15:00+05:30"
    response = booked(body)
    first = card(response, "booking-hold-plan")
    # 40 mg daily: a prophylactic dose, so a 12-hour hold
    assert "Last dose no later than Monday 14 December 2026, 21:30" in first["detail"]
    assert "Restart: Tuesday 15 December 2026, 22:15 at the earliest" in first["detail"]
    assert "UTC+05:30" in first["detail"]


def test_a_booking_without_a_start_lists_the_hold_without_dates(
    booked: Callable[..., Any],
) -> None:
    response = booked(booking(start=None, end=None))
    assert kinds(response) == ["booking-hold-plan", "booking-preparation"]
    plan = card(response, "booking-hold-plan")
    assert "no start time booked yet" in plan["detail"]
    assert "No dates: the appointment has no start time yet" in plan["detail"]
    assert "suggestions" not in card(response, "booking-preparation")  # no window to give


def test_cancelled_and_non_block_appointments_get_no_card(booked: Callable[..., Any]) -> None:
    assert kinds(booked(booking(status="cancelled"))) == []
    assert kinds(booked(fixture_request("45-book-non-lsb-appointment"))) == []


CPT_64520 = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64520"}]}


@pytest.mark.parametrize(
    ("field", "value", "how"),
    [
        ("serviceType", [{"text": "Lumbar sympathetic block, left"}], "its service type"),
        ("appointmentType", CPT_64520, "its appointment type"),
        ("reasonCode", [CPT_64520], "its reason"),
    ],
)
def test_the_block_is_recognised_by_any_of_its_fields(
    booked: Callable[..., Any], field: str, value: Any, how: str
) -> None:
    changes: dict[str, Any] = {"serviceType": None, field: value}
    response = booked(booking(**changes))
    assert f"recognised by {how}" in card(response, "booking-hold-plan")["detail"]
    assert kinds(booked(booking(serviceType=None))) == []  # nothing says it is the block


def test_the_clinic_protocol_gives_a_doac_its_dates(booked: Callable[..., Any]) -> None:
    """Without a protocol apixaban has no interval; the example protocol (72 hours before,
    24 after) reaches the plan through `holds_for` and dates it to the hour."""
    body = fixture_request("42-book-apixaban-no-interval")  # 14 December 13:30 +01:00
    before = card(booked(body), "booking-hold-plan")
    assert "not known here" in before["detail"] and "Last dose" not in before["detail"]

    app = create_app(dev_mode=True, local_protocol=str(EXAMPLE_PROTOCOL))
    set_clock(app, NOW)  # 13:00 on 25 November in the appointment's offset
    client = app.test_client()
    plan = card(client.post(BOOK, json=body), "booking-hold-plan")
    assert "Last dose no later than Friday 11 December 2026, 13:30" in plan["detail"]
    assert "Restart: Tuesday 15 December 2026, 14:30 at the earliest" in plan["detail"]
    assert "Periprocedural anticoagulation protocol (example)" in plan["detail"]
    # The same protocol makes a booking two days ahead too soon: 72 hours from now at least.
    soon = booking(
        "42-book-apixaban-no-interval",
        start="2026-11-27T08:00:00+01:00",
        end="2026-11-27T09:00:00+01:00",
    )
    critical = card(client.post(BOOK, json=soon), "booking-too-soon")
    assert "apixaban (72 hours)" in critical["summary"]
    assert "Earliest date that works: Saturday 28 November 2026, 13:00" in critical["detail"]


def test_a_protocol_that_differs_from_the_guideline_dates_the_protocol_and_names_both(
    tmp_path: Path,
) -> None:
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(
        'name: Test protocol\nversion: "7"\napproved_by: Test committee\n'
        "approved_on: 2026-05-01\ndrugs:\n"
        '  - rxnorm: "11289"\n    hold_before_hours: 96\n    restart_after_hours: 24\n',
        encoding="utf-8",
    )  # warfarin: 96 hours instead of the guideline's 5 days
    app = create_app(dev_mode=True, local_protocol=str(protocol))
    set_clock(app, NOW)
    plan = card(app.test_client().post(BOOK, json=booking()), "booking-hold-plan")
    assert "Last dose no later than Monday 7 December 2026, 09:00" in plan["detail"]
    assert "The guideline's figure differs: 5 days before, restart 6 hours after" in plan["detail"]
    assert "Last dose: Saturday 5 December" not in plan["detail"]


def test_record_ids_are_for_integrators_not_in_the_text(booked: Callable[..., Any]) -> None:
    response = booked(fixture_request("42-book-apixaban-no-interval"))
    plan = card(response, "booking-hold-plan")
    assert "/f42-" not in text(plan)  # no FHIR id in what a clinician reads
    booking_ext = plan["extension"]["urn:lsb-cds-service:booking"]
    assert booking_ext["appointments"] == [
        {
            "reference": "Appointment/f42-apt-block",
            "recognisedBy": "the order it is based on",
            "basedOn": "ServiceRequest/f42-sr-lsb",
        }
    ]
    [drug] = plan["extension"]["urn:lsb-cds-service:evidence"]["drugs"]
    assert drug["records"][0]["reference"] == "MedicationStatement/f42-ms-apixaban"


# --- data quality ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "key", "said"),
    [
        ("44-book-no-antithrombotics", "medicationStatements",
         ["anticoagulant and antiplatelet check could not be completed", "medication list"]),
        (SCHEDULED_FIXTURE, "scheduledAppointments",
         ["the appointments already in the schedule", "could not be checked"]),
    ],
)
def test_an_unreadable_list_is_said_on_a_card(
    booked: Callable[..., Any], fixture: str, key: str, said: list[str]
) -> None:
    body = booking(fixture)
    body["prefetch"][key] = unreadable()
    response = booked(body)
    assert sorted(kinds(response)) == ["booking-preparation", "data-quality"]
    quality = text(card(response, "data-quality"))
    for words in said:
        assert words in quality


def test_an_unreadable_order_only_matters_when_it_decides_the_block(
    booked: Callable[..., Any],
) -> None:
    body = fixture_request("47-book-unreadable-order")
    assert kinds(booked(body)) == ["data-quality"]
    coded = booking(
        "47-book-unreadable-order",
        serviceType=booking()["context"]["appointments"]["entry"][0]["resource"]["serviceType"],
    )
    assert "data-quality" not in kinds(booked(coded))  # recognised by its own code


# --- clock configuration --------------------------------------------------------------------


def test_the_clock_is_injected_never_read_by_a_rule() -> None:
    fixed = at("2026-12-06T05:00:00Z")
    app = create_app(dev_mode=True, clock=lambda: fixed)
    response = app.test_client().post(BOOK, json=booking())
    assert kinds(response)[0] == "booking-too-soon"


def test_a_fixed_clock_is_for_development_mode_only(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    monkeypatch.setenv("CDS_FIXED_NOW", "2026-12-06T05:00:00Z")
    with pytest.raises(ConfigError, match="CDS_FIXED_NOW"):
        make_app(trusted_clients=str(trusted_file))
    app = create_app(dev_mode=True)
    assert app.extensions["cds_clock"]() == at("2026-12-06T05:00:00Z")
    monkeypatch.setenv("CDS_FIXED_NOW", "2026-12-06T05:00:00")
    with pytest.raises(ValueError, match="UTC offset"):
        create_app(dev_mode=True)


# --- trust and feedback ---------------------------------------------------------------------


def test_booking_calls_need_a_signed_jwt_and_their_cards_take_feedback(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, database_url: str
) -> None:
    app = make_app(trusted_clients=str(trusted_file), database_url=database_url)
    set_clock(app, NOW)
    client = app.test_client()
    body = fixture_request("41-book-warfarin-too-soon")
    assert client.post(BOOK, json=body).status_code == 401
    response = client.post(BOOK, json=body, headers=issuer.auth(PUBLIC_URL + BOOK))
    critical = card(response, "booking-too-soon")
    info = card(response, "booking-preparation")
    feedback = {
        "feedback": [
            {
                "card": critical["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": critical["overrideReasons"][0]},
                "outcomeTimestamp": "2026-11-25T08:00:00Z",
            },
            {
                "card": info["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": info["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-25T08:00:00Z",
            },
        ]
    }
    path = BOOK + "/feedback"
    stored = client.post(path, json=feedback, headers=issuer.auth(PUBLIC_URL + path))
    assert stored.status_code == 200, stored.get_data(as_text=True)
    assert stored.get_json() == {"received": 2, "stored": 2}


# --- blocks already in the schedule ----------------------------------------------------------


def spacing_detail(response: Any) -> str:
    return str(card(response, "booking-series-spacing")["detail"])


def test_a_block_already_in_the_schedule_makes_a_new_booking_too_close(
    booked: Callable[..., Any],
) -> None:
    body = booking(SCHEDULED_FIXTURE)  # in the schedule: Thursday 10 Dec; booked: Monday 14 Dec
    response = booked(body)
    assert "booking-series-spacing" in kinds(response)
    detail = spacing_detail(response)
    assert "Thursday 10 December 2026 (already in the schedule" in detail
    assert "Monday 14 December 2026 (booked now" in detail
    assert "**4 days apart**" in detail
    extension = card(response, "booking-series-spacing")["extension"]
    assert extension["urn:lsb-cds-service:booking"]["scheduledBlocks"] == [
        {
            "reference": "Appointment/f49-apt-scheduled-block",
            "recognisedBy": "its service type",
            "basedOn": None,
        }
    ]
    body["prefetch"]["scheduledAppointments"] = None  # nothing in the schedule
    assert "booking-series-spacing" not in kinds(booked(body))


def test_a_block_in_the_schedule_after_the_one_booked_is_checked_too(
    booked: Callable[..., Any],
) -> None:
    body = booking(
        SCHEDULED_FIXTURE, start="2026-12-04T09:00:00-05:00", end="2026-12-04T10:00:00-05:00"
    )
    detail = spacing_detail(booked(body))
    assert "Friday 4 December 2026 (booked now" in detail
    assert "Thursday 10 December 2026 (already in the schedule" in detail
    assert "**6 days apart**" in detail


def test_the_scheduled_block_is_counted_in_its_own_offset(booked: Callable[..., Any]) -> None:
    """23:30 on 10 December at UTC-05:00 is 11 December in UTC: counted in UTC the two blocks
    would be 13 days apart (too close); on the appointments' own calendar they are 14."""
    body = booking(
        SCHEDULED_FIXTURE, start="2026-12-24T09:00:00-05:00", end="2026-12-24T10:00:00-05:00"
    )
    [block] = scheduled(body)
    block["start"], block["end"] = "2026-12-10T23:30:00-05:00", "2026-12-11T00:30:00-05:00"
    assert "booking-series-spacing" not in kinds(booked(body))
    block["start"], block["end"] = "2026-12-11T00:30:00-05:00", "2026-12-11T01:30:00-05:00"
    assert "**13 days apart**" in spacing_detail(booked(body))


def test_a_scheduled_block_that_is_over_by_the_calls_clock_is_left_out(
    booked: Callable[..., Any],
) -> None:
    body = booking(SCHEDULED_FIXTURE)  # the scheduled block ends 10 Dec 10:00 -05:00 (15:00Z)
    assert "booking-series-spacing" in kinds(booked(body, "2026-12-10T14:59:00Z"))
    assert "booking-series-spacing" not in kinds(booked(body, "2026-12-10T15:01:00Z"))


@pytest.mark.parametrize("status", ["cancelled", "noshow", "entered-in-error", "fulfilled"])
def test_a_scheduled_block_no_longer_to_come_is_left_out(
    booked: Callable[..., Any], status: str
) -> None:
    body = booking(SCHEDULED_FIXTURE)
    scheduled(body)[0]["status"] = status
    assert "booking-series-spacing" not in kinds(booked(body))


LATER = {"start": "2026-12-14T09:30:00-05:00", "end": "2026-12-14T10:30:00-05:00"}


@pytest.mark.parametrize(
    "echo",
    [
        # the appointment being booked, already saved by the EHR (its time since adjusted)
        {"id": "f49-apt-block", "identifier": [], **LATER},
        {"id": "f49-saved", **LATER},  # another id, the same identifier
        {"id": "f49-saved", "identifier": []},  # another id, the same start and end
    ],
)
def test_the_appointment_being_booked_echoed_by_the_schedule_is_not_a_second_block(
    booked: Callable[..., Any], echo: dict[str, Any]
) -> None:
    ehr_id = [{"system": "urn:ehr:appointments", "value": "A-77"}]
    body = booking(SCHEDULED_FIXTURE, identifier=ehr_id)
    body["prefetch"]["scheduledAppointments"]["entry"] = []
    booking_now = body["context"]["appointments"]["entry"][0]["resource"]
    in_schedule(body, {**booking_now, "status": "booked", **echo})
    assert "booking-series-spacing" not in kinds(booked(body))
    # Another block the same day, an hour later, is a second block: 0 days apart.
    in_schedule(
        body,
        {
            **booking_now,
            "id": "f49-second",
            "identifier": [],
            "start": "2026-12-14T11:00:00-05:00",
            "end": "2026-12-14T12:00:00-05:00",
        },
    )
    assert "**0 days apart**" in spacing_detail(booked(body))


def test_another_patients_appointment_is_not_believed(booked: Callable[..., Any]) -> None:
    body = booking(SCHEDULED_FIXTURE)
    scheduled(body)[0]["participant"][0]["actor"]["reference"] = "Patient/someone-else"
    assert "booking-series-spacing" not in kinds(booked(body))


def test_a_scheduled_block_is_recognised_by_its_order_and_its_words_are_escaped(
    booked: Callable[..., Any],
) -> None:
    body = booking(SCHEDULED_FIXTURE)
    [block] = scheduled(body)
    block["serviceType"] = [{"text": "Pain procedure *urgent* [see note](http://x.example)"}]
    assert "booking-series-spacing" not in kinds(booked(body))  # nothing says it is a block
    block["basedOn"] = [{"reference": "ServiceRequest/f49-sr-lsb"}]
    body["prefetch"]["serviceRequests"]["entry"] = [
        {
            "fullUrl": "http://ehr.example.org/fhir/ServiceRequest/f49-sr-lsb",
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "f49-sr-lsb",
                "status": "active",
                "intent": "order",
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64520"}]},
                "subject": {"reference": "Patient/lsb-49"},
            },
            "search": {"mode": "match"},
        }
    ]
    detail = spacing_detail(booked(body))
    assert r"Pain procedure \*urgent\* \[see note\]" in detail  # record text is escaped
    assert "*urgent*" not in detail


def test_a_schedule_read_in_part_is_used_and_said(booked: Callable[..., Any]) -> None:
    body = booking(SCHEDULED_FIXTURE)
    body["prefetch"]["scheduledAppointments"]["link"].append(
        {"relation": "next", "url": "http://ehr.example.org/fhir/Appointment?page=2"}
    )
    response = booked(body)
    assert "booking-series-spacing" in kinds(response)  # what was read still counts
    assert "only its first page was provided" in text(card(response, "data-quality"))


def test_an_omitted_schedule_without_a_fhir_server_is_412(booked: Callable[..., Any]) -> None:
    """As every key of this service: the service does not take an unsent list for an empty
    schedule."""
    body = booking(SCHEDULED_FIXTURE)
    del body["prefetch"]["scheduledAppointments"]
    response = booked(body)
    assert response.status_code == 412
    assert "prefetch.scheduledAppointments" in response.get_data(as_text=True)


def test_two_blocks_booked_before_this_call_are_not_this_bookings_warning(
    booked: Callable[..., Any],
) -> None:
    """They were checked when they were booked: the card is about the block booked now."""
    body = booking(
        SCHEDULED_FIXTURE, start="2027-01-20T09:00:00-05:00", end="2027-01-20T10:00:00-05:00"
    )
    [block] = scheduled(body)
    in_schedule(
        body,
        {
            **block,
            "id": "f49-scheduled-too",
            "start": "2026-12-13T09:00:00-05:00",
            "end": "2026-12-13T10:00:00-05:00",
        },
    )  # 10 and 13 December: 3 days apart, both already in the schedule
    assert "booking-series-spacing" not in kinds(booked(body))
    body["context"]["appointments"]["entry"][0]["resource"]["start"] = "2026-12-20T09:00:00-05:00"
    body["context"]["appointments"]["entry"][0]["resource"]["end"] = "2026-12-20T10:00:00-05:00"
    detail = spacing_detail(booked(body))  # 7 days after the later one: that pair only
    assert "**7 days apart**" in detail and "3 days apart" not in detail


def test_a_block_in_the_schedule_counts_in_the_series(booked: Callable[..., Any]) -> None:
    body = booking(SCHEDULED_FIXTURE)  # scheduled 10 December, booked 14 December
    preparation = card(booked(body), "booking-preparation")["detail"]
    assert "block 2 of the series" in preparation
    assert "**Blocks already in the schedule:** Thursday 10 December 2026, 09:00" in preparation
    body = booking(  # booked before the scheduled one: it is the first of the series
        SCHEDULED_FIXTURE, start="2026-12-04T09:00:00-05:00", end="2026-12-04T10:00:00-05:00"
    )
    assert "of the series" not in card(booked(body), "booking-preparation")["detail"]


def test_a_series_gives_the_counting_and_the_coordination_once(
    booked: Callable[..., Any],
) -> None:
    response = booked(fixture_request("46-book-series-of-three"))
    cards = response.get_json()["cards"]
    plans = [c["detail"] for c in cards if c["source"]["topic"]["code"] == "booking-hold-plan"]
    assert len(plans) == 3
    first, *later = plans
    assert "**How the dates are counted:**" in first and "intermediate-risk" in first
    for detail in later:  # each still says how to read it and who decides, in one line
        assert "How the dates are counted" not in detail and "intermediate-risk" not in detail
        assert "counted as on the plan for the first block booked here (Tue 15 Dec 2026)" in detail
        assert "Do not stop an anticoagulant or antiplatelet without the prescriber" in detail
        assert "in UTC+00:00" in detail
    single = card(booked(booking()), "booking-hold-plan")["detail"]  # one block: in full
    assert "**How the dates are counted:**" in single and "intermediate-risk" in single


def test_unreadable_procedures_are_said_as_the_spacing_counts_from_the_last_block_done(
    booked: Callable[..., Any],
) -> None:
    body = booking("48-book-second-block-contrast-allergy")  # 10 days after the last block
    assert "booking-series-spacing" in kinds(booked(body))
    body["prefetch"]["procedures"] = unreadable()
    response = booked(body)
    assert "booking-series-spacing" not in kinds(response)  # the block done is not known ...
    quality = text(card(response, "data-quality"))  # ... and the card says so
    assert "the procedure history" in quality
    assert "earlier blocks" in quality


def test_a_damaged_appointment_in_the_schedule_is_not_a_500(booked: Callable[..., Any]) -> None:
    body = booking(SCHEDULED_FIXTURE)
    [block] = scheduled(body)
    block["id"], block["identifier"] = [], [{"system": {}, "value": []}]
    response = booked(body)
    assert response.status_code == 200
    assert "booking-series-spacing" in kinds(response)  # still a block on 10 December


@pytest.mark.parametrize("status", [[], {}, 3, True])
def test_a_booking_whose_status_is_not_a_code_is_a_400(
    booked: Callable[..., Any], status: Any
) -> None:
    body = booking()
    body["context"]["appointments"]["entry"][0]["resource"]["status"] = status
    response = booked(body)
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    found = {e: i["diagnostics"] for i in issues for e in i.get("expression", [])}
    assert "entry[0].resource.status" in found["context.appointments"]


@pytest.mark.parametrize("status", [[], {}, 3, None])
def test_a_scheduled_block_whose_status_cannot_be_read_is_said_on_a_card(
    booked: Callable[..., Any], status: Any
) -> None:
    body = booking(SCHEDULED_FIXTURE)
    scheduled(body)[0]["status"] = status
    response = booked(body)
    assert response.status_code == 200
    assert "booking-series-spacing" not in kinds(response)
    assert "status could not be read" in text(card(response, "data-quality"))
