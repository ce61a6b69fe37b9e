"""Lab results at booking, through the HTTP API: a result that signals a bleeding risk warns on
its own, the patient's kidney function chooses a clinic protocol's hold on the dated plan, and
lab results that cannot be read are said on the data-quality card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from booking_support import BOOK, booking, card, kinds, text
from kidney_protocol_support import kidney_protocol
from labs_support import CRCL, INR, PLATELETS, observation
from pathway_support import add

from cds_service import create_app

from fixture_files import fixture_clock

NO_DRUG = "44-book-no-antithrombotics"
APIXABAN_BOOKED = "43-book-apixaban-clinic-protocol"  # Monday 14 December 2026, 13:30 (+01:00)


def post(body: dict[str, Any], protocol: Path | None = None) -> Any:
    local = str(protocol) if protocol else None
    client = create_app(dev_mode=True, local_protocol=local, clock=fixture_clock).test_client()
    return client.post(BOOK, json=body)


def with_results(name: str, *results: dict[str, Any]) -> dict[str, Any]:
    body = booking(name)
    body["prefetch"]["observations"] = None
    for result in results:
        add(body, "observations", result)
    return body


def test_a_low_platelet_count_warns_at_booking_with_no_drug_on_record() -> None:
    body = with_results(NO_DRUG, observation("t-plt", PLATELETS, 45, "10*3/uL", flag="LL"))
    response = post(body)
    assert sorted(kinds(response)) == ["booking-lab-bleeding-risk", "booking-preparation"]
    lab = card(response, "booking-lab-bleeding-risk")
    assert lab["indicator"] == "warning"
    assert lab["summary"].startswith("Bleeding risk before the block on Wed 9 Dec 2026:")
    assert "- Platelet count: 45 10\\*3/uL on 2026-11-20, flagged Critical low" in text(lab)
    evidence = lab["extension"]["urn:lsb-cds-service:evidence"]["labs"]
    assert evidence == [
        {"reference": "Observation/t-plt", "lab": "platelets", "flag": "low",
         "rangeSide": None, "date": "2026-11-20"}
    ]


def test_a_raised_inr_by_its_range_warns_beside_the_hold_plan() -> None:
    body = with_results(
        "40-book-warfarin-in-time", observation("t-inr", INR, 2.6, None, low=0.8, high=1.2)
    )
    response = post(body)
    assert "booking-hold-plan" in kinds(response)
    lab = text(card(response, "booking-lab-bleeding-risk"))
    assert "INR raised" in lab and "above the range" in lab


@pytest.mark.parametrize(
    ("result", "hours"),
    [
        (observation("t-crcl", CRCL, 38, "mL/min"), 96),  # below the limit of 50
        (observation("t-crcl", CRCL, 65, "mL/min"), 72),  # not below: the usual figure
        (None, 96),  # no result: the protocol's longest figure
    ],
)
def test_kidney_function_chooses_the_protocol_hold_on_the_dated_plan(
    tmp_path: Path, result: dict[str, Any] | None, hours: int
) -> None:
    protocol = kidney_protocol(tmp_path, {"below": 50, "unit": "mL/min", "hold_before_hours": 96})
    body = with_results(APIXABAN_BOOKED, *([result] if result else []))
    plan = text(card(post(body, protocol), "booking-hold-plan"))
    assert f"- Hold before the block: {hours} hours (clinic protocol" in plan
    last_dose = {96: "Thursday 10 December 2026, 13:30", 72: "Friday 11 December 2026, 13:30"}
    assert f"**Last dose no later than {last_dose[hours]}**" in plan
    assert ("Creatinine clearance 38 mL/min on 2026-11-20" in plan) == (result is not None
                                                                       and hours == 96)


def test_the_guideline_hold_is_not_changed_by_kidney_function_without_a_protocol() -> None:
    body = with_results(APIXABAN_BOOKED, observation("t-crcl", CRCL, 20, "mL/min"))
    plan = text(card(post(body), "booking-hold-plan"))
    assert "clinic protocol" not in plan
    assert "booking-lab-bleeding-risk" not in kinds(post(body))  # kidney function alone


def test_unreadable_lab_results_are_said_on_the_data_quality_card() -> None:
    body = booking(NO_DRUG)
    body["prefetch"]["observations"] = {"resourceType": "OperationOutcome", "issue": []}
    response = post(body)
    assert "data-quality" in kinds(response)
    said = text(card(response, "data-quality"))
    assert "Lab results in these records were not read" in said

