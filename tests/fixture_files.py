"""The fixture patients' hook requests and expected cards, as the tests read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
# The day the fixture patients are seen: their records are dated up to early June 2024, so none
# is older than the stated staleness age unless a fixture means it to be.
FIXTURE_NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
NAMES = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))


def fixture_request(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "requests" / f"{name}.json").read_text(encoding="utf-8"))


def fixture_expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8"))


def service_for(body: dict[str, Any]) -> str:
    return "lsb-order-select" if body.get("hook") == "order-select" else "lsb-order-sign"


def card_kind(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])
