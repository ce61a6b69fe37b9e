"""How a medication record becomes a drug line, through the HTTP API with the clock set:
an infusion is never a flush, a recent stop is never silence, the dose picks enoxaparin's hold,
a plan is labelled planned, combined therapy and restart times are said, and the wording of
drug lines before an order."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from booking_support import BOOK, booking, card, kinds, set_clock
from drug_support import (
    ATC,
    BLOCK_SELECTED,
    OPIOID_SELECTED,
    call_with,
    cards_of,
    concept,
    drug_line,
    request,
    statement,
)
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app

from fixture_files import ROOT, fixture_clock, fixture_request

HEPARIN = concept("5224", "heparin sodium 25,000 units in 250 mL dextrose (100 units/mL)")
RIVAROXABAN = concept("1114195", "rivaroxaban 20 mg tablet")
WARFARIN = concept("11289", "warfarin 5 mg tablet")
DALTEPARIN = concept("67109", "dalteparin 5000 units")
ENOXAPARIN = concept("67108", "enoxaparin")
TICAGRELOR = concept("1116632", "ticagrelor 90 mg")
ASPIRIN = concept("1191", "aspirin 81 mg")
CILOSTAZOL = concept("B01AC23", "cilostazol 100 mg", ATC)


def bleeding(client: FlaskClient, *records: dict[str, Any]) -> dict[str, Any] | None:
    return cards_of(client, call_with(BLOCK_SELECTED, *records)).get("lsb-bleeding-risk")


# 1. An infusion is never a lock or flush ----------------------------------------------------


RATE = {"doseAndRate": [{"rateQuantity": {"value": 18, "unit": "U/kg/h"}}]}


@pytest.mark.parametrize(
    ("dosage", "warns"),
    [
        ({"text": "Continuous infusion per protocol; do not flush the line"}, True),
        ({"text": "don't flush"}, True),
        ({"text": "not for flushing"}, True),
        ({"text": "flush the line after each bag", **RATE}, True),  # a rate: an infusion
        ({"text": "1,000 units/hour IV, then flush per policy"}, True),  # an hourly rate in text
        ({"text": "IV drip, titrate to aPTT; flush"}, True),
        ({"text": "5000 units every 12 hours, flush", "route": {"text": "subcutaneous"}}, True),
        ({"text": "80 units/kg then per protocol; flush"}, True),  # a weight-based dose
        ({"text": "3 mL to flush PICC line daily"}, False),  # a flush, still left out
        ({"text": "5 mL lock solution after each use"}, False),
    ],
)
def test_a_flush_word_never_hides_an_infusion(
    client: FlaskClient, dosage: dict[str, Any], warns: bool
) -> None:
    card = bleeding(client, request(HEPARIN, dosageInstruction=[dosage]))
    assert (card is not None) is warns
    if warns:
        assert card["indicator"] == "critical"  # type: ignore[index]
        assert "stop 6 hours before the block" in drug_line(card, "Heparin (unfractionated)")  # type: ignore[arg-type]


def test_a_lock_flush_product_with_an_infusion_rate_is_anticoagulation(
    client: FlaskClient,
) -> None:
    flush_named = concept("5224", "Heparin lock flush 100 units/mL")
    assert bleeding(client, statement(flush_named, dosage=[{"text": "daily"}])) is None
    card = bleeding(client, statement(flush_named, dosage=[{"text": "IV", **RATE}]))
    assert card is not None and card["indicator"] == "critical"


def test_fixture_52_an_infusion_that_says_do_not_flush_is_critical(client: FlaskClient) -> None:
    found = cards_of(client, fixture_request("52-lsb-heparin-infusion-do-not-flush"))
    assert found["lsb-bleeding-risk"]["indicator"] == "critical"
    assert "suggestions" in found["lsb-bleeding-risk"]  # offers to remove the order


# 2. A drug stopped recently is shown with its last dose --------------------------------------


def stopped_on(drug: dict[str, Any], end: str, status: str = "stopped") -> dict[str, Any]:
    return statement(drug, status=status, effectivePeriod={"start": "2025-01-01", "end": end})


def test_rivaroxaban_stopped_two_days_ago_is_critical_with_its_date(client: FlaskClient) -> None:
    card = bleeding(client, stopped_on(RIVAROXABAN, "2026-11-23"))
    assert card is not None and card["indicator"] == "critical"
    line = drug_line(card, "Rivaroxaban")
    assert "stopped 2 days ago (2026-11-23)" in line
    assert "follow the clinic's approved periprocedural protocol" in line  # no interval known
    assert "Recorded 2026" not in line


@pytest.mark.parametrize(
    ("end", "shown"),
    [("2026-11-11", True), ("2026-11-10", False), ("2025-11-23", False)],
)
def test_without_an_interval_the_look_back_is_14_days(
    client: FlaskClient, end: str, shown: bool
) -> None:
    assert (bleeding(client, stopped_on(RIVAROXABAN, end)) is not None) is shown


def test_a_stop_is_shown_while_its_hold_runs_and_not_after(client: FlaskClient) -> None:
    # warfarin: 5 days. Stopped on the 21st, its hold runs to the 26th; on the 20th, to the 25th
    card = bleeding(client, stopped_on(WARFARIN, "2026-11-21"))
    assert card is not None and card["indicator"] == "critical"
    assert "its hold of 5 days ends on 2026-11-26" in drug_line(card, "Warfarin")
    assert bleeding(client, stopped_on(WARFARIN, "2026-11-20")) is not None  # ends today
    assert bleeding(client, stopped_on(WARFARIN, "2026-11-19")) is None


def test_a_stop_follows_the_clock(app: Flask, client: FlaskClient) -> None:
    record = stopped_on(WARFARIN, "2026-11-21")
    set_clock(app, "2026-11-26T23:59:00+00:00")
    assert bleeding(client, record) is not None
    set_clock(app, "2026-11-27T00:01:00+00:00")
    assert bleeding(client, record) is None


@pytest.mark.parametrize(
    "record",
    [
        stopped_on(RIVAROXABAN, "2026-11-23", status="completed"),
        statement(RIVAROXABAN, status="stopped", effectiveDateTime="2026-11-23"),
        request(
            RIVAROXABAN,
            status="stopped",
            dispenseRequest={"validityPeriod": {"start": "2026-10-01", "end": "2026-11-23"}},
        ),
        request(
            RIVAROXABAN,
            status="completed",
            dosageInstruction=[{"timing": {"repeat": {"boundsPeriod": {"end": "2026-11-23"}}}}],
        ),
    ],
)
def test_every_stop_date_a_record_can_give_is_read(
    client: FlaskClient, record: dict[str, Any]
) -> None:
    card = bleeding(client, record)
    assert card is not None
    assert "stopped 2 days ago (2026-11-23)" in drug_line(card, "Rivaroxaban")


def test_a_stop_dated_only_by_its_month_counts_from_the_months_last_day(
    client: FlaskClient,
) -> None:
    card = bleeding(client, stopped_on(RIVAROXABAN, "2026-11"))  # may have been yesterday
    assert card is not None
    assert "stopped today (2026-11-25)" in drug_line(card, "Rivaroxaban")  # never in the future
    assert bleeding(client, stopped_on(RIVAROXABAN, "2026-10")) is None  # 25 days at least


def test_a_record_stopped_long_ago_is_not_read_for_a_data_quality_card(
    client: FlaskClient,
) -> None:
    old = stopped_on(WARFARIN, "2025-02-01")
    old["dosage"] = "not a list"  # invalid R4: would be said if the record still counted
    assert cards_of(
        client, call_with(BLOCK_SELECTED, old, statement(ASPIRIN, ident="t-2"))
    ).keys() == {"lsb-bleeding-risk"}
    old["effectivePeriod"]["end"] = "2026-11-23"  # recent: shown, and its flaw said
    assert "data-quality" in cards_of(client, call_with(BLOCK_SELECTED, old))


def test_a_stopped_record_without_an_end_date_says_nothing_new(client: FlaskClient) -> None:
    assert bleeding(client, statement(RIVAROXABAN, status="stopped")) is None


def test_an_active_record_of_the_same_drug_wins_over_a_stopped_one(client: FlaskClient) -> None:
    card = bleeding(client, stopped_on(WARFARIN, "2026-11-23"), statement(WARFARIN, ident="t-ms-2"))
    line = drug_line(card, "Warfarin")  # type: ignore[arg-type]
    assert "stop 5 days before the block" in line and "stopped" not in line


def test_a_stopped_drug_is_on_the_suggestion_with_when_its_hold_ends(client: FlaskClient) -> None:
    found = cards_of(client, fixture_request("59-crps-dalteparin-stopped-yesterday"))
    line = drug_line(found["lsb-suggestion"], "Dalteparin")
    assert "stopped 1 day ago (2026-11-24); its hold of 24 hours ends on 2026-11-25" in line
    assert "dalteparin" in found["lsb-suggestion"]["summary"]


def test_booking_counts_a_stopped_drug_from_its_stop(app: Flask, client: FlaskClient) -> None:
    set_clock(app, "2026-11-25T12:00:00+00:00")
    body = booking("57-book-warfarin-stopped-hold-done")
    plan = card(client.post(BOOK, json=body), "booking-hold-plan")
    assert "the hold ends on Friday 27 November 2026, before the block" in plan["detail"]
    assert "booking-too-soon" not in kinds(client.post(BOOK, json=body))
    # the same stop, the block on the hold's last day: too soon, the day after works
    early = booking(
        "57-book-warfarin-stopped-hold-done",
        start="2026-11-27T09:00:00-05:00",
        end="2026-11-27T10:00:00-05:00",
    )
    response = client.post(BOOK, json=early)
    too_soon = card(response, "booking-too-soon")
    assert "recorded as stopped on Sunday 22 November 2026" in too_soon["detail"]
    assert "Earliest date that works: Saturday 28 November 2026" in too_soon["detail"]


def test_booking_gives_the_stop_date_of_a_drug_with_no_interval(
    app: Flask, client: FlaskClient
) -> None:
    set_clock(app, "2026-11-25T12:00:00+00:00")
    body = booking("42-book-apixaban-no-interval")
    ms = body["prefetch"]["medicationStatements"]["entry"][0]["resource"]
    ms["status"], ms["effectivePeriod"] = "stopped", {"start": "2025-01-01", "end": "2026-11-23"}
    plan = card(client.post(BOOK, json=body), "booking-hold-plan")
    assert "**Stopped Monday 23 November 2026**: no date can be given" in plan["detail"]


# 3. The dose picks enoxaparin's hold ---------------------------------------------------------


def structured(value: float, unit: str, every_hours: int) -> dict[str, Any]:
    return {
        "timing": {"repeat": {"frequency": 1, "period": every_hours, "periodUnit": "h"}},
        "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit}}],
    }


STOP_12 = "stop 12 hours before the block"
STOP_24 = "stop 24 hours before the block"
EITHER = "stop 12 hours (prophylactic dose) or 24 hours (therapeutic dose) before the block"


@pytest.mark.parametrize(
    ("dosage", "said"),
    [
        ({"text": "40 mg subcutaneously once daily"}, f"{STOP_12} (40 mg daily: prophylactic"),
        ({"text": "30 mg SC every 12 hours"}, f"{STOP_12} (30 mg twice daily: prophylactic"),
        (structured(1, "mg/kg", 12), f"{STOP_24} (1 mg/kg twice daily: therapeutic dose)"),
        (structured(1.5, "mg/kg", 24), f"{STOP_24} (1.5 mg/kg daily: therapeutic dose)"),
        ({"text": "80 mg twice daily"}, f"{STOP_24} (80 mg twice daily: above the label's"),
        ({"text": "40 mg"}, f"{EITHER} (dose not known)"),
        ({"text": "as directed"}, f"{EITHER} (dose not known)"),
    ],
)
def test_the_dose_chooses_the_enoxaparin_hold_and_the_card_says_which(
    client: FlaskClient, dosage: dict[str, Any], said: str
) -> None:
    card = bleeding(client, statement(ENOXAPARIN, dosage=[dosage]))
    assert said in drug_line(card, "Enoxaparin")  # type: ignore[arg-type]


def test_the_dose_can_come_from_the_medication_text(client: FlaskClient) -> None:
    named = concept("67108", "enoxaparin 40 mg once daily")
    card = bleeding(client, statement(named))
    assert "(40 mg daily: prophylactic dose)" in drug_line(card, "Enoxaparin")  # type: ignore[arg-type]


def test_a_concentration_is_not_a_dose(client: FlaskClient) -> None:
    named = concept("67108", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
    card = bleeding(client, statement(named, dosage=[{"text": "once daily"}]))
    assert "(dose not known)" in drug_line(card, "Enoxaparin")  # type: ignore[arg-type]


def test_fixture_46_books_enoxaparin_40_mg_daily_with_the_12_hour_hold(
    app: Flask, client: FlaskClient
) -> None:
    set_clock(app, "2026-11-25T12:00:00+00:00")
    plan = card(client.post(BOOK, json=booking("46-book-series-of-three")), "booking-hold-plan")
    assert "Hold before the block: 12 hours (40 mg daily: prophylactic dose)." in plan["detail"]
    assert "dose is not known" not in plan["detail"]


# 4. A planned request is labelled planned -----------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "planned"), [("plan", True), ("proposal", True), ("order", False)]
)
def test_a_planned_request_is_shown_as_planned(
    client: FlaskClient, intent: str, planned: bool
) -> None:
    body = call_with(OPIOID_SELECTED, request(WARFARIN, intent=intent))
    line = drug_line(cards_of(client, body)["lsb-suggestion"], "Warfarin")
    assert ("(planned, not current)" in line) is planned
    assert "stop 5 days before the block" in line  # still shown: it matters for the block


# 5. Combined antithrombotic therapy ---------------------------------------------------------

COMBINED = "agree any interruption with the prescribing cardiologist"


@pytest.mark.parametrize(
    ("drugs", "named"),
    [
        ((TICAGRELOR, ASPIRIN), "(aspirin and ticagrelor)"),
        ((WARFARIN, ASPIRIN), "(aspirin and warfarin)"),
        ((WARFARIN,), None),
        ((WARFARIN, ENOXAPARIN), None),  # two anticoagulants: not this combination
    ],
)
def test_combined_therapy_is_named_on_the_bleeding_and_suggestion_cards(
    client: FlaskClient, drugs: tuple[dict[str, Any], ...], named: str | None
) -> None:
    records = [statement(d, ident=f"t-ms-{i}") for i, d in enumerate(drugs)]
    bleeding_card = bleeding(client, *records)
    suggestion = cards_of(client, call_with(OPIOID_SELECTED, *records))["lsb-suggestion"]
    for found in (bleeding_card, suggestion):
        detail = found["detail"]  # type: ignore[index]
        assert (COMBINED in detail) is bool(named)
        if named:
            assert f"**Combined antithrombotic therapy** {named}: {COMBINED}." in detail


def test_a_drug_stopped_recently_is_not_part_of_combined_therapy(client: FlaskClient) -> None:
    card = bleeding(client, stopped_on(WARFARIN, "2026-11-23"), statement(ASPIRIN, ident="t-2"))
    assert "stopped 2 days ago" in drug_line(card, "Warfarin")  # type: ignore[arg-type]
    assert COMBINED not in card["detail"]  # type: ignore[index]


# 6. Restart times ---------------------------------------------------------------------------


@pytest.mark.parametrize(("drug", "name"), [(ASPIRIN, "Aspirin"), (CILOSTAZOL, "Cilostazol")])
def test_restart_times_on_the_order_card(
    client: FlaskClient, drug: dict[str, Any], name: str
) -> None:
    card = bleeding(client, statement(drug))
    assert "Restart 24 hours after the block" in drug_line(card, name)  # type: ignore[arg-type]


def test_restart_times_on_the_booking_plan(app: Flask, client: FlaskClient) -> None:
    set_clock(app, "2026-11-25T12:00:00+00:00")
    response = client.post(BOOK, json=booking("58-book-aspirin-cilostazol-restart"))
    detail = card(response, "booking-hold-plan")["detail"]
    assert detail.count("Restart 24 hours after the block.") == 3  # aspirin, cilostazol, NSAID
    assert "(NSAID)** (ibuprofen 400 mg tablet): no hold needed for this block" in detail


IBUPROFEN = concept("5640", "ibuprofen 400 mg tablet")


def test_an_nsaid_is_named_with_its_restart_time_beside_an_antithrombotic(
    client: FlaskClient,
) -> None:
    card = bleeding(client, statement(WARFARIN), statement(IBUPROFEN, ident="t-ms-2"))
    line = drug_line(card, "Non-steroidal anti-inflammatory drug (NSAID)")  # type: ignore[arg-type]
    assert "(ibuprofen 400 mg tablet): no hold needed for this block." in line
    assert "Restart 24 hours after the block." in line
    assert bleeding(client, statement(IBUPROFEN)) is None  # not an antithrombotic: no card
    stopped = statement(IBUPROFEN, status="stopped", ident="t-ms-2")
    assert "NSAID" not in bleeding(client, statement(WARFARIN), stopped)["detail"]  # type: ignore[index]


# 7. Wording of drug lines --------------------------------------------------------------------


def test_the_summary_names_the_drug_to_hold(client: FlaskClient) -> None:
    found = cards_of(client, fixture_request("15-crps-heparin-draft-unselected"))
    summary = found["lsb-suggestion"]["summary"]
    assert summary.endswith("plan the hold first: heparin")
    assert "drugs" not in summary and len(summary) <= 140


def test_an_order_being_written_now_is_not_dated_from_its_draft(client: FlaskClient) -> None:
    found = cards_of(client, fixture_request("15-crps-heparin-draft-unselected"))
    line = drug_line(found["lsb-suggestion"], "Heparin (unfractionated)")
    assert "Being ordered now" in line and "2024" not in line


@pytest.mark.parametrize(
    ("fixture", "kind", "name"),
    [
        ("08-cancer-pain-warfarin", "lsb-confirm-indication", "Warfarin"),
        ("09-cancer-pain-snomed-enoxaparin-contained", "lsb-suggestion", "Enoxaparin"),
        ("38-crps-stale-warfarin", "lsb-suggestion", "Warfarin"),
    ],
)
def test_a_hold_line_before_any_order_asks_to_agree_with_the_prescriber(
    client: FlaskClient, fixture: str, kind: str, name: str
) -> None:
    line = drug_line(cards_of(client, fixture_request(fixture))[kind], name)
    assert "; agree with the prescriber." in line


def test_the_sources_line_reads_as_a_sentence(client: FlaskClient) -> None:
    card = bleeding(client, statement(WARFARIN))
    assert "Hold guidance: as tabulated in a summary table" in card["detail"]  # type: ignore[index]


def test_the_protocol_source_line_has_its_word(tmp_path: Any) -> None:
    app = create_app(
        dev_mode=True,
        clock=fixture_clock,
        database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}",
        local_protocol=str(ROOT / "docs" / "examples" / "local-protocol.yaml"),
    )
    card = bleeding(app.test_client(), statement(concept("1364430", "apixaban")))
    assert "\nHold guidance: Periprocedural anticoagulation protocol" in card["detail"]  # type: ignore[index]
    app.extensions["cds_db"].dispose()


@pytest.mark.parametrize(
    ("path", "value"),
    [(("intent",), []), (("dosage", 0, "doseAndRate"), 1), (("contained", 0, "resourceType"), "x")],
)
def test_a_damaged_medication_record_is_never_a_500(
    client: FlaskClient, path: tuple[Any, ...], value: Any
) -> None:
    body = copy.deepcopy(fixture_request("09-cancer-pain-snomed-enoxaparin-contained"))
    node = body["prefetch"]["medicationStatements"]["entry"][0]["resource"]
    node.setdefault("intent", "order")  # a statement has none: set, then damaged
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    response = client.post("/cds-services/lsb-order-select", json=body)
    assert response.status_code == 200, response.get_json()
