"""Lab results as safety facts, through the HTTP API: a low platelet count or a raised INR by
the lab's own flag or range warns when the block is ordered, with or without a drug; the
service sets no threshold of its own."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from labs_support import INR, PLATELETS, observation
from pathway_support import add, post, request, text

from cds_service import create_app
from cds_service.web import sandbox_fixtures

from fixture_files import ROOT, fixture_clock

NO_DRUG_SIGN = "18-lsb-sign-no-antithrombotics"  # CRPS, the block signed, no drug
ASPIRIN_SELECT = "16-lsb-selected-aspirin"
SUGGEST = "02-causalgia-right-pt"  # PT evaluation selected: the suggestion
LAB_CARD = "lsb-lab-bleeding-risk"
EXAMPLE_PROTOCOL = ROOT / "docs" / "examples" / "local-protocol.yaml"


def test_a_low_platelet_count_flagged_by_code_alone_warns_without_a_drug(
    client: FlaskClient,
) -> None:
    body = request(NO_DRUG_SIGN)
    add(body, "observations", observation("t-plt", PLATELETS, 45, "10*3/uL", flag="LL"))
    cards = post(client, body)
    assert set(cards) == {LAB_CARD}
    card = cards[LAB_CARD]
    assert card["indicator"] == "warning"
    assert "Platelet count low" in card["summary"]
    # The code came with no display: the meaning is the service's knowledge of the code.
    assert "Platelet count: 45 10*3/uL on 2026-11-20, flagged Critical low" in text(card)
    assert "Observation/" not in text(card)
    evidence = card["extension"]["urn:lsb-cds-service:evidence"]["labs"]
    assert evidence == [
        {
            "reference": "Observation/t-plt",
            "lab": "platelets",
            "flag": "low",
            "rangeSide": None,
            "date": "2026-11-20",
        }
    ]


def test_card_and_sandbox_chart_name_the_same_of_several_flag_codes(client: FlaskClient) -> None:
    """Codes alone, Abnormal first: both show the one that names a side (Critical low)."""
    body = request("60-lsb-sign-low-platelets-no-drug")
    obs = body["prefetch"]["observations"]["entry"][0]["resource"]
    system = obs["interpretation"][0]["coding"][0]["system"]
    obs["interpretation"] = [{"coding": [{"system": system, "code": c}]} for c in ("A", "LL")]
    assert "flagged Critical low" in text(post(client, body)[LAB_CARD])
    [row] = sandbox_fixtures.chart(body).labs.rows
    assert "flagged Critical low," in row.detail


def test_the_reference_range_alone_is_enough_and_is_quoted(client: FlaskClient) -> None:
    body = request("60-lsb-sign-low-platelets-no-drug")
    obs = body["prefetch"]["observations"]["entry"][0]["resource"]
    del obs["interpretation"]
    obs["effectiveDateTime"] = "2025-01-07"  # old: shown with its date, no age limit invented
    card = post(client, body)[LAB_CARD]
    assert "reference range 150 10*3/uL to 400 10*3/uL; below the range" in text(card)
    assert "on 2025-01-07" in text(card) and "flagged" not in text(card)


def test_order_select_with_the_block_selected_warns_too(client: FlaskClient) -> None:
    body = request(ASPIRIN_SELECT)
    add(body, "observations", observation("t-inr", INR, 1.9, low=0.8, high=1.2))
    cards = post(client, body)
    assert cards[LAB_CARD]["indicator"] == "warning"
    assert "INR raised" in cards[LAB_CARD]["summary"]
    assert "above the range" in text(cards[LAB_CARD])
    # The INR is shown beside aspirin too, though aspirin's hold does not ask for it.
    assert "INR: 1.9 on 2026-11-20, reference range 0.8 to 1.2" in text(cards["lsb-bleeding-risk"])


def test_within_range_flagged_normal_or_high_platelets_do_not_warn(client: FlaskClient) -> None:
    for rid, kwargs in (
        ("t-normal", {"flag": "N", "low": 150, "high": 400}),
        ("t-within", {"low": 150, "high": 400}),
        ("t-high", {"flag": "H", "low": 150, "high": 400}),
    ):
        body = request(NO_DRUG_SIGN)
        value = 500 if rid == "t-high" else 245
        add(body, "observations", observation(rid, PLATELETS, value, "10*3/uL", **kwargs))
        assert post(client, body) == {}, rid


def test_abnormal_without_a_side_warns_unless_the_range_says_the_other_side(
    client: FlaskClient,
) -> None:
    body = request(NO_DRUG_SIGN)
    add(body, "observations", observation("t-a", PLATELETS, 60, "10*3/uL", flag="A"))
    assert "flagged Abnormal" in text(post(client, body)[LAB_CARD])
    body = request(NO_DRUG_SIGN)
    add(body, "observations", observation("t-a2", PLATELETS, 600, "10*3/uL", flag="AA", high=400))
    assert post(client, body) == {}


def test_a_range_in_another_unit_is_not_compared(client: FlaskClient) -> None:
    body = request(NO_DRUG_SIGN)
    add(
        body,
        "observations",
        observation("t-unit", PLATELETS, 45, "10*3/uL", low=150000, range_unit="/uL"),
    )
    assert post(client, body) == {}


def test_no_flag_and_no_range_is_no_warning_without_a_drug(client: FlaskClient) -> None:
    assert post(client, request("62-lsb-sign-platelets-no-flag-no-range")) == {}


def test_the_suggestion_names_a_result_that_signals_bleeding_risk(client: FlaskClient) -> None:
    body = request(SUGGEST)
    add(body, "observations", observation("t-plt2", PLATELETS, 45, "10*3/uL", flag="L"))
    card = post(client, body)["lsb-suggestion"]
    assert "Platelet count: 45 10*3/uL on 2026-11-20, flagged Low" in text(card)


def test_unreadable_lab_results_are_said_when_the_block_is_ordered(client: FlaskClient) -> None:
    body = request(NO_DRUG_SIGN)
    body["prefetch"]["observations"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception"}],
    }
    card = post(client, body)["data-quality"]
    assert "Lab results in these records were not read" in text(card)
    assert "platelet count" in text(card)


def test_the_clinic_protocol_can_set_the_limit(tmp_path: Path) -> None:
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(
        EXAMPLE_PROTOCOL.read_text(encoding="utf-8")
        + "labs:\n  - lab: platelets\n    below: 100\n    unit: 10*3/uL\n"
        + "  - lab: inr\n    above: 1.4\n",
        encoding="utf-8",
    )
    app = create_app(dev_mode=True, clock=fixture_clock, local_protocol=str(protocol))
    client = app.test_client()
    body = request(NO_DRUG_SIGN)
    add(body, "observations", observation("t-p80", PLATELETS, 80, "10*3/uL", low=50, high=400))
    add(body, "observations", observation("t-inr15", INR, 1.5, "{INR}"))  # annotation: no unit
    card = post(client, body)[LAB_CARD]
    assert "INR raised, Platelet count low" in card["summary"]
    assert "clinic protocol" in card["summary"]
    detail = text(card)
    assert "below the clinic protocol's limit of 100 10*3/uL" in detail
    assert "INR: 1.5 on 2026-11-20; above the clinic protocol's limit of 1.4" in detail
    assert "Periprocedural anticoagulation protocol (example), version 3" in detail
    # Within the protocol's limit, or in another unit: no warning.
    body = request(NO_DRUG_SIGN)
    add(body, "observations", observation("t-p120", PLATELETS, 120, "10*3/uL"))
    add(body, "observations", observation("t-p-other", INR, 9, "s"))
    assert post(client, body) == {}
