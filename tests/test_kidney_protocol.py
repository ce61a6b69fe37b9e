"""A clinic protocol's hold that follows kidney function, through the HTTP API: the patient's
latest eGFR or creatinine clearance chooses the figure; without a result that can be compared
with the protocol's limits, the longest figure stands (never the shortest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kidney_protocol_support import (
    APIXABAN_SIGN,
    apixaban_line,
    app_with,
    hold_line,
    kidney_protocol,
)
from labs_support import CRCL, EGFR, observation
from pathway_support import post, request, text

from cds_service.cli import main
from cds_service.knowledge import load_knowledge
from cds_service.knowledge.protocol import ProtocolError, load_protocol

RULES = (
    {"below": 50, "unit": "mL/min", "hold_before_hours": 96},
    {"below": 30, "unit": "mL/min", "hold_before_hours": 120},
)


def test_the_kidney_result_chooses_the_protocol_figure(tmp_path: Path) -> None:
    client = app_with(kidney_protocol(tmp_path, *RULES)).test_client()
    line = apixaban_line(post(client, request(APIXABAN_SIGN))["lsb-bleeding-risk"])
    assert "stop 96 hours before the block (clinic protocol; for Creatinine clearance 38" in line
    assert "below the protocol's limit of 50)" in line


@pytest.mark.parametrize(("value", "hours"), [(29, 120), (30, 96), (49.9, 96), (50, 72), (80, 72)])
def test_each_limit_is_strictly_below(tmp_path: Path, value: float, hours: int) -> None:
    line = hold_line(
        kidney_protocol(tmp_path, *RULES),
        observation("t-crcl", CRCL, value, "mL/min"),
    )
    assert f"stop {hours} hours before the block" in line
    assert ("not below the protocol's limits" in line) == (hours == 72)


def test_without_a_kidney_result_the_longest_figure_stands(tmp_path: Path) -> None:
    line = hold_line(kidney_protocol(tmp_path, *RULES))
    assert "stop 120 hours before the block (clinic protocol; the protocol's longest" in line


def test_a_result_in_another_unit_is_not_compared(tmp_path: Path) -> None:
    """The limits are in mL/min: an eGFR in mL/min/1.73m2 chooses nothing, however low."""
    line = hold_line(
        kidney_protocol(tmp_path, *RULES),
        observation("t-egfr", EGFR, 80, "mL/min/1.73m2"),
    )
    assert "stop 120 hours before the block" in line


def test_the_latest_comparable_result_decides(tmp_path: Path) -> None:
    line = hold_line(
        kidney_protocol(tmp_path, *RULES),
        observation("t-old", CRCL, 20, "mL/min", when="2026-01-10"),
        observation("t-new", CRCL, 70, "mL/min", when="2026-11-10"),
    )
    assert "stop 72 hours before the block" in line
    assert "on 2026-11-10" in line


def test_a_limit_without_a_unit_compares_any_kidney_result(tmp_path: Path) -> None:
    protocol = kidney_protocol(tmp_path, {"below": 30, "hold_before_hours": 120})
    line = hold_line(
        protocol,
        observation("t-egfr", EGFR, 25, "mL/min/1.73m2"),
    )
    assert "stop 120 hours before the block (clinic protocol; for eGFR 25" in line


def test_booking_reads_no_kidney_result_and_dates_the_longest_hold(tmp_path: Path) -> None:
    """Booking reads no lab results: its dated plan follows the longest figure, never a
    shorter one than an order card could show."""
    client = app_with(kidney_protocol(tmp_path, *RULES)).test_client()
    cards = post(client, request("42-book-apixaban-no-interval"))
    plan = text(cards["booking-hold-plan"])
    assert "Hold before the block: 120 hours (clinic protocol; the protocol's longest" in plan


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"below": 30, "hold_before_hours": 48}, "shorter than the usual 72"),
        ({"below": 0, "hold_before_hours": 96}, "below must be a number > 0"),
        ({"below": 30}, "hold_before_hours is missing"),
        ({"below": 30, "hold_before_hours": 96, "above": 3}, "unknown key 'above'"),
    ],
)
def test_a_kidney_rule_that_cannot_be_used_stops_start_up(
    tmp_path: Path, rule: dict[str, object], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        load_protocol(kidney_protocol(tmp_path, rule), load_knowledge())


def test_protocol_check_lists_the_usual_hold_and_the_kidney_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["protocol", "check", str(kidney_protocol(tmp_path, *RULES))]) == 0
    out = capsys.readouterr().out
    assert "apixaban: hold 72 h, restart 24 h" in out
    assert "kidney function below 50 mL/min: hold 96 h" in out
    assert "kidney function below 30 mL/min: hold 120 h" in out
