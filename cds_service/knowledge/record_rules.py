"""Which statuses make a record count (record_rules.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.knowledge.antithrombotics import Interval, read_interval
from cds_service.knowledge.base import Reader, names_pattern


@dataclass(frozen=True)
class RecordRules:
    condition_active: frozenset[str]
    condition_excluded_verification: frozenset[str]
    condition_missing_status_counts: bool
    statement_counts: frozenset[str]
    statement_ignored: frozenset[str]
    request_counts: frozenset[str]
    request_ignored: frozenset[str]
    unknown_status_counts: bool
    suggestion_verification: frozenset[str]
    suggestion_unverified_needs: frozenset[str]  # clinical statuses when no verification is given
    medication_stale_after_days: int
    appointment_not_booked: frozenset[str]
    appointment_still_to_come: tuple[str, ...]  # in the file's order: a prefetch query lists them
    request_planned_intents: frozenset[str] = frozenset()
    statement_stopped: frozenset[str] = frozenset()  # shown while a hold would still run
    request_stopped: frozenset[str] = frozenset()
    stopped_look_back: Interval | None = None  # where no hold interval is known
    # (pattern, times a day) for dose frequency in free text, longest phrases first
    per_day_phrases: tuple[tuple[re.Pattern[str], int], ...] = ()


def load_record_rules(reader: Reader) -> RecordRules:
    doc = reader.docs["record_rules"]
    cond, stmt, req = doc["condition"], doc["medication_statement"], doc["medication_request"]
    stopped = doc["recently_stopped"]
    return RecordRules(
        condition_active=frozenset(cond["active_clinical_status"]),
        condition_excluded_verification=frozenset(cond["excluded_verification_status"]),
        condition_missing_status_counts=bool(cond["missing_clinical_status_counts"]),
        statement_counts=frozenset(stmt["counts"]),
        statement_ignored=frozenset(stmt["ignored"]),
        request_counts=frozenset(req["counts"]),
        request_ignored=frozenset(req["ignored"]),
        unknown_status_counts=bool(doc["unknown_status_counts_for_warnings"]),
        suggestion_verification=frozenset(cond["suggestion_verification"]),
        suggestion_unverified_needs=frozenset(cond["suggestion_unverified_needs_clinical_status"]),
        medication_stale_after_days=int(doc["medication"]["stale_after_days"]),
        appointment_not_booked=frozenset(doc["appointment"]["not_booked"]),
        appointment_still_to_come=tuple(doc["appointment"]["still_to_come"]),
        request_planned_intents=frozenset(req.get("planned_intents") or ()),
        statement_stopped=frozenset(stopped["statement_statuses"]),
        request_stopped=frozenset(stopped["request_statuses"]),
        stopped_look_back=read_interval(stopped["look_back"], "recently_stopped.look_back"),
        per_day_phrases=tuple(
            (pattern, int(n))
            for n, phrases in doc["dosage_text"]["per_day"].items()
            if (pattern := names_pattern(str(p) for p in phrases)) is not None
        ),
    )
