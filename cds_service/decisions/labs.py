"""Lab results that signal a bleeding risk on their own: a result on the side of the lab's own
range that labs.yaml names (a low platelet count, a raised INR), or past the clinic protocol's
limit where it sets one. No limit is the service's own."""

from __future__ import annotations

from typing import Any

from cds_service.facts.model import Facts, LabFact
from cds_service.knowledge import Knowledge
from cds_service.knowledge.protocol import LabLimit

OPPOSITE = {"low": "high", "high": "low"}


def beyond_limit(result: LabFact, limit: LabLimit | None) -> bool:
    """Past the clinic protocol's limit for this lab, compared in the protocol's unit only."""
    if limit is None or result.quantity is None or result.quantity[1] != limit.unit:
        return False
    value = result.quantity[0]
    return value < limit.value if limit.side == "low" else value > limit.value


def signals_bleeding_risk(result: LabFact, limit: LabLimit | None = None) -> bool:
    """The lab's flag or the value against its range is on the risky side. A flag that says
    only "abnormal" counts unless the range puts the value on the other side: the lab has
    called it abnormal, and the card quotes the value and range for the clinician to judge."""
    risky = result.lab.bleeding_risk_when
    if risky is None:
        return False
    if risky in (result.flag, result.range_side) or beyond_limit(result, limit):
        return True
    return result.flag == "abnormal" and result.range_side != OPPOSITE[risky]


def lab_risks(facts: Facts, kn: Knowledge) -> tuple[list[LabFact], dict[str, LabLimit]]:
    """The latest results that signal a bleeding risk, in the order of labs.yaml: by the
    lab's flag or range, or by the clinic protocol's limit where it sets one; and, for the
    card's words, lab id -> the protocol's limit each is past."""
    limits = kn.protocol.lab_limits if kn.protocol else {}
    risks: list[LabFact] = []
    passed: dict[str, LabLimit] = {}
    for lab in kn.labs:
        result, limit = facts.labs.get(lab.id), limits.get(lab.id)
        if result is None or not signals_bleeding_risk(result, limit):
            continue
        risks.append(result)
        if limit is not None and beyond_limit(result, limit):
            passed[lab.id] = limit
    return risks, passed


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
