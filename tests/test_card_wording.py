"""What a clinician reads: follow-up timing, evidence with its age, the protocol's citation,
the INR check, the data-quality title for an unreadable order, a coded allergy."""

from __future__ import annotations

import re
from typing import Any

from booking_support import BOOK, set_clock
from entries_support import card_texts
from flask import Flask
from flask.testing import FlaskClient

from fixture_files import fixture_request, service_for

SERIES = "30-lsb-series-in-progress"  # last block 2026-11-18


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{service_for(body)}", json=body)


def series_summary(app: Flask, now: str) -> str:
    set_clock(app, now)
    return card_texts(post(app.test_client(), fixture_request(SERIES)))["lsb-series"]


def test_day_7_of_a_7_to_14_day_follow_up_is_due_not_not_yet_due(app: Flask) -> None:
    assert "its follow-up is due now" in series_summary(app, "2026-11-25T12:00:00+00:00")
    assert "its follow-up is not yet due" in series_summary(app, "2026-11-24T12:00:00+00:00")
    assert "due now" in series_summary(app, "2026-12-01T12:00:00+00:00")  # day 13


def evidence_lines(client: FlaskClient, name: str) -> list[str]:
    detail = card_texts(post(client, fixture_request(name)))["lsb-suggestion"]
    return [line for line in detail.splitlines() if re.match(r"- (Physical|Opioid|Inj)", line)]


def test_evidence_bullets_stand_on_their_own_lines_without_backslashes(
    client: FlaskClient,
) -> None:
    lines = evidence_lines(client, "31-crps-therapy-tried")
    assert lines == [
        "- Physical therapy: before Physical therapy evaluation: low complexity (2026-05-04)",
        "- Injection or nerve block: before Injection, paravertebral facet joint, lumbar or "
        "sacral; single level (2026-08-12)",
    ]


def test_old_therapy_shows_its_age_and_products_are_kept_apart(client: FlaskClient) -> None:
    lines = evidence_lines(client, "27-heavy-patient")
    therapy = next(line for line in lines if line.startswith("- Physical therapy"))
    assert "(2018-09-27, 8 years ago)" in therapy
    opioids = next(line for line in lines if line.startswith("- Opioid"))
    assert "Sublingual Film (2026-05-20); 12 HR oxycodone" in opioids  # two products, apart
    assert "\\" not in "".join(lines)


def test_the_inr_check_says_who_sets_its_time(client: FlaskClient) -> None:
    bleeding = card_texts(post(client, fixture_request("33-lsb-warfarin-inr")))["lsb-bleeding-risk"]
    assert "INR normal before the block (checked when the clinic's protocol says)" in bleeding


def test_an_unreadable_order_is_not_called_a_medication_problem(app: Flask) -> None:
    set_clock(app, "2026-11-25T12:00:00+00:00")
    response = app.test_client().post(BOOK, json=fixture_request("47-book-unreadable-order"))
    quality = card_texts(response)["data-quality"]
    assert quality.startswith("Part of the record could not be read")
    assert "anticoagulant" not in quality.lower() and "medication" not in quality.lower()


def test_a_coded_allergy_is_not_labelled_free_text_and_a_text_one_is(
    client: FlaskClient,
) -> None:
    body = fixture_request("71-lsb-iohexol-allergy-coded")
    warning = card_texts(post(client, body))["allergy-warning"]
    assert "Iohexol" in warning and "free text" not in warning
    allergy = body["prefetch"]["allergies"]["entry"][0]["resource"]
    allergy["code"] = {"text": "Iohexol"}  # the same name, with no code
    assert "free text" in card_texts(post(client, body))["allergy-warning"]
