"""At booking, a drug without a confirmed interval is as loud as on the order cards: the hold
plan is critical however far off the block is, and says to follow the clinic's protocol and
agree the plan with the prescriber. A dated plan stays a warning."""

from __future__ import annotations

import copy
from typing import Any

from booking_support import BOOK, booking, card, set_clock, text
from flask import Flask

from cds_service import create_app

from fixture_files import ROOT, fixture_request, service_for

NOW = "2026-11-25T12:00:00+00:00"
CLOPIDOGREL = "70-book-clopidogrel-no-interval-soon"  # block on 30 November, 5 days ahead
ACTION = "follow the clinic's protocol and agree the plan with the prescriber"


def book(app: Flask, body: dict[str, Any]) -> Any:
    set_clock(app, NOW)
    return app.test_client().post(BOOK, json=body)


def hold_plan(app: Flask, body: dict[str, Any]) -> dict[str, Any]:
    return card(book(app, body), "booking-hold-plan")


def test_a_p2y12_inhibitor_without_an_interval_is_critical_within_days(app: Flask) -> None:
    plan = hold_plan(app, fixture_request(CLOPIDOGREL))
    assert plan["indicator"] == "critical"
    assert ACTION in plan["summary"] and "clopidogrel" in plan["summary"]
    assert "no date is given" in plan["detail"] and "Last dose" not in plan["detail"]


def test_the_preparation_card_does_not_promise_dates_that_are_not_given(app: Flask) -> None:
    preparation = card(book(app, fixture_request(CLOPIDOGREL)), "booking-preparation")
    assert "agree the plan for a drug without one with the prescriber" in preparation["detail"]


def test_without_an_interval_there_is_no_safe_distance_so_a_far_block_is_critical(
    app: Flask,
) -> None:
    far = booking(CLOPIDOGREL, start="2027-02-01T09:00:00+01:00", end="2027-02-01T10:00:00+01:00")
    assert hold_plan(app, far)["indicator"] == "critical"
    undated = booking(CLOPIDOGREL, start=None, end=None)
    assert hold_plan(app, undated)["indicator"] == "critical"


def test_the_booking_is_as_loud_as_the_order_card_for_the_same_drug(app: Flask) -> None:
    order = fixture_request("17-lsb-sign-dabigatran")  # the block signed, dabigatran
    set_clock(app, NOW)
    ordered = app.test_client().post(f"/cds-services/{service_for(order)}", json=order)
    bleeding = card(ordered, "lsb-bleeding-risk")
    body = fixture_request(CLOPIDOGREL)
    statement = body["prefetch"]["medicationStatements"]["entry"][0]["resource"]
    request = order["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    statement["medicationCodeableConcept"] = copy.deepcopy(request["medicationCodeableConcept"])
    assert hold_plan(app, body)["indicator"] == bleeding["indicator"] == "critical"


def test_one_drug_without_an_interval_makes_the_plan_critical_beside_a_dated_one(
    app: Flask,
) -> None:
    body = booking(CLOPIDOGREL, start="2026-12-14T09:00:00+01:00", end="2026-12-14T10:00:00+01:00")
    warfarin = fixture_request("40-book-warfarin-in-time")["prefetch"]["medicationStatements"]
    statement = copy.deepcopy(warfarin["entry"][0])
    statement["resource"]["subject"] = {"reference": "Patient/lsb-70"}
    body["prefetch"]["medicationStatements"]["entry"].append(statement)
    plan = hold_plan(app, body)
    assert plan["indicator"] == "critical"
    assert "Last dose: Tuesday 8 December 2026" in plan["detail"]  # warfarin is still dated
    assert "clopidogrel" in plan["summary"] and "warfarin" not in plan["summary"]


def test_a_clinic_protocol_interval_makes_the_plan_a_dated_warning() -> None:
    app = create_app(
        dev_mode=True, local_protocol=str(ROOT / "docs" / "examples" / "local-protocol.yaml")
    )
    plan = hold_plan(app, fixture_request("42-book-apixaban-no-interval"))
    assert plan["indicator"] == "warning"
    assert "Last dose no later than" in text(plan)


def test_a_dated_warfarin_plan_stays_a_warning(app: Flask) -> None:
    assert hold_plan(app, fixture_request("40-book-warfarin-in-time"))["indicator"] == "warning"
