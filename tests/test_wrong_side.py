"""The wrong-side check, through the HTTP API: the block's side (its bodySite) against the side
of every lower-limb indication on record."""

from __future__ import annotations

from flask.testing import FlaskClient
from labs_support import BOTH, LEFT, LEFT_LEG, RIGHT, RIGHT_LEG, set_body_site
from pathway_support import ICD10CM, add, condition, post, request, text

LEFT_CRPS_SELECT = "63-lsb-right-for-left-crps"  # the block selected, on the right
CARD = "lsb-wrong-side"


def test_right_block_for_left_leg_crps_warns_at_order_select(client: FlaskClient) -> None:
    card = post(client, request(LEFT_CRPS_SELECT))[CARD]
    assert card["indicator"] == "warning"
    assert "ordered on the right, the indication is on the left" in card["summary"]
    assert "G90.522" in text(card) and "Condition/" not in text(card)
    evidence = card["extension"]["urn:lsb-cds-service:evidence"]
    order = {"reference": "ServiceRequest/f63-ord-lsb", "laterality": "right"}
    assert evidence["orders"] == [order]
    assert [i["laterality"] for i in evidence["indications"]] == ["left"]


def test_a_laterality_qualifier_states_the_side_at_order_sign(client: FlaskClient) -> None:
    card = post(client, request("64-lsb-sign-left-qualifier-right-crps"))[CARD]
    assert "ordered on the left, the indication is on the right" in card["summary"]


def test_the_same_side_or_no_side_says_nothing(client: FlaskClient) -> None:
    for sites in ((LEFT_LEG,), (LEFT,), ()):
        body = request(LEFT_CRPS_SELECT)
        set_body_site(body, *sites)
        assert CARD not in post(client, body), sites


def test_a_bilateral_indication_covers_either_side(client: FlaskClient) -> None:
    assert post(client, request("65-lsb-right-bilateral-crps")) == {}


def test_a_bilateral_order_for_a_one_sided_indication_warns(client: FlaskClient) -> None:
    for sites in ((BOTH,), (LEFT_LEG, RIGHT_LEG)):
        body = request(LEFT_CRPS_SELECT)
        set_body_site(body, *sites)
        card = post(client, body)[CARD]
        assert "ordered on both sides, the indication is on the left" in card["summary"]


def test_indications_on_both_sides_or_one_without_a_side_say_nothing(
    client: FlaskClient,
) -> None:
    body = request(LEFT_CRPS_SELECT)  # right block, left CRPS
    add(body, "conditions", condition("t-right", ICD10CM, "G57.71"))  # causalgia, right leg
    assert CARD not in post(client, body)
    body = request(LEFT_CRPS_SELECT)
    add(body, "conditions", condition("t-nosite", ICD10CM, "G90.529"))  # CRPS leg, side unspecified
    assert CARD not in post(client, body)


def test_a_signed_order_on_the_side_of_the_indication_says_nothing(client: FlaskClient) -> None:
    body = request("64-lsb-sign-left-qualifier-right-crps")
    set_body_site(body, RIGHT)
    assert CARD not in post(client, body)
