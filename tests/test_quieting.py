"""Quiet once answered, through the HTTP API on SQLite and PostgreSQL.

A suggestion overridden with a quieting reason is not shown again for that patient until the
policy's period has passed; the clock the service compares with is set by each test. Safety
cards are never quieted, no patient identifier is stored, and a second deployment (another
secret) never matches the first one's answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from feedback_support import WHEN, Ehr, accepted, overridden
from flask import Flask
from jwt_helpers import TestIssuer
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cds_service.cli import main
from cds_service.config import ConfigError
from cds_service.feedback.models import IssuedCard
from cds_service.knowledge.base import KnowledgeError
from cds_service.knowledge.quieting import DEFAULT_POLICY, load_quieting_policy
from cds_service.quieting.models import QuietedCard
from cds_service.quieting.patient_key import patient_key

from fixture_files import fixture_request

ANSWERED = datetime.fromisoformat(WHEN)
POLICY = load_quieting_policy()
QUIET = sorted(POLICY.periods["lsb-suggestion"].items())
NOT_QUIETING = sorted(POLICY.not_quieting["lsb-suggestion"])
FIXTURE = "01-crps-left-apixaban"  # suggestion (info) and antithrombotic warning
OTHER_SECRET = "a-second-deployment-secret-0123456789abcdef"


class SetClock:
    """The time the service compares quiet periods with; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def patient(name: str, fixture: str = FIXTURE) -> dict[str, Any]:
    """The fixture's request for another patient id (references included)."""
    body = fixture_request(fixture)
    own = body["context"]["patientId"]
    return json.loads(json.dumps(body).replace(f'{own}"', f'{name}"'))


@pytest.fixture()
def clock() -> SetClock:
    return SetClock(ANSWERED + timedelta(hours=1))


@pytest.fixture()
def ehr(make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer,
        database_url: str, clock: SetClock) -> Ehr:
    return Ehr(
        make_app(trusted_clients=str(trusted_file), database_url=database_url, clock=clock),
        issuer,
    )


def suggestion_after(ehr: Ehr, code: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """Issues the cards, overrides the suggestion with `code`; returns the next call's cards."""
    first = ehr.cards(body=body)
    assert ehr.feedback(overridden(first["lsb-suggestion"], code)).status_code == 200
    after = ehr.cards(body=body)
    assert set(after) - {"lsb-suggestion"} == set(first) - {"lsb-suggestion"}  # others stay
    return after


@pytest.mark.parametrize(("code", "period"), QUIET, ids=[c for c, _ in QUIET])
def test_a_quieting_reason_quiets_the_suggestion_for_its_period(
    ehr: Ehr, clock: SetClock, code: str, period: timedelta
) -> None:
    body = patient("quiet-" + code)
    assert "lsb-suggestion" not in suggestion_after(ehr, code, body)
    assert "lsb-suggestion" in ehr.cards(body=patient("someone-else"))

    clock.now = ANSWERED + period - timedelta(seconds=1)
    assert "lsb-suggestion" not in ehr.cards(body=body)
    clock.now = ANSWERED + period
    assert "lsb-suggestion" in ehr.cards(body=body)


@pytest.mark.parametrize("code", [*NOT_QUIETING, None])
def test_other_answers_leave_the_suggestion(ehr: Ehr, code: str | None) -> None:
    assert "lsb-suggestion" in suggestion_after(ehr, code, patient(f"stays-{code}"))


def test_an_accepted_suggestion_is_not_quieted(ehr: Ehr) -> None:
    body = patient("accepts")
    card = ehr.cards(body=body)["lsb-suggestion"]
    assert ehr.feedback(accepted(card)).status_code == 200
    assert "lsb-suggestion" in ehr.cards(body=body)


def test_the_latest_answer_on_a_card_decides(ehr: Ehr) -> None:
    body = patient("changes-mind")
    card = ehr.cards(body=body)["lsb-suggestion"]
    late = "2026-11-25T08:30:00Z"
    assert ehr.feedback(overridden(card, "patient-declines")).status_code == 200
    assert ehr.feedback(accepted(card, when=late)).status_code == 200
    assert "lsb-suggestion" in ehr.cards(body=body)
    # An earlier answer arriving after the later one changes nothing.
    early = overridden(card, "not-a-candidate", when="2026-11-25T07:00:00Z")
    assert ehr.feedback(early).status_code == 200
    assert "lsb-suggestion" in ehr.cards(body=body)


def test_safety_cards_for_a_quieted_patient_are_shown(ehr: Ehr) -> None:
    assert "lsb-suggestion" not in suggestion_after(ehr, "not-a-candidate", patient("safety"))
    # The same patient, the block itself being signed while on dabigatran.
    block = ehr.cards(body=patient("safety", "17-lsb-sign-dabigatran"))
    assert block["lsb-bleeding-risk"]["indicator"] == "critical"


def test_a_resent_or_changed_override_updates_the_one_quiet(ehr: Ehr, clock: SetClock) -> None:
    body = patient("resends")
    card = ehr.cards(body=body)["lsb-suggestion"]
    declines = overridden(card, "patient-declines")
    assert ehr.feedback(declines, declines).get_json() == {"received": 2, "stored": 1}
    tried = overridden(card, "tried-without-benefit", when="2026-11-25T09:00:00Z")
    assert ehr.feedback(tried, declines).get_json() == {"received": 2, "stored": 1}
    with Session(ehr.app.extensions["cds_db"]) as session:
        [row] = session.scalars(select(QuietedCard))
    later = datetime.fromisoformat("2026-11-25T09:00:00Z")
    period = POLICY.periods["lsb-suggestion"]["tried-without-benefit"]
    assert (row.reason_code, row.quiet_until) == ("tried-without-benefit", later + period)
    clock.now = later + period - timedelta(seconds=1)
    assert "lsb-suggestion" not in ehr.cards(body=body)


def test_order_sign_offers_no_suggestion_to_quiet(ehr: Ehr) -> None:
    """The suggestion belongs to order-select; at signing only the safety cards remain."""
    select_body = patient("both-hooks")
    sign_body = {**select_body, "hook": "order-sign"}
    sign_body["context"] = {k: v for k, v in select_body["context"].items() if k != "selections"}
    assert "lsb-suggestion" in ehr.cards(body=select_body)
    assert "lsb-suggestion" not in ehr.cards(body=sign_body)


def test_another_deployment_secret_does_not_match(
    ehr: Ehr, make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer,
    database_url: str, clock: SetClock,
) -> None:
    body = patient("two-deployments")
    assert "lsb-suggestion" not in suggestion_after(ehr, "patient-declines", body)
    other = Ehr(
        make_app(trusted_clients=str(trusted_file), database_url=database_url, clock=clock,
                 patient_key_secret=OTHER_SECRET),
        issuer,
    )
    assert "lsb-suggestion" in other.cards(body=body)


def test_no_patient_identifier_is_stored_and_only_quietable_cards_carry_the_hash(
    ehr: Ehr,
) -> None:
    body = patient("no-identifier-4711")
    suggestion_after(ehr, "not-a-candidate", body)
    ehr.cards(body=patient("no-identifier-4711", "17-lsb-sign-dabigatran"))
    with Session(ehr.app.extensions["cds_db"]) as session:
        keys: dict[str, set[str | None]] = {}
        for card in session.scalars(select(IssuedCard)):
            keys.setdefault(card.kind, set()).add(card.patient_key)
        dump = json.dumps(
            [list(r) for table in ("issued_card", "quieted_card", "card_feedback")
             for r in session.execute(text(f"SELECT * FROM {table}"))],
            default=str,
        )
        [quieted] = session.scalars(select(QuietedCard))
    assert "no-identifier-4711" not in dump
    assert keys.pop("lsb-bleeding-risk") == {None}  # a safety card never carries the hash
    assert {kind: hashes for kind, hashes in keys.items() if hashes != {None}} == {
        "lsb-suggestion": {quieted.patient_key}
    }
    assert len(quieted.patient_key) == 64
    assert (quieted.kind, quieted.reason_code, quieted.tenant) == (
        "lsb-suggestion", "not-a-candidate", "test-hospital"
    )
    assert quieted.quiet_until == ANSWERED + POLICY.periods["lsb-suggestion"]["not-a-candidate"]


def test_old_quiets_and_hashes_are_forgotten(ehr: Ehr, clock: SetClock) -> None:
    suggestion_after(ehr, "patient-declines", patient("long-ago"))
    longest = max(p for _, p in QUIET)
    clock.now = datetime.now(ANSWERED.tzinfo) + longest + timedelta(days=1)
    card = ehr.cards(body=patient("today"))["lsb-suggestion"]
    assert ehr.feedback(accepted(card)).status_code == 200  # any feedback tidies up
    with Session(ehr.app.extensions["cds_db"]) as session:
        assert list(session.scalars(select(QuietedCard))) == []
        assert {c.patient_key for c in session.scalars(select(IssuedCard))} == {None}


def test_a_failed_lookup_shows_the_card(ehr: Ehr) -> None:
    body = patient("database-trouble")
    with ehr.app.extensions["cds_db"].begin() as connection:
        connection.execute(text("DROP TABLE quieted_card"))
    response_cards = ehr.cards(body=body)
    assert "lsb-suggestion" in response_cards


def test_the_feedback_report_counts_quieting_overrides(
    ehr: Ehr, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = patient("reported")
    first = ehr.cards(body=body)
    assert ehr.feedback(overridden(first["lsb-suggestion"], "patient-declines")).status_code == 200
    second = ehr.cards(body=body)
    assert main(["feedback", "report", "--database-url", database_url, "--json"]) == 0
    report = {r["kind"]: r for r in json.loads(capsys.readouterr().out)}
    assert report["lsb-suggestion"]["issued"] == 1
    assert report["lsb-suggestion"]["overridden"] == 1
    assert report["lsb-suggestion"]["overrideReasons"] == {"patient-declines": 1}
    assert sum(r["issued"] for r in report.values()) == len(first) + len(second)


# --- start-up: the secret and the policy ------------------------------------------------------


def test_outside_development_mode_a_secret_is_required(
    make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    with pytest.raises(ConfigError, match="CDS_PATIENT_KEY_SECRET"):
        make_app(trusted_clients=str(trusted_file), patient_key_secret=None)
    with pytest.raises(ConfigError, match="at least 32"):
        make_app(trusted_clients=str(trusted_file), patient_key_secret="short")
    app = make_app(trusted_clients=str(trusted_file), patient_key_secret=None, quieting=False)
    assert "cds_quieting" not in app.extensions
    assert "cds_quieting" in make_app(dev_mode=True, patient_key_secret=None).extensions


def test_with_quieting_off_every_suggestion_is_shown(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer
) -> None:
    ehr = Ehr(make_app(trusted_clients=str(trusted_file), quieting=False), issuer)
    body = patient("quieting-off")
    assert "lsb-suggestion" in suggestion_after(ehr, "patient-declines", body)
    with Session(ehr.app.extensions["cds_db"]) as session:
        assert {c.patient_key for c in session.scalars(select(IssuedCard))} == {None}


def policy_file(tmp_path: Path, kind: str, code: str) -> str:
    doc = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    doc["cards"].append({
        "kind": kind,
        "quiet": [{"code": code, "for": {"value": 1, "unit": "d"}, "why": "test"}],
    })
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("lsb-no-indication", "indication-elsewhere", "only info cards"),
        ("lsb-bleeding-risk", "hold-planned", "only info cards"),
        ("data-quality", "checked-manually", "only info cards"),
        ("lsb-confirm-indication", "no-such-reason", "does not offer"),
        ("no-such-card", "x", "unknown card kind"),
    ],
)
def test_a_policy_that_would_quiet_a_safety_card_stops_start_up(
    make_app: Callable[..., Flask], trusted_file: Path, tmp_path: Path,
    kind: str, code: str, message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(trusted_clients=str(trusted_file),
                 quieting_policy=policy_file(tmp_path, kind, code))


def test_a_deployment_policy_sets_its_own_period(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, tmp_path: Path,
    clock: SetClock,
) -> None:
    doc = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    doc["cards"][0]["quiet"] = [
        {"code": "patient-declines", "for": {"value": 2, "unit": "h"}, "why": "clinic choice"}
    ]
    path = tmp_path / "clinic-policy.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    ehr = Ehr(make_app(trusted_clients=str(trusted_file), quieting_policy=str(path),
                       clock=clock), issuer)
    body = patient("clinic-policy")
    assert "lsb-suggestion" not in suggestion_after(ehr, "patient-declines", body)
    clock.now = ANSWERED + timedelta(hours=2)
    assert "lsb-suggestion" in ehr.cards(body=body)
    assert "lsb-suggestion" in suggestion_after(ehr, "not-a-candidate", body)


@pytest.mark.parametrize(
    "change",
    [
        lambda q: q[0].update({"for": "90 days"}),
        lambda q: q[0].update({"for": {"value": 0, "unit": "d"}}),
        lambda q: q[0].update({"for": {"value": 3, "unit": "weeks"}}),
        lambda q: q[0].pop("why"),
    ],
)
def test_a_malformed_policy_is_refused(tmp_path: Path, change: Callable[[Any], Any]) -> None:
    doc = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    change(doc["cards"][0]["quiet"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(KnowledgeError):
        load_quieting_policy(path)


def test_the_patient_key_separates_tenants_servers_and_secrets() -> None:
    secret = b"s" * 32
    key = patient_key(secret, "hospital-a", "https://fhir.a.example/r4", "123")
    assert key == patient_key(secret, "hospital-a", "https://FHIR.a.example/r4/", "123")
    assert key != patient_key(secret, "hospital-b", "https://fhir.a.example/r4", "123")
    assert key != patient_key(secret, "hospital-a", "https://fhir.b.example/r4", "123")
    assert key != patient_key(secret, "hospital-a", "https://fhir.a.example/r4", "1234")
    assert key != patient_key(b"t" * 32, "hospital-a", "https://fhir.a.example/r4", "123")
    assert "123" not in key


def test_the_patient_key_is_stable_across_releases() -> None:
    """Stored quiets are found by this hash: a release that changed it would forget them all.
    HMAC-SHA256 over `["hôpital-a", "https://fhir.a.example/r4", "123"]` in UTF-8."""
    key = patient_key(b"s" * 32, "hôpital-a", "https://fhir.a.example/r4/", "123")
    assert key == "327f3f4f7d69f8b3dbd6dba09fae5bbef168fcc112a340667e0bb22d375a518e"
