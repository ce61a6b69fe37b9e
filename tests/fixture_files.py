"""The fixture patients' hook requests and expected cards, as the tests read them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
# The fixture patients' "today": rules that depend on time (the block series, the booking
# dates) are tested with the app's clock set to it, so their cards never change with the date
# the suite runs. Booking fixtures state it as "now" in their expected file; the live server of
# the browser tests runs at it too (CDS_FIXED_NOW).
FIXTURE_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAMES = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))


def fixture_clock() -> datetime:
    return FIXTURE_NOW


def fixture_request(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "requests" / f"{name}.json").read_text(encoding="utf-8"))


def fixture_expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8"))


SERVICES = {
    "order-select": "lsb-order-select",
    "order-sign": "lsb-order-sign",
    "appointment-book": "lsb-appointment-book",
}


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
    return SERVICES.get(str(body.get("hook")), "lsb-order-sign")


def card_kind(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])


def matched_cards(
    cards: list[T], specs: list[dict[str, Any]], kind: Callable[[T], str]
) -> list[tuple[dict[str, Any], T]]:
    """Each expected card with the card it describes: the n-th spec of a kind describes the
    n-th card of that kind (several plans for a series come in date order)."""
    seen: Counter[str] = Counter()
    pairs = []
    for spec in specs:
        same_kind = [c for c in cards if kind(c) == spec["kind"]]
        pairs.append((spec, same_kind[seen[spec["kind"]]]))
        seen[spec["kind"]] += 1
    return pairs
