"""Kidney function beside drugs cleared by the kidneys, through the HTTP API: the latest eGFR
or creatinine clearance (LOINC codes in labs.yaml, and thus in the prefetch)."""

from __future__ import annotations

from flask.testing import FlaskClient
from labs_support import CRCL, EGFR, observation
from pathway_support import add, post, request, text

DABIGATRAN_SIGN = "17-lsb-sign-dabigatran"
ASPIRIN_SELECT = "16-lsb-selected-aspirin"


def test_the_prefetch_asks_for_egfr_and_creatinine_clearance(client: FlaskClient) -> None:
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    for service in ("lsb-order-select", "lsb-order-sign", "lsb-appointment-book"):
        query = services[service]["prefetch"]["observations"]
        for code in ("98979-8", "62238-1", "33914-3", "48642-3", "48643-1", "2164-2"):
            assert f"http://loinc.org|{code}" in query


def test_the_suggestion_shows_egfr_beside_dabigatran(client: FlaskClient) -> None:
    card = post(client, request("66-crps-dabigatran-egfr"))["lsb-suggestion"]
    line = next(x for x in text(card).splitlines() if x.startswith("- eGFR"))
    assert line == (
        "- eGFR: 42 mL/min/1.73m2 on 2026-10-30, flagged Low, reference range from 60 mL/min/1.73m2"
    )


def test_the_bleeding_card_shows_the_latest_of_each_kidney_test(client: FlaskClient) -> None:
    body = request(DABIGATRAN_SIGN)
    add(
        body,
        "observations",
        observation("t-egfr-old", EGFR, 70, "mL/min/1.73m2", when="2026-01-05"),
    )
    add(body, "observations", observation("t-egfr", EGFR, 28, "mL/min/1.73m2", when="2026-11-02"))
    add(body, "observations", observation("t-crcl", CRCL, 31, "mL/min", when="2026-10-01"))
    detail = text(post(client, body)["lsb-bleeding-risk"])
    assert "eGFR: 28 mL/min/1.73m2 on 2026-11-02" in detail and "eGFR: 70" not in detail
    assert "Creatinine clearance: 31 mL/min on 2026-10-01" in detail
    assert "Kidney function (eGFR or creatinine clearance): no result" not in detail


def test_no_kidney_result_is_said_once(client: FlaskClient) -> None:
    detail = text(post(client, request(DABIGATRAN_SIGN))["lsb-bleeding-risk"])
    assert (
        detail.count("Kidney function (eGFR or creatinine clearance): no result in the record") == 1
    )
    assert "eGFR:" not in detail and "Creatinine clearance:" not in detail


def test_one_kidney_test_is_enough(client: FlaskClient) -> None:
    detail = text(
        post(client, request("67-lsb-sign-apixaban-creatinine-clearance"))["lsb-bleeding-risk"]
    )
    assert "Creatinine clearance: 38 mL/min on 2026-09-14" in detail
    assert "Kidney function" not in detail and "eGFR" not in detail


def test_kidney_function_is_not_shown_for_a_drug_not_cleared_by_the_kidneys(
    client: FlaskClient,
) -> None:
    body = request(ASPIRIN_SELECT)
    add(body, "observations", observation("t-egfr2", EGFR, 28, "mL/min/1.73m2"))
    detail = text(post(client, body)["lsb-bleeding-risk"])
    assert "eGFR" not in detail and "Kidney function" not in detail
