"""`cds-service feedback report`: how clinicians answered each kind of card.

Per card kind (card.source.topic.code): cards issued, accepted, overridden, not answered, and
the acceptance and override rates over cards issued. A card answered more than once counts by
its latest answer. Then the override reasons given, by code. Comments clinicians typed are
counted, never printed: they are free text and may hold patient data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cds_service.feedback.models import CardFeedback, IssuedCard

NO_REASON = "(no reason given)"


@dataclass
class KindReport:
    kind: str
    issued: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    comments: int = 0

    @property
    def unanswered(self) -> int:
        return self.issued - self.accepted - self.overridden

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.issued if self.issued else 0.0

    @property
    def override_rate(self) -> float:
        return self.overridden / self.issued if self.issued else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "issued": self.issued,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "unanswered": self.unanswered,
            "acceptanceRate": round(self.acceptance_rate, 4),
            "overrideRate": round(self.override_rate, 4),
            "overrideReasons": dict(self.reasons.most_common()),
            "comments": self.comments,
        }


def build_report(
    engine: Engine, tenant: str | None = None, since: datetime | None = None
) -> list[KindReport]:
    card_filter = []
    if tenant is not None:
        card_filter.append(IssuedCard.tenant == tenant)
    if since is not None:
        card_filter.append(IssuedCard.issued_at >= since)
    reports: dict[str, KindReport] = {}
    kinds: dict[str, str] = {}
    latest: dict[str, tuple[datetime, int, str, str | None, bool]] = {}
    with Session(engine) as session:
        for uuid, kind in session.execute(
            select(IssuedCard.uuid, IssuedCard.kind).where(*card_filter)
        ):
            kinds[uuid] = kind
            reports.setdefault(kind, KindReport(kind)).issued += 1
        answers = session.execute(
            select(
                CardFeedback.card_uuid,
                CardFeedback.outcome_timestamp,
                CardFeedback.id,
                CardFeedback.outcome,
                CardFeedback.override_reason_code,
                CardFeedback.user_comment.is_not(None),
            )
            .join(IssuedCard, IssuedCard.uuid == CardFeedback.card_uuid)
            .where(*card_filter)
        )
        for card, when, row_id, outcome, reason, commented in answers:
            answer = (when, row_id, outcome, reason, bool(commented))
            if card not in latest or answer[:2] > latest[card][:2]:
                latest[card] = answer
    for card, (_, _, outcome, reason, commented) in latest.items():
        report = reports[kinds[card]]
        if outcome == "accepted":
            report.accepted += 1
        else:
            report.overridden += 1
            report.reasons[reason or NO_REASON] += 1
            report.comments += commented
    return sorted(reports.values(), key=lambda r: r.kind)


def format_report(reports: list[KindReport], scope: str = "all tenants") -> str:
    if not reports:
        return f"No cards issued ({scope})."
    lines = [f"Card feedback ({scope})", ""]
    header = (
        f"{'card kind':<24} {'issued':>7} {'accepted':>9} {'overridden':>11} "
        f"{'unanswered':>11} {'accept %':>9} {'override %':>11}"
    )
    lines += [header, "-" * len(header)]
    for r in reports:
        lines.append(
            f"{r.kind:<24} {r.issued:>7} {r.accepted:>9} {r.overridden:>11} {r.unanswered:>11} "
            f"{100 * r.acceptance_rate:>8.1f}% {100 * r.override_rate:>10.1f}%"
        )
    lines += ["", "Override reasons"]
    any_reason = False
    for r in reports:
        for reason, count in r.reasons.most_common():
            any_reason = True
            lines.append(f"  {r.kind:<24} {reason:<28} {count:>5}")
        if r.comments:
            lines.append(
                f"  {r.kind:<24} {'comments (not shown)':<28} {r.comments:>5}"
            )
    if not any_reason:
        lines.append("  (no card overridden)")
    lines += ["", "Comments are counted, not shown: free text may hold patient data."]
    return "\n".join(lines)
