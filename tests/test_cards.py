"""Card content: what a clinician reads must be right, complete and safe to render."""

from __future__ import annotations

import copy
import re
from typing import Any

from flask.testing import FlaskClient

from cards.render import SUMMARY_LIMIT, escape_markdown

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
    warning = cards_for(client, body)["antithrombotic-warning"]
    detail = warning["detail"]
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


def test_warning_gives_hold_intervals_and_source_for_each_drug(client: FlaskClient) -> None:
    warning = cards_for(client, fixture_request("08-cancer-pain-warfarin"))[
        "antithrombotic-warning"
    ]
    detail = warning["detail"]
    assert "Warfarin" in detail
    assert "5 days" in detail  # ASRA 2018, intermediate risk
    assert "INR" in detail
    assert "prescriber" in detail
    assert "MedicationStatement/" in detail  # the record it came from
    assert "intermediate-risk" in detail


def test_text_matched_drug_is_labelled_as_such(client: FlaskClient) -> None:
    warning = cards_for(client, fixture_request("11-crps-eliquis-text-only"))[
        "antithrombotic-warning"
    ]
    assert "free text, not a code" in warning["detail"]


def test_suggestion_card_has_order_link_and_override_reasons(client: FlaskClient) -> None:
    card = cards_for(client, fixture_request("01-crps-left-apixaban"))["lsb-suggestion"]
    assert card["indicator"] == "info"
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    assert suggestion["uuid"] and suggestion["actions"][0]["type"] == "create"
    order = suggestion["actions"][0]["resource"]
    assert order["reasonReference"] == [{"reference": "Condition/f01-crps"}]
    assert order["note"][0]["text"].endswith("left")
    (link,) = card["links"]
    assert link["url"].endswith("/education/lumbar-sympathetic-block")
    assert link["type"] == "absolute"
    assert len(card["overrideReasons"]) >= 3
    assert "G90.522" in card["detail"] and "ICD-10-CM" in card["detail"]


def test_bleeding_risk_card_offers_to_remove_the_block_order(client: FlaskClient) -> None:
    card = cards_for(client, fixture_request("16-lsb-selected-aspirin"))["lsb-bleeding-risk"]
    assert card["indicator"] == "critical"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "delete"
    assert (
        action["resourceId"]
        == fixture_request("16-lsb-selected-aspirin")["context"]["selections"][0]
    )


def test_every_card_has_a_unique_uuid(client: FlaskClient) -> None:
    cards = client.post(SELECT, json=fixture_request("01-crps-left-apixaban")).get_json()["cards"]
    again = client.post(SELECT, json=fixture_request("01-crps-left-apixaban")).get_json()["cards"]
    uuids = [c["uuid"] for c in cards + again]
    assert len(set(uuids)) == len(uuids) == 4


def test_any_order_trigger_mode_is_a_data_switch(client: FlaskClient, monkeypatch: Any) -> None:
    from dataclasses import replace

    from cds_service import knowledge

    body = fixture_request("22-crps-non-pain-order")
    assert cards_for(client, body) == {}
    kn = knowledge.load_knowledge()
    monkeypatch.setattr(
        "cds_service.api.routes.load_knowledge",
        lambda: replace(kn, triggers=replace(kn.triggers, mode="any-order")),
    )
    assert "lsb-suggestion" in cards_for(client, body)
