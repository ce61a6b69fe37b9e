"""Lab results that signal a bleeding risk on their own: a result on the side of the lab's own
range that labs.yaml names (a low platelet count, a raised INR). The limits are the lab's."""

from __future__ import annotations

from typing import Any

from cds_service.facts.model import Facts, LabFact
from cds_service.knowledge import Knowledge

OPPOSITE = {"low": "high", "high": "low"}


def signals_bleeding_risk(result: LabFact) -> bool:
    """The lab's flag or the value against its range is on the risky side. A flag that says
    only "abnormal" counts unless the range puts the value on the other side: the lab has
    called it abnormal, and the card quotes the value and range for the clinician to judge."""
    risky = result.lab.bleeding_risk_when
    if risky is None:
        return False
    if risky in (result.flag, result.range_side):
        return True
    return result.flag == "abnormal" and result.range_side != OPPOSITE[risky]


def lab_risks(facts: Facts, kn: Knowledge) -> list[LabFact]:
    """The latest results that signal a bleeding risk, in the order of labs.yaml."""
    return [
        result
        for lab in kn.labs
        if (result := facts.labs.get(lab.id)) is not None and signals_bleeding_risk(result)
    ]


def lab_extension(results: list[LabFact]) -> dict[str, Any]:
    """The records behind a lab card, for integrators."""
    return {
        "urn:lsb-cds-service:evidence": {
            "labs": [
                {
                    "reference": r.origin.reference,
                    "lab": r.lab.id,
                    "flag": r.flag,
                    "rangeSide": r.range_side,
                    "date": r.when,
                }
                for r in results
            ]
        }
    }
