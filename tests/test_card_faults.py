"""The clinical faults a pain physician found in the cards, each through the HTTP API.

1 severity follows each drug's hold rule; 2 cancer pain needs a leg or foot site; 3 a block
ordered with no lower-limb indication warns; 4 heparin lock/flush is not anticoagulation;
5 provisional diagnoses do not suggest; 6 citations say what was read. Then the timing of cards,
record dates and the drug order.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fixture_files import card_kind, fixture_request, service_for

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def post(client: FlaskClient, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.post(f"/cds-services/{service_for(body)}", json=body)
    assert response.status_code == 200, response.get_json()
    return {card_kind(c): c for c in response.get_json()["cards"]}


def statements(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in body["prefetch"]["medicationStatements"].get("entry", [])]


def set_statements(body: dict[str, Any], *concepts: dict[str, Any]) -> None:
    """Replace the medication list with one active statement per concept."""
    patient = body["context"]["patientId"]
    body["prefetch"]["medicationStatements"]["entry"] = [
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": f"t-ms-{i}",
                "status": "active",
                "medicationCodeableConcept": concept,
                "subject": {"reference": f"Patient/{patient}"},
                "effectiveDateTime": "2024-06-01",
            },
            "search": {"mode": "match"},
        }
        for i, concept in enumerate(concepts)
    ]


def coded(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        concept["text"] = text
    return concept


def block_selected(*concepts: dict[str, Any]) -> dict[str, Any]:
    """Fixture 16 (CRPS of the left leg, the block selected) with these drugs on record."""
    body = copy.deepcopy(fixture_request("16-lsb-selected-aspirin"))
    set_statements(body, *concepts)
    return body


def condition(body: dict[str, Any]) -> dict[str, Any]:
    return body["prefetch"]["conditions"]["entry"][0]["resource"]


# 1. Severity follows each drug's hold rule --------------------------------------------------


@pytest.mark.parametrize(
    ("concept", "indicator", "removal"),
    [
        (coded(RXNORM, "11289"), "critical", True),  # warfarin: a hold is required
        (coded(RXNORM, "1364430"), "critical", True),  # apixaban: no figure confirmed, fail safe
        (coded(RXNORM, "32968"), "critical", True),  # clopidogrel (P2Y12): fail safe
        (coded(ATC, "B01AF99"), "critical", True),  # an unknown drug of an anticoagulant class
        (coded(ATC, "B01AC06"), "warning", False),  # aspirin: shared assessment
        (coded(ATC, "B01AC23"), "info", False),  # cilostazol: no hold for this block
    ],
)
def test_the_bleeding_card_is_as_loud_as_the_drug_calls_for(
    client: FlaskClient, concept: dict[str, Any], indicator: str, removal: bool
) -> None:
    card = post(client, block_selected(concept))["lsb-bleeding-risk"]
    assert card["indicator"] == indicator
    assert bool(card.get("suggestions")) is removal
    reasons = [r["code"] for r in card.get("overrideReasons", [])]
    assert ("block-scheduled-after-hold" in reasons) is (indicator == "critical")


def test_a_drug_needing_no_hold_gets_its_restart_time_but_no_removal(client: FlaskClient) -> None:
    card = post(client, block_selected(coded(ATC, "B01AC23", "cilostazol 100 mg")))[
        "lsb-bleeding-risk"
    ]
    assert "no hold needed" in card["summary"].lower()
    line = next(x for x in card["detail"].splitlines() if "Cilostazol" in x)
    assert "no hold needed for this block. Restart 24 hours after the block." in line
    assert "suggestions" not in card


def test_warfarin_with_the_block_ordered_gives_hold_restart_and_inr(client: FlaskClient) -> None:
    card = post(client, block_selected(coded(RXNORM, "11289")))["lsb-bleeding-risk"]
    assert card["summary"].startswith("Plan the hold before this lumbar sympathetic block")
    line = next(x for x in card["detail"].splitlines() if "Warfarin" in x)
    assert "stop 5 days before the block; restart 6 hours after; INR normal" in line


def test_no_interval_says_what_to_do_instead(client: FlaskClient) -> None:
    card = post(client, block_selected(coded(RXNORM, "32968")))["lsb-bleeding-risk"]
    assert "follow the clinic's approved periprocedural protocol" in card["detail"]
    assert "interval above" not in card["detail"]
    assert "schedule the block after it" in card["detail"]


# 2. Cancer pain is an indication only in the leg or foot ------------------------------------


def test_cancer_pain_without_a_site_asks_to_confirm_it(client: FlaskClient) -> None:
    found = post(client, fixture_request("08-cancer-pain-warfarin"))
    assert set(found) == {"lsb-confirm-indication"}
    assert "leg or foot" in found["lsb-confirm-indication"]["summary"]


def test_cancer_pain_of_the_hand_is_never_a_suggestion(client: FlaskClient) -> None:
    assert set(post(client, fixture_request("34-cancer-pain-hand"))) == {"lsb-confirm-indication"}


@pytest.mark.parametrize(
    ("site", "side", "order_sites"),
    [
        ("61685007", None, None),  # lower limb, no side: the proceduralist chooses
        ("22335008", "left", ["32153003"]),  # left foot
        ("7769000", "right", ["62175007"]),  # right foot
    ],
)
def test_cancer_pain_with_a_lower_limb_body_site_is_suggested_with_its_side(
    client: FlaskClient, site: str, side: str | None, order_sites: list[str] | None
) -> None:
    body = copy.deepcopy(fixture_request("08-cancer-pain-warfarin"))
    condition(body)["bodySite"] = [coded(SNOMED, site)]
    card = post(client, body)["lsb-suggestion"]
    order = card["suggestions"][0]["actions"][0]["resource"]
    found_sites = [c["coding"][0]["code"] for c in order.get("bodySite", [])] or None
    assert found_sites == order_sites
    assert "site from the record's body site" in card["detail"]
    if side:
        assert f"({side})" in card["summary"]


def test_bilateral_is_both_lower_limbs_on_the_order(client: FlaskClient) -> None:
    body = copy.deepcopy(fixture_request("02-causalgia-right-pt"))
    condition(body)["code"] = coded(ICD10CM, "G57.73", "Causalgia of bilateral lower limbs")
    card = post(client, body)["lsb-suggestion"]
    order = card["suggestions"][0]["actions"][0]["resource"]
    assert [c["coding"][0]["code"] for c in order["bodySite"]] == ["32153003", "62175007"]
    assert "(both legs)" in card["summary"]


# 3. A block ordered without a lower-limb indication warns -----------------------------------


def test_block_for_upper_limb_crps_only_warns(client: FlaskClient) -> None:
    found = post(client, fixture_request("35-crps-upper-limb-lsb-selected"))
    card = found["lsb-no-indication"]
    assert card["indicator"] == "warning"
    assert "G90.512" in card["detail"] and "leg or foot" in card["summary"]


def test_block_signed_with_an_empty_problem_list_warns(client: FlaskClient) -> None:
    body = copy.deepcopy(fixture_request("18-lsb-sign-no-antithrombotics"))
    body["prefetch"]["conditions"]["entry"] = []
    found = post(client, body)
    assert set(found) == {"lsb-no-indication"}
    assert "On record" not in found["lsb-no-indication"]["detail"]


def test_a_provisional_lower_limb_indication_is_enough_for_the_safety_check(
    client: FlaskClient,
) -> None:
    body = copy.deepcopy(fixture_request("18-lsb-sign-no-antithrombotics"))
    condition(body)["verificationStatus"]["coding"][0]["code"] = "provisional"
    assert post(client, body) == {}


# 4. Heparin lock and flush is not anticoagulation --------------------------------------------


def test_heparin_lock_flush_is_left_out(client: FlaskClient) -> None:
    found = post(client, fixture_request("36-crps-heparin-lock-flush"))
    assert set(found) == {"lsb-suggestion"}
    assert "heparin" not in found["lsb-suggestion"]["detail"].lower()


@pytest.mark.parametrize(
    ("text", "dosage", "warns"),
    [
        ("heparin sodium 5000 units/mL", "5000 units subcutaneously every 12 hours", True),
        ("Hep-Lock U/P 10 units/mL", None, False),
        ("heparin 100 units/mL", "3 mL to flush PICC line daily", False),
    ],
)
def test_heparin_by_text_and_use(
    client: FlaskClient, text: str, dosage: str | None, warns: bool
) -> None:
    body = block_selected(coded(RXNORM, "5224", text))
    if dosage:
        statements(body)[0]["dosage"] = [{"text": dosage}]
    assert ("lsb-bleeding-risk" in post(client, body)) is warns


# 5. Provisional and differential diagnoses do not suggest -----------------------------------


@pytest.mark.parametrize(
    ("verification", "clinical", "kind"),
    [
        ("confirmed", "active", "lsb-suggestion"),
        (None, "active", "lsb-suggestion"),  # unverified, clinically active
        ("provisional", "active", "lsb-confirm-indication"),
        ("differential", "active", "lsb-confirm-indication"),
        ("unconfirmed", "active", "lsb-confirm-indication"),
        (None, None, "lsb-confirm-indication"),  # neither status: not enough for a procedure
    ],
)
def test_only_a_confirmed_diagnosis_suggests_the_block(
    client: FlaskClient, verification: str | None, clinical: str | None, kind: str
) -> None:
    body = copy.deepcopy(fixture_request("02-causalgia-right-pt"))
    cond = condition(body)
    if verification:
        cond["verificationStatus"]["coding"][0]["code"] = verification
    else:
        cond.pop("verificationStatus")
    if clinical is None:
        cond.pop("clinicalStatus")
    assert set(post(client, body)) == {kind}


def test_provisional_card_says_to_confirm_the_diagnosis(client: FlaskClient) -> None:
    card = post(client, fixture_request("37-causalgia-provisional"))["lsb-confirm-indication"]
    assert card["summary"].startswith("Confirm the diagnosis")
    assert "recorded as provisional" in card["detail"]
    assert "suggestions" not in card


# 6. Citations say what was read ------------------------------------------------------------


def test_hold_guidance_is_cited_as_the_table_that_was_read(client: FlaskClient) -> None:
    card = post(client, block_selected(coded(RXNORM, "11289")))["lsb-bleeding-risk"]
    assert (
        "as tabulated in a summary table adapted from the ASRA Pain Medicine guideline"
        in (card["detail"])
    )


# The right moment ---------------------------------------------------------------------------


def test_order_sign_without_the_block_shows_no_suggestion(client: FlaskClient) -> None:
    assert post(client, fixture_request("03-crps-bilateral-sign")) == {}
    assert post(client, fixture_request("14-cancer-pain-rivaroxaban-request")) == {}


def test_while_suggesting_the_bleeding_facts_are_lines_in_the_suggestion(
    client: FlaskClient,
) -> None:
    found = post(client, fixture_request("01-crps-left-apixaban"))
    assert set(found) == {"lsb-suggestion"}
    assert "**Apixaban**" in found["lsb-suggestion"]["detail"]


# Records as they really are ---------------------------------------------------------------


def test_an_old_drug_record_is_dated_and_flagged(client: FlaskClient) -> None:
    detail = post(client, fixture_request("38-crps-stale-warfarin"))["lsb-suggestion"]["detail"]
    assert "Recorded 1974-05-02, **possibly out of date: confirm it is still taken**" in detail


@pytest.mark.parametrize(("today", "stale"), [("2026-11-25", False), ("2027-06-15", True)])
def test_staleness_follows_the_clock(app: Flask, today: str, stale: bool) -> None:
    app.extensions["cds_clock"] = lambda: datetime.fromisoformat(today).replace(tzinfo=UTC)
    body = copy.deepcopy(fixture_request("01-crps-left-apixaban"))
    detail = post(app.test_client(), body)["lsb-suggestion"]["detail"]
    assert ("possibly out of date" in detail) is stale  # the record is dated 2026-05-20


def test_drugs_are_ordered_by_severity_then_name_every_time(client: FlaskClient) -> None:
    concepts = [
        coded(ATC, "B01AC06", "aspirin"),
        coded(RXNORM, "32968", "clopidogrel"),
        coded(RXNORM, "11289", "warfarin"),
        coded(ATC, "B01AC23", "cilostazol"),
    ]
    seen = set()
    for order in (concepts, concepts[::-1], concepts[1:] + concepts[:1]):
        card = post(client, block_selected(*order))["lsb-bleeding-risk"]
        lines = [x for x in card["detail"].splitlines() if x.startswith("- **")]
        seen.add(tuple(x.split("**")[1] for x in lines))
    assert seen == {("Clopidogrel", "Warfarin", "Aspirin", "Cilostazol")}


def test_a_summary_with_many_drugs_keeps_its_action(client: FlaskClient) -> None:
    concepts = [
        coded(RXNORM, code)
        for code in (
            "11289",
            "1364430",
            "32968",
            "1114195",
            "67108",
            "1546356",
            "1599538",
            "321208",
        )
    ]
    card = post(client, block_selected(*concepts))["lsb-bleeding-risk"]
    assert card["summary"].startswith("Plan the hold before this lumbar sympathetic block: ")
    assert "…" not in card["summary"] and len(card["summary"]) < 140
    assert "more" in card["summary"]


def test_an_unread_problem_list_is_not_taken_for_no_indication(client: FlaskClient) -> None:
    body = copy.deepcopy(fixture_request("18-lsb-sign-no-antithrombotics"))
    conditions = body["prefetch"]["conditions"]
    conditions["entry"] = []
    conditions["link"] = [
        {"relation": "next", "url": "http://ehr.example.org/fhir/Condition?page=2"}
    ]
    found = post(client, body)
    assert set(found) == {"data-quality"}
    assert "the problem list" in found["data-quality"]["detail"]
