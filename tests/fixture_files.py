"""The fixture patients' hook requests and expected cards, as the tests read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
# The fixture patients' "today": rules that depend on time (the block series) are tested with
# the app's clock set to it, so their cards never change with the date the suite runs.
FIXTURE_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAMES = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))


def fixture_clock() -> datetime:
    return FIXTURE_NOW


def fixture_request(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "requests" / f"{name}.json").read_text(encoding="utf-8"))


def fixture_expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8"))


def fixture_bundles() -> list[dict[str, Any]]:
    """What the fixtures prefetched (matches and included Medications): what an EHR's FHIR
    server would hold for the fixture patients."""
    return [
        value
        for name in NAMES
        for value in (fixture_request(name).get("prefetch") or {}).values()
        if isinstance(value, dict) and value.get("resourceType") == "Bundle"
    ]


def service_for(body: dict[str, Any]) -> str:
    return "lsb-order-select" if body.get("hook") == "order-select" else "lsb-order-sign"


def card_kind(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])
