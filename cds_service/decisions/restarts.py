"""Drugs on record that need no hold for the block but have a restart time in the guideline's
table (NSAIDs): named on a bleeding card or a hold plan with that time, never a card alone."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.facts.model import Facts
from cds_service.knowledge import Interval, Knowledge


@dataclass(frozen=True)
class RestartLine:
    label: str  # the group's label: "Non-steroidal anti-inflammatory drug (NSAID)"
    recorded_as: list[str]  # the records' own words, at most two
    restart: Interval


def restart_lines(facts: Facts, kn: Knowledge) -> list[RestartLine]:
    lines = []
    for rule in kn.drugs.restart_only:
        taken = dict.fromkeys(
            f.recorded_as for f in facts.support if f.group == rule.label and f.current
        )
        if taken:
            lines.append(RestartLine(rule.label, list(taken)[:2], rule.restart))
    return lines
