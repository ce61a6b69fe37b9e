"""Card content: what a clinician reads must be right, complete and safe to render."""

from __future__ import annotations

import copy
import re
from typing import Any

from flask.testing import FlaskClient

from cards.render import SUMMARY_LIMIT, escape_markdown
from cds_service.facts.extract import MEDICATION_KEYS

from fixture_files import card_kind, fixture_request, service_for

SELECT = "/cds-services/lsb-order-select"


def cards_for(client: FlaskClient, body: dict[str, Any]) -> dict:
    response = client.post(f"/cds-services/{service_for(body)}", json=body)
    assert response.status_code == 200, response.get_json()
    return {card_kind(c): c for c in response.get_json()["cards"]}


def test_record_text_cannot_inject_markdown_or_html(client: FlaskClient) -> None:
    body = copy.deepcopy(fixture_request("11-crps-eliquis-text-only"))
    statement = body["prefetch"]["medicationStatements"]["entry"][0]["resource"]
    statement["medicationCodeableConcept"]["text"] = (
        "Eliquis [click](https://evil.example/x) <img src=x onerror=alert(1)> **now**"
    )
    suggestion = cards_for(client, body)["lsb-suggestion"]
    detail = suggestion["detail"]
    unescaped = re.compile(r"(?<!\\)(\[click\]\(|<img|\*\*now|https:)")
    assert not unescaped.search(detail), detail
    assert r"\<img" in detail  # shown as text, not markup
    assert "apixaban" in detail.lower()


def test_escape_markdown_keeps_plain_words() -> None:
    assert escape_markdown("warfarin 5 MG Oral Tablet") == "warfarin 5 MG Oral Tablet"
    assert escape_markdown("a\n\n# heading") == r"a \# heading"


def test_summaries_fit_the_spec_limit(client: FlaskClient) -> None:
    body = copy.deepcopy(fixture_request("24-crps-dual-antiplatelet"))
    for card in cards_for(client, body).values():
        assert len(card["summary"]) < SUMMARY_LIMIT


def test_a_drug_needing_a_hold_is_one_line_with_its_interval_and_labs(
    client: FlaskClient,
) -> None:
    body = fixture_request("38-crps-stale-warfarin")
    detail = cards_for(client, body)["lsb-suggestion"]["detail"]
    line = next(x for x in detail.splitlines() if "Warfarin" in x)
    assert "stop 5 days before the block" in line
    assert "INR normal before the block" in line
    assert "restart" not in line  # the restart time belongs on the card when the block is ordered


def test_text_matched_drug_is_labelled_as_such(client: FlaskClient) -> None:
    detail = cards_for(client, fixture_request("11-crps-eliquis-text-only"))["lsb-suggestion"][
        "detail"
    ]
    assert "named only in free text" in detail and "confirm the drug" in detail


def test_what_a_clinician_reads_has_no_record_ids_or_match_methods(client: FlaskClient) -> None:
    for name in ("01-crps-left-apixaban", "10-causalgia-left-clopidogrel-included"):
        card = cards_for(client, fixture_request(name))["lsb-suggestion"]
        text = card["summary"] + card["detail"]
        assert not re.search(r"(Condition|Medication\w*)/f\d", text), text
        assert "matched by" not in text and "RxNorm" not in text
        assert "(antiplatelet)" not in text and "(anticoagulant)" not in text
        evidence = card["extension"]["urn:lsb-cds-service:evidence"]
        assert evidence["indications"][0]["reference"].startswith("Condition/f")
        assert evidence["indications"][0]["list"] == "conditions"  # the prefetch key
        assert evidence["drugs"][0]["records"][0]["matchedBy"]
        assert evidence["drugs"][0]["records"][0]["list"] in MEDICATION_KEYS


def test_suggestion_offers_the_draft_order_and_a_referral(client: FlaskClient) -> None:
    card = cards_for(client, fixture_request("01-crps-left-apixaban"))["lsb-suggestion"]
    assert card["indicator"] == "info"
    assert card["selectionBehavior"] == "at-most-one"
    order_suggestion, referral_suggestion = card["suggestions"]
    order = order_suggestion["actions"][0]["resource"]
    assert order["reasonReference"] == [{"reference": "Condition/f01-crps"}]
    assert order["bodySite"] == [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "32153003",
                    "display": "Structure of left lower limb (body structure)",
                }
            ]
        }
    ]
    referral = referral_suggestion["actions"][0]["resource"]
    assert referral["code"]["coding"][0]["code"] == "306109009"
    assert referral["reasonReference"] == order["reasonReference"]
    assert "pain medicine" in referral_suggestion["label"]
    clinician, patient = card["links"]
    assert clinician["url"].endswith("/education/lumbar-sympathetic-block/clinicians")
    assert patient["url"].endswith("/education/lumbar-sympathetic-block")
    codes = [r["code"] for r in card["overrideReasons"]]
    for code in ("not-a-candidate", "already-planned", "patient-declines"):
        assert code in codes  # the quiet period keys on these
    for code in ("tried-without-benefit", "contraindicated", "will-refer"):
        assert code in codes


def test_common_cards_stay_short(client: FlaskClient) -> None:
    """One indication and one drug: the detail stays around 100 words at most."""
    for name in ("01-crps-left-apixaban", "10-causalgia-left-clopidogrel-included"):
        detail = cards_for(client, fixture_request(name))["lsb-suggestion"]["detail"]
        assert len(detail.split()) <= 100, (name, len(detail.split()))
    critical = cards_for(client, fixture_request("17-lsb-sign-dabigatran"))["lsb-bleeding-risk"]
    assert len(critical["detail"].split()) <= 100


def test_critical_card_offers_to_remove_the_block_order(client: FlaskClient) -> None:
    body = fixture_request("17-lsb-sign-dabigatran")
    card = cards_for(client, body)["lsb-bleeding-risk"]
    assert card["indicator"] == "critical"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "delete"
    assert action["resourceId"].startswith("ServiceRequest/")
    codes = [r["code"] for r in card["overrideReasons"]]
    assert "block-scheduled-after-hold" in codes


def test_every_card_has_a_unique_uuid(client: FlaskClient) -> None:
    cards = client.post(SELECT, json=fixture_request("01-crps-left-apixaban")).get_json()["cards"]
    again = client.post(SELECT, json=fixture_request("01-crps-left-apixaban")).get_json()["cards"]
    uuids = [c["uuid"] for c in cards + again]
    assert len(set(uuids)) == len(uuids) == 2


def test_any_order_trigger_mode_is_a_data_switch(client: FlaskClient, monkeypatch: Any) -> None:
    from dataclasses import replace

    from cds_service import knowledge

    body = fixture_request("22-crps-non-pain-order")
    assert cards_for(client, body) == {}
    kn = knowledge.load_knowledge()
    monkeypatch.setitem(  # the release the app built at start-up
        client.application.extensions,
        "cds_knowledge",
        replace(kn, triggers=replace(kn.triggers, mode="any-order")),
    )
    assert "lsb-suggestion" in cards_for(client, body)
