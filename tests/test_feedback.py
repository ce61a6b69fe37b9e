"""Feedback (CDS Hooks 2.0 "Feedback") through the HTTP API, on SQLite and on PostgreSQL.

Cards are issued by real, signed service calls; feedback is then posted for them. A rejected
request stores nothing; what is stored holds no patient identifier; the comment a clinician
typed is stored but never logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from feedback_support import (
    COMMENT,
    FEEDBACK,
    REASONS,
    SELECT,
    SIGN,
    WHEN,
    Ehr,
    accepted,
    overridden,
)
from flask import Flask
from jwt_helpers import PUBLIC_URL, TestIssuer, write_trusted_clients
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cds_service.cli import main
from cds_service.db.migrate import current_revision, head_revision
from cds_service.feedback.models import CardFeedback, IssuedCard

from fixture_files import fixture_request

# A patient whose call gives two cards: the suggestion and a data-quality warning.
TWO_CARDS = "19-crps-statements-operationoutcome"


def stored(app: Flask) -> list[CardFeedback]:
    with Session(app.extensions["cds_db"]) as session:
        return list(session.scalars(select(CardFeedback).order_by(CardFeedback.id)))


def problems(response: Any, status: int = 400) -> dict[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return {e: i["diagnostics"] for i in body["issue"] for e in i.get("expression", [])}


@pytest.fixture()
def ehr(make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer,
        database_url: str) -> Ehr:
    return Ehr(make_app(trusted_clients=str(trusted_file), database_url=database_url), issuer)


# --- what is stored -------------------------------------------------------------------------


def test_accepted_and_overridden_feedback_is_stored(
    ehr: Ehr, caplog: pytest.LogCaptureFixture
) -> None:
    cards = ehr.cards(TWO_CARDS)
    suggestion, warning = cards["lsb-suggestion"], cards["data-quality"]
    with caplog.at_level(logging.DEBUG):
        response = ehr.feedback(
            accepted(suggestion), overridden(warning, "checked-manually", COMMENT)
        )
    assert response.status_code == 200
    assert response.get_json() == {"received": 2, "stored": 2}
    first, second = stored(ehr.app)
    assert (first.card_uuid, first.outcome) == (suggestion["uuid"], "accepted")
    assert first.accepted_suggestions == [suggestion["suggestions"][0]["uuid"]]
    assert first.outcome_timestamp.isoformat() == "2026-11-25T08:00:00+00:00"
    assert (second.outcome, second.override_reason_code) == ("overridden", "checked-manually")
    assert second.override_reason_system == REASONS
    assert second.user_comment == COMMENT  # kept for review...
    assert (second.issuer, second.tenant) == (ehr.issuer.issuer, "test-hospital")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Jane" not in logged and "4711" not in logged  # ...but never logged


def test_overridden_without_a_reason_and_with_a_comment_only(ehr: Ehr) -> None:
    cards = ehr.cards(TWO_CARDS)
    response = ehr.feedback(
        overridden(cards["lsb-suggestion"]),
        overridden(cards["data-quality"], comment="not relevant today"),
    )
    assert response.status_code == 200
    assert [(f.override_reason_code, f.user_comment) for f in stored(ehr.app)] == [
        (None, None),
        (None, "not relevant today"),
    ]


def test_resent_feedback_is_kept_once(ehr: Ehr) -> None:
    card = ehr.cards()["lsb-suggestion"]
    assert ehr.feedback(accepted(card), accepted(card)).get_json() == {"received": 2, "stored": 1}
    assert ehr.feedback(accepted(card)).get_json() == {"received": 1, "stored": 0}
    # A later, different answer on the same card is new feedback (the spec allows it).
    assert ehr.feedback(overridden(card, when="2026-11-25T08:05:00Z")).status_code == 200
    assert len(stored(ehr.app)) == 2


def test_an_answer_retried_300_times_is_one_row_with_its_latest_time(ehr: Ehr) -> None:
    """An EHR retrying one override (a new outcomeTimestamp on some tries, the same on others):
    every post is answered 200, one row is kept, and the report counts one override."""
    from cds_service.feedback.report import build_report

    card = ehr.cards()["lsb-suggestion"]
    times = [f"2026-11-25T08:{n // 60:02d}:{n % 60:02d}Z" for n in range(150)] * 2
    for when in times:
        response = ehr.feedback(overridden(card, "patient-declines", when=when))
        assert response.status_code == 200
    [row] = stored(ehr.app)
    assert row.outcome_timestamp.isoformat() == "2026-11-25T08:02:29+00:00"  # the latest
    [report] = [r for r in build_report(ehr.app.extensions["cds_db"]) if r.kind == "lsb-suggestion"]
    assert (report.issued, report.overridden, report.reasons["patient-declines"]) == (1, 1, 1)


def test_the_same_answer_given_again_after_another_is_the_latest_again(ehr: Ehr) -> None:
    """Another reason or outcome is a new row; repeating the first answer moves its time on,
    so it is the card's latest answer (which the report and quieting read)."""
    card = ehr.cards()["lsb-suggestion"]
    ehr.feedback(overridden(card, "not-a-candidate", when="2026-11-25T08:00:00Z"))
    ehr.feedback(overridden(card, "patient-declines", when="2026-11-25T08:01:00Z"))
    ehr.feedback(accepted(card, when="2026-11-25T08:02:00Z"))
    ehr.feedback(overridden(card, "not-a-candidate", when="2026-11-25T08:03:00Z"))
    rows = {
        f.override_reason_code or f.outcome: f.outcome_timestamp.minute for f in stored(ehr.app)
    }
    assert rows == {"not-a-candidate": 3, "patient-declines": 1, "accepted": 2}


def test_the_migration_keeps_one_row_per_answer(database_url: str) -> None:
    """Rows stored before the unique answer index: each repeated answer keeps its latest."""
    from datetime import UTC, datetime, timedelta

    from cds_service.db import make_engine
    from cds_service.db.migrate import upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        at = datetime(2026, 11, 25, 8, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO issued_card (uuid, service_id, hook_instance, kind, "
                "suggestion_uuids, override_reasons, tenant, issued_at) VALUES "
                "('c1', 's', 'h', 'lsb-suggestion', '[]', '[]', 't', :at)"), {"at": at})
            for n, (outcome, code) in enumerate(
                [("overridden", "x"), ("overridden", "x"), ("accepted", None),
                 ("overridden", "x"), ("overridden", "y")]
            ):
                connection.execute(text(
                    "INSERT INTO card_feedback (card_uuid, outcome, accepted_suggestions, "
                    "override_reason_code, outcome_timestamp, received_at, tenant) VALUES "
                    "('c1', :outcome, '[]', :code, :when, :when, 't')"),
                    {"outcome": outcome, "code": code, "when": at + timedelta(minutes=n)})
        assert upgrade(engine) == head_revision()
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT outcome, override_reason_code, outcome_timestamp FROM card_feedback "
                "ORDER BY id")).all()
        minutes = [(o, c, datetime.fromisoformat(str(w)).minute) for o, c, w in rows]
        assert minutes == [("accepted", None, 2), ("overridden", "x", 3), ("overridden", "y", 4)]
    finally:
        engine.dispose()


def test_issued_cards_are_recorded_without_patient_data(ehr: Ehr) -> None:
    request = fixture_request("01-crps-left-apixaban")
    cards = ehr.cards()
    with Session(ehr.app.extensions["cds_db"]) as session:
        issued = {c.uuid: c for c in session.scalars(select(IssuedCard))}
        dump = json.dumps(
            [list(r) for r in session.execute(text("SELECT * FROM issued_card"))], default=str
        )
    suggestion = issued[cards["lsb-suggestion"]["uuid"]]
    assert suggestion.kind == "lsb-suggestion"
    assert suggestion.service_id == "lsb-order-select"
    assert suggestion.hook_instance == request["hookInstance"]
    offered = [s["uuid"] for s in cards["lsb-suggestion"]["suggestions"]]
    assert suggestion.suggestion_uuids == offered
    assert {"system": REASONS, "code": "not-a-candidate"} in suggestion.override_reasons
    assert request["context"]["patientId"] not in dump
    assert request["context"]["userId"] not in dump


# --- rejected requests store nothing --------------------------------------------------------


def test_unknown_cards_are_named_and_nothing_is_stored(ehr: Ehr) -> None:
    card = ehr.cards()["lsb-suggestion"]
    never_issued = str(uuid.uuid4())
    found = problems(
        ehr.feedback(accepted(card), overridden({"uuid": never_issued}, "not-a-candidate"))
    )
    assert list(found) == ["feedback.1.card"]
    assert never_issued in found["feedback.1.card"]
    assert stored(ehr.app) == []  # the valid first item was not stored either


def test_items_that_do_not_fit_their_card_are_named(ehr: Ehr) -> None:
    cards = ehr.cards(TWO_CARDS)
    suggestion, warning = cards["lsb-suggestion"], cards["data-quality"]
    wrong_suggestion = {**accepted(suggestion), "acceptedSuggestions": [{"id": "made-up"}]}
    found = problems(
        ehr.feedback(
            wrong_suggestion,
            {**accepted(warning), "acceptedSuggestions": [{"id": "x"}]},  # card has none
            overridden(suggestion, "checked-manually"),  # a reason the card did not offer
        )
    )
    assert set(found) == {
        "feedback.0.acceptedSuggestions.0.id",
        "feedback.1.outcome",
        "feedback.1.acceptedSuggestions.0.id",
        "feedback.2.overrideReason.reason",
    }
    assert stored(ehr.app) == []


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "card not a uuid": (lambda i: {**i, "card": "card-1"}, "feedback.0.card"),
    "no card": (lambda i: {k: v for k, v in i.items() if k != "card"}, "feedback.0.card"),
    "outcome unknown": (lambda i: {**i, "outcome": "ignored"}, "feedback.0.outcome"),
    "accepted without suggestions": (
        lambda i: {k: v for k, v in i.items() if k != "acceptedSuggestions"},
        "feedback.0.acceptedSuggestions",
    ),
    "accepted with an override reason": (
        lambda i: {**i, "overrideReason": {"userComment": "x"}},
        "feedback.0.overrideReason",
    ),
    "timestamp not UTC": (
        lambda i: {**i, "outcomeTimestamp": "2026-11-25T10:00:00+02:00"},
        "feedback.0.outcomeTimestamp",
    ),
    "timestamp not a date-time": (
        lambda i: {**i, "outcomeTimestamp": "yesterday"},
        "feedback.0.outcomeTimestamp",
    ),
    "timestamp in the future": (
        lambda i: {**i, "outcomeTimestamp": "2999-01-01T00:00:00Z"},
        "feedback.0.outcomeTimestamp",
    ),
    "misspelt field": (lambda i: {**i, "acceptedSuggestion": []}, "feedback.0.acceptedSuggestion"),
    "comment too long": (
        lambda i: {**i, "outcome": "overridden", "acceptedSuggestions": None,
                   "overrideReason": {"userComment": "x" * 5000}},
        "feedback.0",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_items_are_400_naming_them(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, case: str
) -> None:
    ehr = Ehr(make_app(trusted_clients=str(trusted_file)), issuer)
    card = ehr.cards()["lsb-suggestion"]
    change, where = MALFORMED[case]
    item = {k: v for k, v in change(accepted(card)).items() if v is not None}
    found = problems(ehr.feedback(accepted(card, "2026-11-25T07:00:00Z"), item))
    where = where.replace("feedback.0", "feedback.1")
    assert any(e.startswith(where) for e in found), found
    assert stored(ehr.app) == []


def test_control_characters_are_400_on_every_backend(ehr: Ehr) -> None:
    """PostgreSQL cannot store NUL: it must be refused as bad input, not fail as a 500."""
    card = ehr.cards()["lsb-suggestion"]
    found = problems(
        ehr.feedback(
            overridden(card, comment="before\x00after"),
            {**accepted(card), "acceptedSuggestions": [{"id": "a\x00b"}]},
            overridden(card, code="not-a-candidate\x00", when="2026-11-25T08:01:00Z"),
        )
    )
    assert set(found) == {
        "feedback.0.overrideReason.userComment",
        "feedback.1.acceptedSuggestions.0.id",
        "feedback.2.overrideReason.reason.code",
    }
    assert ehr.feedback(overridden(card, comment="line one\nline two\ttab")).status_code == 200
    assert stored(ehr.app)[0].user_comment == "line one\nline two\ttab"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"feedback": []}, 400),
        ({"feedback": "accepted"}, 400),
        ({"nothing": 1}, 400),
        ([1, 2], 400),
        ({"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                        "outcomeTimestamp": WHEN}] * 101}, 400),
    ],
)
def test_malformed_requests_are_400(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, body: Any, status: int
) -> None:
    ehr = Ehr(make_app(trusted_clients=str(trusted_file)), issuer)
    problems(ehr.post(FEEDBACK, body), status)


def test_feedback_for_another_service_or_client_is_refused(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer, database_url: str
) -> None:
    other = TestIssuer(issuer="https://other-ehr.invalid", kid="other", slot=1)
    trusted = write_trusted_clients(
        tmp_path / "t.yaml", issuer.entry(), other.entry(tenant="other-hospital")
    )
    app = make_app(trusted_clients=str(trusted), database_url=database_url)
    ehr, intruder = Ehr(app, issuer), Ehr(app, other)
    card = ehr.cards()["lsb-suggestion"]
    # Another client cannot answer (or learn about) this client's cards...
    assert "feedback.0.card" in problems(intruder.feedback(accepted(card)))
    # ...and a card of lsb-order-select is unknown to lsb-order-sign.
    assert "feedback.0.card" in problems(ehr.feedback(accepted(card), path=SIGN + "/feedback"))
    problems(ehr.feedback(accepted(card), path="/cds-services/no-such-service/feedback"), 404)
    assert stored(app) == []


def test_bodies_too_big_or_too_deep_are_refused(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer
) -> None:
    app = make_app(trusted_clients=str(trusted_file), feedback_max_body_bytes=2048)
    ehr = Ehr(app, issuer)
    card = ehr.cards()["lsb-suggestion"]
    big = overridden(card, comment="x" * 3000)
    problems(ehr.feedback(big), 413)
    deep: Any = "x"
    for _ in range(50):
        deep = {"extension": deep}
    problems(ehr.feedback({**accepted(card), "extension": deep}))
    headers = issuer.auth(PUBLIC_URL + FEEDBACK)
    very_deep = "[" * 100_000 + "]" * 100_000
    response = ehr.client.post(
        FEEDBACK, data=very_deep, headers=headers, content_type="application/json"
    )
    assert response.status_code in (400, 413)
    problems(ehr.client.post(FEEDBACK, data="{oops", headers=issuer.auth(
        PUBLIC_URL + FEEDBACK), content_type="application/json"))
    response = ehr.client.post(
        FEEDBACK, data="x", headers=issuer.auth(PUBLIC_URL + FEEDBACK), content_type="text/plain"
    )
    problems(response, 415)
    assert stored(app) == []


@pytest.mark.parametrize("depth", [100, 400, 2000])
def test_deeply_nested_hook_calls_are_4xx_not_500(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, depth: int
) -> None:
    ehr = Ehr(make_app(trusted_clients=str(trusted_file)), issuer)
    deep = '{"a":[' * depth + '"x"' + "]}" * depth  # built as text: json.dumps would recurse
    body = fixture_request("01-crps-left-apixaban")
    condition = body["prefetch"]["conditions"]["entry"][0]["resource"]
    for where in (body["context"], body["prefetch"], condition):
        where["extension"] = "DEEP"
        data = json.dumps(body).replace('"DEEP"', deep)
        del where["extension"]
        response = ehr.client.post(
            SELECT, data=data, content_type="application/json",
            headers=issuer.auth(PUBLIC_URL + SELECT),
        )
        assert response.status_code < 500, response.get_data(as_text=True)[:300]


def test_feedback_without_a_token_is_refused_and_stores_nothing(ehr: Ehr) -> None:
    card = ehr.cards()["lsb-suggestion"]
    response = ehr.client.post(FEEDBACK, json={"feedback": [accepted(card)]})
    assert response.status_code == 401
    token_for_the_service = ehr.issuer.auth(PUBLIC_URL + SELECT)
    response = ehr.client.post(
        FEEDBACK, json={"feedback": [accepted(card)]}, headers=token_for_the_service
    )
    assert response.status_code == 401
    assert stored(ehr.app) == []


# --- schema, migrations and the report ------------------------------------------------------


def test_migrations_match_the_models(database_url: str, make_app: Callable[..., Flask],
                                     trusted_file: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cds_service.db import Base

    app = make_app(trusted_clients=str(trusted_file), database_url=database_url)
    engine = app.extensions["cds_db"]
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_db_upgrade_command_and_start_up_without_migrations(
    database_url: str, make_app: Callable[..., Flask], trusted_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cds_service.config import ConfigError

    with pytest.raises(ConfigError, match="cds-service db upgrade"):
        make_app(trusted_clients=str(trusted_file), database_url=database_url,
                 migrate_on_start=False)
    assert main(["db", "current", "--database-url", database_url]) == 1
    assert main(["db", "upgrade", "--database-url", database_url]) == 0
    assert f"schema at {head_revision()}" in capsys.readouterr().out
    assert main(["db", "current", "--database-url", database_url]) == 0
    make_app(trusted_clients=str(trusted_file), database_url=database_url, migrate_on_start=False)


def test_feedback_report(ehr: Ehr, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    first, second, third = ehr.cards(TWO_CARDS), ehr.cards(TWO_CARDS), ehr.cards(TWO_CARDS)
    assert ehr.feedback(
        accepted(first["lsb-suggestion"]),
        overridden(second["lsb-suggestion"], "already-planned", COMMENT),
        # answered twice: the latest answer (accepted) counts
        overridden(third["lsb-suggestion"], when="2026-11-25T07:00:00Z"),
        accepted(third["lsb-suggestion"], when="2026-11-25T07:30:00Z"),
        overridden(first["data-quality"], "checked-manually"),
        overridden(second["data-quality"]),
    ).status_code == 200

    assert main(["feedback", "report", "--database-url", database_url, "--json"]) == 0
    report = {r["kind"]: r for r in json.loads(capsys.readouterr().out)}
    assert report["lsb-suggestion"] | {"overrideReasons": None} == {
        "kind": "lsb-suggestion", "issued": 3, "accepted": 2, "overridden": 1, "unanswered": 0,
        "acceptanceRate": 0.6667, "overrideRate": 0.3333, "overrideReasons": None, "comments": 1,
    }
    assert report["lsb-suggestion"]["overrideReasons"] == {"already-planned": 1}
    assert report["data-quality"]["overrideReasons"] == {
        "checked-manually": 1, "(no reason given)": 1,
    }
    assert report["data-quality"]["unanswered"] == 1

    assert main(["feedback", "report", "--database-url", database_url]) == 0
    table = capsys.readouterr().out
    assert "lsb-suggestion" in table and "66.7%" in table and "already-planned" in table
    assert "Jane" not in table  # comments are counted, never printed
    assert main(["feedback", "report", "--database-url", database_url,
                 "--tenant", "nobody"]) == 0
    assert "No cards issued" in capsys.readouterr().out


def test_the_count_of_feedback_rows_is_what_was_accepted(ehr: Ehr) -> None:
    cards = [ehr.cards()["lsb-suggestion"] for _ in range(3)]
    for card in cards:
        assert ehr.feedback(accepted(card)).status_code == 200
    with Session(ehr.app.extensions["cds_db"]) as session:
        assert session.scalar(select(func.count()).select_from(CardFeedback)) == 3
