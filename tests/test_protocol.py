"""The clinic's own protocol (CDS_LOCAL_PROTOCOL): on the cards, checked at start-up and by
`cds-service protocol check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pathway_support import post, request, text

from cds_service import create_app
from cds_service.cli import main
from cds_service.config import ConfigError

from fixture_files import ROOT, fixture_clock

EXAMPLE = ROOT / "docs" / "examples" / "local-protocol.yaml"
GOOD = """name: Test protocol
version: "7"
approved_by: Test committee
approved_on: 2026-05-01
drugs:
  - rxnorm: "{rxcui}"
    hold_before_hours: {hours}
    restart_after_hours: 24
"""


def test_the_example_protocol_gives_apixaban_its_interval_and_cites_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDS_LOCAL_PROTOCOL", str(EXAMPLE))
    client = create_app(dev_mode=True, clock=fixture_clock).test_client()
    suggestion = post(client, request("01-crps-left-apixaban"))["lsb-suggestion"]
    assert "Apixaban**: stop 72 hours before the block (clinic protocol)" in text(suggestion)
    body = request("16-lsb-selected-aspirin")  # the block itself ordered, on apixaban
    statement = body["prefetch"]["medicationStatements"]["entry"][0]["resource"]
    statement["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1364430"}]
    }
    card = post(client, body)["lsb-bleeding-risk"]
    assert card["indicator"] == "critical"
    assert "Clinic protocol" in text(card)
    assert "Apixaban: stop 72 hours before the block, restart 24 hours after." in text(card)
    assert "version 3, approved by Pharmacy and therapeutics committee (example)" in text(card)


def test_without_a_protocol_the_card_gives_no_apixaban_interval() -> None:
    client = create_app(dev_mode=True, clock=fixture_clock).test_client()
    card = post(client, request("01-crps-left-apixaban"))["lsb-suggestion"]
    assert "clinic protocol)" not in text(card) and "no interval confirmed here" in text(card)


def test_a_protocol_that_differs_from_the_guideline_shows_both(tmp_path: Path) -> None:
    path = tmp_path / "protocol.yaml"
    path.write_text(GOOD.format(rxcui="11289", hours=96), encoding="utf-8")  # warfarin
    client = create_app(dev_mode=True, local_protocol=str(path)).test_client()
    card = post(client, request("33-lsb-warfarin-inr"))["lsb-bleeding-risk"]
    assert "Warfarin: stop 96 hours before the block, restart 24 hours after" in text(card)
    assert "(the guideline: stop 5 days before the block, restart 6 hours after)" in text(card)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (GOOD.format(rxcui="1364445", hours=72), "not an ingredient RxCUI"),  # a product
        (GOOD.format(rxcui="5640", hours=72), "not an ingredient RxCUI"),  # ibuprofen
        (GOOD.format(rxcui="1364430", hours=-1), "whole number of hours"),
        (GOOD.format(rxcui="1364430", hours=7.5), "whole number of hours"),
        (
            GOOD.format(rxcui="1364430", hours=72).replace("approved_by: Test committee\n", ""),
            "approved_by: missing",
        ),
        (
            GOOD.format(rxcui="1364430", hours=72).replace("approved_on: 2026-05-01\n", ""),
            "approved_on: missing",
        ),
        ("name: [unclosed", "not valid YAML"),
        (
            GOOD.format(rxcui="1364430", hours=72) + "labs:\n  - lab: egfr\n    below: 30\n",
            "lab must be",
        ),
        (
            GOOD.format(rxcui="1364430", hours=72) + "labs:\n  - lab: inr\n    below: 1\n",
            "use above",
        ),
        (
            GOOD.format(rxcui="1364430", hours=72) + "labs:\n  - lab: platelets\n    below: 0\n",
            "> 0",
        ),
        (
            GOOD.format(rxcui="1364430", hours=72)
            + "labs:\n  - lab: inr\n    above: 1.5\n"
            + "  - lab: inr\n    above: 2\n",
            "listed twice",
        ),
    ],
)
def test_a_bad_protocol_refuses_to_start_with_one_line(
    tmp_path: Path, content: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "protocol.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        create_app(dev_mode=True, local_protocol=str(path))
    assert problem in str(raised.value) and "\n" not in str(raised.value)
    assert main(["protocol", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1


def test_protocol_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocol", "check", str(EXAMPLE)]) == 0
    assert "apixaban: hold 72 h, restart 24 h" in capsys.readouterr().out


def test_protocol_check_lists_lab_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "protocol.yaml"
    path.write_text(
        GOOD.format(rxcui="1364430", hours=72)
        + "labs:\n  - lab: platelets\n    below: 50\n    unit: 10*3/uL\n",
        encoding="utf-8",
    )
    assert main(["protocol", "check", str(path)]) == 0
    assert "platelets: warn below 50 10*3/uL" in capsys.readouterr().out
