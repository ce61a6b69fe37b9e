"""The fixture patients' hook requests and expected cards, as the tests read them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
NAMES = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))


def fixture_request(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "requests" / f"{name}.json").read_text(encoding="utf-8"))


def fixture_expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8"))


# The time every fixture with date rules is called at (each such expected file states it as
# "now"); the live server of the browser tests runs with this clock too (CDS_FIXED_NOW).
FIXTURE_NOW = "2026-12-01T09:00:00Z"
SERVICES = {
    "order-select": "lsb-order-select",
    "order-sign": "lsb-order-sign",
    "appointment-book": "lsb-appointment-book",
}


def service_for(body: dict[str, Any]) -> str:
    return SERVICES.get(str(body.get("hook")), "lsb-order-sign")


def fixture_now(name: str) -> datetime | None:
    """The time the fixture's call happens at, when its cards depend on it."""
    now = fixture_expected(name).get("now")
    return datetime.fromisoformat(now) if now else None


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
