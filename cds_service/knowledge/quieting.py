"""Which override reasons quiet which card kind, and for how long (quieting.yaml).

The packaged file is the default; a deployment may name its own reviewed file in the same
format (CDS_QUIETING_POLICY). A malformed file raises `KnowledgeError`, so the service does
not start with a policy nobody can read. Whether a kind may be quieted at all (never a
warning or critical card) is checked against the card templates by `cds_service.quieting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from cds_service.knowledge.base import KNOWLEDGE_DIR, KnowledgeError

DEFAULT_POLICY = KNOWLEDGE_DIR / "quieting.yaml"
UNITS = {"d": "days", "h": "hours"}


@dataclass(frozen=True)
class QuietingPolicy:
    version: str
    # kind -> override reason code -> how long an override with that reason quiets the kind
    periods: Mapping[str, Mapping[str, timedelta]]
    # kind -> reason codes a reviewer decided do not quiet (kept to show they were considered)
    not_quieting: Mapping[str, frozenset[str]]

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.periods)

    def period(self, kind: str, reason: str | None) -> timedelta | None:
        return self.periods.get(kind, {}).get(reason or "")


def _period(where: str, value: Any) -> timedelta:
    if not isinstance(value, Mapping) or set(value) != {"value", "unit"}:
        raise KnowledgeError(f"{where}: `for` must be {{value: N, unit: d|h}}")
    amount, unit = value["value"], value["unit"]
    if unit not in UNITS or not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise KnowledgeError(f"{where}: `for` needs a whole number >= 1 and a unit of d or h")
    return timedelta(**{UNITS[unit]: amount})


def _code(where: str, entry: Any) -> str:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("code"), str):
        raise KnowledgeError(f"{where}: each reason needs a `code`")
    if not str(entry.get("why") or "").strip():
        raise KnowledgeError(f"{where} ({entry['code']}): say `why`, for the clinical reviewer")
    return entry["code"]


def load_quieting_policy(path: str | Path | None = None) -> QuietingPolicy:
    file = Path(path) if path else DEFAULT_POLICY
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read quieting policy {file}: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("cards"), list):
        raise KnowledgeError(f"quieting policy {file}: expected a mapping with a `cards` list")
    periods: dict[str, dict[str, timedelta]] = {}
    not_quieting: dict[str, frozenset[str]] = {}
    for n, card in enumerate(doc["cards"]):
        where = f"{file.name}: cards[{n}]"
        kind = card.get("kind") if isinstance(card, Mapping) else None
        if not isinstance(kind, str) or kind in periods:
            raise KnowledgeError(f"{where}: each card needs a `kind`, once")
        periods[kind] = {}
        for entry in card.get("quiet") or ():
            code = _code(f"{where}.quiet", entry)
            periods[kind][code] = _period(f"{where}.quiet ({code})", entry.get("for"))
        not_quieting[kind] = frozenset(
            _code(f"{where}.not_quieting", e) for e in card.get("not_quieting") or ()
        )
        both = not_quieting[kind] & set(periods[kind])
        if both:
            raise KnowledgeError(f"{where}: {sorted(both)} both quiet and do not quiet")
    return QuietingPolicy(str(doc.get("version")), periods, not_quieting)
