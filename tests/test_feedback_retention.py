"""What is kept about people: `cds-service feedback purge` removes override comments past the
comment limit, and feedback and issued-card rows past the record limit, all or nothing, on
SQLite and PostgreSQL. The clock is set by each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cds_service.cli import main
from cds_service.db import make_engine
from cds_service.db.migrate import upgrade
from cds_service.feedback.models import CardFeedback, IssuedCard
from cds_service.feedback.retention import Retention, purge

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RETENTION = Retention(comment_days=90, record_days=730)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def add_card(engine: Engine, name: str, issued_days_ago: float, *answers: tuple[float, str | None],
             now: datetime = NOW) -> None:
    """A card issued `issued_days_ago`, with feedback (received days ago, comment) on it."""
    issued = now - timedelta(days=issued_days_ago)
    with Session(engine) as session, session.begin():
        session.add(IssuedCard(
            uuid=name, service_id="lsb-order-select", hook_instance=f"hook-{name}",
            kind="lsb-suggestion", suggestion_uuids=[], override_reasons=[], issuer=None,
            tenant="t", issued_at=issued,
        ))
        session.flush()
        for n, (days_ago, comment) in enumerate(answers):
            received = now - timedelta(days=days_ago)
            session.add(CardFeedback(
                card_uuid=name, outcome="overridden", accepted_suggestions=[],
                # a reason of its own: the same answer repeated would be one row
                override_reason_system=None, override_reason_code=f"reason-{n}",
                user_comment=comment,
                outcome_timestamp=received - timedelta(seconds=n), received_at=received,
                issuer=None, tenant="t",
            ))


def contents(engine: Engine) -> tuple[list[str], list[tuple[str, str | None]]]:
    with Session(engine) as session:
        cards = list(session.scalars(select(IssuedCard.uuid).order_by(IssuedCard.uuid)))
        feedback = [
            (row.card_uuid, row.user_comment)
            for row in session.scalars(
                select(CardFeedback).order_by(CardFeedback.card_uuid, CardFeedback.id)
            )
        ]
    return cards, feedback


def test_comments_then_whole_rows_are_removed_by_age(engine: Engine) -> None:
    add_card(engine, "a-fresh", 10, (9, "Pt Jane Roe, MRN 4711, blocked last week"))
    add_card(engine, "b-91-days", 95, (91, "comment past the comment limit"), (89, "within it"))
    add_card(engine, "c-exactly-90", 90, (90, "exactly at the limit: kept"))
    add_card(engine, "d-old-card", 800, (700, "card past the record limit"))
    add_card(engine, "e-old-row", 729, (731, None))  # (a row older than its card: clock skew)
    add_card(engine, "f-unanswered", 731)

    result = purge(engine, RETENTION, NOW)

    assert (result.comments, result.feedback_rows, result.issued_cards) == (1, 2, 2)
    assert result.comments_before == NOW - timedelta(days=90)
    assert result.records_before == NOW - timedelta(days=730)
    assert contents(engine) == (
        ["a-fresh", "b-91-days", "c-exactly-90", "e-old-row"],
        [
            ("a-fresh", "Pt Jane Roe, MRN 4711, blocked last week"),
            ("b-91-days", None),
            ("b-91-days", "within it"),
            ("c-exactly-90", "exactly at the limit: kept"),
        ],
    )
    # Nothing more is due: a second run removes nothing.
    again = purge(engine, RETENTION, NOW)
    assert (again.comments, again.feedback_rows, again.issued_cards) == (0, 0, 0)


def test_a_purge_that_fails_midway_leaves_everything(engine: Engine) -> None:
    add_card(engine, "old", 800, (800, "old comment"))
    add_card(engine, "recent", 100, (100, "comment past the comment limit"))
    before = contents(engine)

    def fail_on_update(conn: object, clause: object, *args: object) -> None:
        if str(clause).startswith("UPDATE card_feedback"):
            raise RuntimeError("the database went away")

    event.listen(engine, "before_execute", fail_on_update)
    try:
        with pytest.raises(RuntimeError):
            purge(engine, RETENTION, NOW)  # the deletes ran; the update failed
    finally:
        event.remove(engine, "before_execute", fail_on_update)
    assert contents(engine) == before


def test_records_cannot_be_kept_shorter_than_their_comments() -> None:
    with pytest.raises(ValueError, match="less time than the comments"):
        Retention(comment_days=90, record_days=30)


def test_the_purge_command_reports_what_it_removed(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.now(UTC)  # the command reads the real clock: ages far from every limit
    add_card(engine, "kept", 1, (1, "Pt Jane Roe"), now=now)
    add_card(engine, "comment-old", 40, (40, "Pt John Doe"), now=now)
    add_card(engine, "all-old", 400, (400, "Pt Old"), now=now)
    monkeypatch.setenv("CDS_FEEDBACK_RETENTION_DAYS", "30")
    monkeypatch.setenv("CDS_FEEDBACK_RECORD_RETENTION_DAYS", "365")

    assert main(["feedback", "purge", "--database-url", database_url]) == 0
    out = capsys.readouterr().out
    assert "comments removed: 1 (stored more than 30 days ago" in out
    assert "feedback rows removed: 1, issued-card rows removed: 1" in out
    assert "Jane" not in out and "John" not in out  # counts only, never the text
    assert contents(engine) == (
        ["comment-old", "kept"], [("comment-old", None), ("kept", "Pt Jane Roe")]
    )

    assert main(["feedback", "purge", "--database-url", database_url, "--comment-days", "0",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) | {"comments_before": "", "records_before": ""} \
        == {"comments": 1, "feedback_rows": 0, "issued_cards": 0,
            "comments_before": "", "records_before": ""}

    monkeypatch.setenv("CDS_FEEDBACK_RECORD_RETENTION_DAYS", "10")
    assert main(["feedback", "purge", "--database-url", database_url]) == 2
    assert "less time than the comments" in capsys.readouterr().err
    assert len(contents(engine)[0]) == 2  # a refused purge removes nothing
