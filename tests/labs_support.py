"""Building lab results and sided orders for the lab and wrong-side tests."""

from __future__ import annotations

from typing import Any

from pathway_support import LOINC, SNOMED, concept

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
PLATELETS, INR, EGFR, CRCL = "777-3", "6301-6", "98979-8", "2164-2"
LEFT_LEG, RIGHT_LEG = "32153003", "62175007"
LEFT, RIGHT, BOTH = "7771000", "24028007", "51440002"  # laterality qualifiers


def quantity(value: float, unit: str | None) -> dict[str, Any]:
    return {"value": value, **({"unit": unit, "code": unit} if unit else {})}


def observation(
    rid: str,
    code: str,
    value: float,
    unit: str | None = None,
    *,
    when: str = "2026-11-20",
    flag: str | None = None,
    low: float | None = None,
    high: float | None = None,
    range_unit: str | None = "same",
) -> dict[str, Any]:
    """A final lab result; `flag` is an interpretation code sent alone, with no display."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": concept(LOINC, code),
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, unit),
    }
    if flag:
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
    if low is not None or high is not None:
        ru = unit if range_unit == "same" else range_unit
        obs["referenceRange"] = [
            {
                **({"low": quantity(low, ru)} if low is not None else {}),
                **({"high": quantity(high, ru)} if high is not None else {}),
            }
        ]
    return obs


def set_body_site(body: dict[str, Any], *codes: str) -> None:
    """Gives the fixture's block order these SNOMED CT body sites (none: no side)."""
    for entry in body["context"]["draftOrders"]["entry"]:
        order = entry["resource"]
        if (
            order["resourceType"] == "ServiceRequest"
            and order["code"]["coding"][0]["code"] == "64520"
        ):
            order.pop("bodySite", None)
            if codes:
                order["bodySite"] = [concept(SNOMED, c) for c in codes]
