"""A fault in one card's template (a release with a mistake in it) never silences the call:
that card goes out in plain words, as loud as it would have been, and the other cards as
usual. The fault is logged by card kind and error type only, and counted."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

import cards.render as render

from fixture_files import card_kind, fixture_request, service_for

WARFARIN = "33-lsb-warfarin-inr"  # a critical bleeding card and a warning beside it
BROKEN = "lsb-bleeding-risk"


def failures() -> float:
    return REGISTRY.get_sample_value("cds_card_render_failures_total", {"kind": BROKEN}) or 0.0


@pytest.fixture()
def broken_template(monkeypatch: pytest.MonkeyPatch) -> None:
    real = render.template

    def template(kind: str) -> dict[str, Any]:
        spec = real(kind)
        if kind != BROKEN:
            return spec
        # As a release might: a variable the decision does not give.
        return {**spec, "_detail": render.ENV.from_string("{{ drugs_on_record }}")}

    monkeypatch.setattr(render, "template", template)


def test_a_card_whose_template_fails_goes_out_in_plain_words_as_loud_as_it_was(
    client: FlaskClient, broken_template: None, caplog: pytest.LogCaptureFixture
) -> None:
    body = fixture_request(WARFARIN)
    before = failures()
    with caplog.at_level(logging.ERROR):
        response = client.post(f"/cds-services/{service_for(body)}", json=body)
    assert response.status_code == 200
    cards = {card_kind(c): c for c in response.get_json()["cards"]}
    plain = cards[BROKEN]
    assert plain["indicator"] == "critical"
    assert plain["summary"].endswith("the details could not be shown")
    assert "Check the patient's record" in plain["detail"]
    assert "suggestions" not in plain  # nothing to accept from a card that could not be read
    # The card beside it is rendered as usual.
    assert cards["lsb-no-indication"]["indicator"] == "warning"
    assert "could not be shown" not in cards["lsb-no-indication"]["summary"]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged == [f"card {BROKEN} could not be rendered (UndefinedError): sent in plain words"]
    assert failures() == before + 1


def test_without_a_fault_the_same_call_is_rendered_in_full(client: FlaskClient) -> None:
    body = fixture_request(WARFARIN)
    response = client.post(f"/cds-services/{service_for(body)}", json=body)
    card = next(c for c in response.get_json()["cards"] if card_kind(c) == BROKEN)
    assert "could not be shown" not in card["summary"]
    assert "warfarin" in card["detail"].lower()


def test_the_plain_words_fit_a_summary_for_every_card_kind() -> None:
    summary = render.common()["render_failed"]["summary"]
    for kind in render.kinds():
        assert len(summary.format(title=render.template(kind)["title"])) < render.SUMMARY_LIMIT
