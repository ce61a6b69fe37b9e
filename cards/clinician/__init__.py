"""Clinician pages: what the cards link to instead of repeating it. Markdown with Jinja, filled
from the knowledge release (the hold rules the cards use), so the page and the cards agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cards.render import ENV, common, interval_words
from cds_service.knowledge import Knowledge, load_knowledge

CLINICIAN_DIR = Path(__file__).parent


def hold_rows(kn: Knowledge) -> list[dict[str, Any]]:
    """One row per drug, in the words the cards use."""
    words = common()["hold_policies"]
    rows = []
    for drug in sorted(kn.drugs.by_id.values(), key=lambda d: d.name):
        holds = kn.holds_for(drug)
        hold = holds[0] if holds else None
        policy = hold.policy if hold else "unknown"
        before, restart = words.get(policy, ""), "–"
        if policy == "unknown":
            before = "not confirmed here: clinic protocol and prescriber"
        if hold and policy == "interval":
            before = " or ".join(interval_words(i) for i in hold.before)
        if hold and hold.restart:
            restart = interval_words(hold.restart)
        rows.append(
            {
                "name": drug.name,
                "before": before,
                "restart": restart,
                "indicator": kn.indicator_when_block_ordered(drug),
            }
        )
    for other in kn.drugs.restart_only:  # NSAIDs: a restart time, never a card alone
        rows.append(
            {
                "name": other.label,
                "before": words["not-required"],
                "restart": interval_words(other.restart),
                "indicator": "none alone (named on a bleeding card or hold plan)",
            }
        )
    return rows


def clinician_markdown(topic: str) -> str | None:
    path = CLINICIAN_DIR / f"{topic}.md"
    if not path.is_file():
        return None
    kn = load_knowledge()
    cited = {
        d.hold.source.card or d.hold.source.citation
        for d in kn.drugs.by_id.values()
        if d.hold and d.hold.policy != "unknown" and d.hold.source
    }
    return ENV.from_string(path.read_text(encoding="utf-8")).render(
        holds=hold_rows(kn),
        version=kn.version,
        sources="; ".join(sorted(cited)),
        stale_days=kn.rules.medication_stale_after_days,
        look_back=interval_words(kn.rules.stopped_look_back)
        if kn.rules.stopped_look_back
        else "no time",
    )
