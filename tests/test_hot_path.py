"""What the hot path's shortcuts must keep: verdicts, query results and responses exactly as
the long way gives them."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from cds_service.api.json_provider import OrjsonProvider
from cds_service.data import validation
from cds_service.data.record import PatientRecord
from cds_service.data.validation import validation_error
from cds_service.db.driver_query import DriverQuery
from cds_service.facts.dates import record_date
from cds_service.facts.medications import read_medications
from cds_service.facts.procedures import read_procedures
from cds_service.feedback.models import IssuedCard
from cds_service.knowledge import load_knowledge
from cds_service.quieting import QUIETED_KINDS
from cds_service.quieting.models import QuietedCard

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "c1",
    "subject": {"reference": "Patient/p1"},
    "code": {"text": "Complex regional pain syndrome of the left foot"},
}


def test_a_remembered_verdict_is_the_verdict() -> None:
    broken = {**CONDITION, "onsetDateTime": "yesterday"}
    first, again = validation_error(broken), validation_error(copy.deepcopy(broken))
    assert first is not None and "onsetDateTime" in first
    assert again == first
    assert validation_error(CONDITION) is None
    assert validation_error({**CONDITION, "subject": "Patient/p1"}) is not None  # changed: new


def test_verdicts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "REMEMBERED", 3)
    monkeypatch.setattr(validation, "_verdicts", {})
    for n in range(10):
        validation_error({**CONDITION, "id": f"c{n}"})
    assert len(validation._verdicts) == 3


def test_a_resource_that_is_not_json_is_still_validated() -> None:
    assert validation_error({**CONDITION, "id": object()}) is not None


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _quiet(
    engine: Engine, uuid: str, key: str, kind: str, until: datetime = NOW + timedelta(days=1)
) -> None:
    """A card issued a day ago for patient `key`, answered so that it is quiet until `until`."""
    with Session(engine) as session, session.begin():
        session.add(IssuedCard(
            uuid=uuid, service_id="lsb-order-select", hook_instance="h", kind=kind,
            suggestion_uuids=[], override_reasons=[], issuer=None, tenant="t",
            issued_at=NOW - timedelta(days=1), patient_key=key,
        ))
        session.flush()
        session.add(QuietedCard(
            card_uuid=uuid, patient_key=key, kind=kind, reason_code="r",
            answered_at=NOW - timedelta(days=1), quiet_until=until, tenant="t",
        ))


def test_the_driver_query_finds_what_a_connection_finds(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    """The quieting lookup on the driver: same rows, same datetime comparison, both backends."""
    engine = make_app(database_url=database_url, dev_mode=True).extensions["cds_db"]
    now = NOW
    quiets = [  # (card, patient key, kind, quiet until)
        ("a", "k1", "lsb-suggestion", now + timedelta(days=1)),
        ("b", "k1", "lsb-suggestion", now + timedelta(days=2)),  # the same kind twice
        ("c", "k1", "lsb-series", now + timedelta(seconds=1)),
        ("d", "k1", "lsb-referral", now),  # ends now: no longer quiet
        ("e", "k2", "lsb-confirm-indication", now + timedelta(days=1)),  # another patient
    ]
    for uuid, key, kind, until in quiets:
        _quiet(engine, uuid, key, kind, until)
    query = DriverQuery(engine, QUIETED_KINDS)
    for key in ("k1", "k2", "k3"):
        params = {"key": key, "now": now}
        with engine.connect() as connection:
            expected = sorted(connection.scalars(QUIETED_KINDS, params))
        assert sorted(kind for (kind,) in query.rows(params)) == expected
    assert sorted(k for (k,) in query.rows({"key": "k1", "now": now})) == [
        "lsb-series", "lsb-suggestion"
    ]



def _sqlite_lookup(make_app: Callable[..., Flask], folder: Any) -> tuple[DriverQuery, list[int]]:
    """A lookup on a SQLite file, and a list that grows by one at every pool checkout."""
    app = make_app(database_url=f"sqlite:///{folder / 'quiet.sqlite3'}", dev_mode=True)
    engine = app.extensions["cds_db"]
    checkouts: list[int] = []
    event.listen(engine.pool, "checkout", lambda *_: checkouts.append(1))
    return DriverQuery(engine, QUIETED_KINDS), checkouts


def test_on_sqlite_the_lookup_keeps_one_connection_and_sees_every_commit(
    make_app: Callable[..., Flask], tmp_path: Any
) -> None:
    query, checkouts = _sqlite_lookup(make_app, tmp_path)
    params = {"key": "k1", "now": NOW}
    assert query.rows(params) == []
    _quiet(query._engine, "a", "k1", "lsb-suggestion")  # committed on another connection
    assert query.rows(params) == [("lsb-suggestion",)]
    _quiet(query._engine, "b", "k1", "lsb-series")
    taken = len(checkouts)
    for _ in range(3):
        assert sorted(query.rows(params)) == [("lsb-series",), ("lsb-suggestion",)]
    assert len(checkouts) == taken  # no connection taken from the pool for a lookup
    query._engine.dispose()  # what the server does before it forks: the connection closes
    assert len(query.rows(params)) == 2
    assert len(checkouts) == taken + 1


def test_a_forked_worker_looks_up_on_a_connection_of_its_own(
    make_app: Callable[..., Flask], tmp_path: Any
) -> None:
    query, checkouts = _sqlite_lookup(make_app, tmp_path)
    params = {"key": "k1", "now": NOW}
    _quiet(query._engine, "a", "k1", "lsb-suggestion")
    assert query.rows(params) == [("lsb-suggestion",)]  # the parent's connection, open
    taken = len(checkouts)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child; its exit code is the verdict
        try:
            found = query.rows(params)
            os._exit(0 if found == [("lsb-suggestion",)] and len(checkouts) == taken + 1 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert query.rows(params) == [("lsb-suggestion",)]
    assert len(checkouts) == taken


def _json_app() -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    return app


def test_responses_keep_their_order_text_and_dates() -> None:
    app = _json_app()
    value = {"summary": "Höld apixaban – 2 days", "indicator": "warning", "uuid": "1",
             "when": date(2026, 12, 11), "at": datetime(2026, 12, 11, 8, tzinfo=UTC)}
    with app.app_context():
        body = app.json.response(value).get_data()
    assert list(json.loads(body)) == ["summary", "indicator", "uuid", "when", "at"]
    assert "Höld apixaban – 2 days".encode() in body  # UTF-8, not \\u escapes
    # Dates as Flask has always written them (HTTP dates), whichever encoder writes them.
    assert json.loads(body)["when"] == "Fri, 11 Dec 2026 00:00:00 GMT"
    assert json.loads(body)["at"] == "Fri, 11 Dec 2026 08:00:00 GMT"


def test_what_orjson_refuses_is_still_written() -> None:
    app = _json_app()
    huge = 2**70
    with app.app_context():
        assert json.loads(app.json.response({"value": huge}).get_data()) == {"value": huge}
        assert json.loads(app.json.dumps({"value": huge})) == {"value": huge}


HEPARIN = {
    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "5224",
                "display": "heparin"}],
    "text": "heparin 5,000 units",
}


def _statement(ident: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": ident, "status": "active",
            "subject": {"reference": "Patient/p1"}, **fields}


def test_a_medication_concept_read_once_is_still_judged_per_record() -> None:
    """One concept on several statements: read once, but the dosage, status and Medication
    each record has are still its own."""
    flush = _statement("flush", medicationCodeableConcept=HEPARIN,
                       dosage=[{"text": "10 units to flush the line daily"}])
    treating = _statement("treating", medicationCodeableConcept=copy.deepcopy(HEPARIN))
    stopped = _statement("stopped", medicationCodeableConcept=HEPARIN, status="stopped")
    record = PatientRecord()
    record.medications["Medication/w"] = {
        "resourceType": "Medication", "id": "w", "code": {"text": "warfarin 5 mg"}}
    record.medications["Medication/a"] = {
        "resourceType": "Medication", "id": "a", "code": {"text": "apixaban 5 mg"}}
    by_reference = [
        _statement(f"ref-{m}", medicationReference={"reference": f"Medication/{m}"})
        for m in ("w", "a")
    ]
    sources = [(r, "list") for r in (flush, treating, stopped, *by_reference)]
    drugs, _, problems = read_medications(sources, record, load_knowledge())
    assert [(d.origin.reference, d.drug.id) for d in drugs] == [
        ("MedicationStatement/treating", "heparin"),
        ("MedicationStatement/ref-w", "warfarin"),
        ("MedicationStatement/ref-a", "apixaban"),
    ]
    assert problems == []


def _procedure(ident: str, text: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": ident, "status": "completed",
            "subject": {"reference": "Patient/p1"}, "code": {"text": text},
            "performedDateTime": when, **fields}


def test_a_procedure_code_read_once_is_still_judged_per_record() -> None:
    """One code on several records: read once, but each record's status, date and kind are its
    own, and a different code is read afresh."""
    block = "Lumbar sympathetic block"
    sources = [
        (_procedure("p1", block, "2026-03-02"), "history"),
        (_procedure("p2", block, "2026-06-09"), "history"),
        (_procedure("p3", block, "2026-07-01", status="not-done"), "history"),
        (_procedure("p4", "Below knee amputation", "2025-01-05"), "history"),
        ({"resourceType": "ServiceRequest", "id": "s1", "status": "completed",
          "intent": "order", "subject": {"reference": "Patient/p1"}, "code": {"text": block},
          "occurrenceDateTime": "2026-09-15"}, "completed orders"),
    ]
    blocks, _, amputations, problems = read_procedures(sources, load_knowledge())
    assert [(b.origin.reference, b.when) for b in blocks] == [
        ("Procedure/p1", date(2026, 3, 2)),
        ("Procedure/p2", date(2026, 6, 9)),
        ("ServiceRequest/s1", date(2026, 9, 15)),
    ]
    assert [(a.origin.reference, a.limb) for a in amputations] == [("Procedure/p4", "lower")]
    assert problems == []


@pytest.mark.parametrize(
    ("fields", "latest"),
    [
        ({}, None),
        ({"authoredOn": "2026-03-01"}, date(2026, 3, 1)),
        ({"authoredOn": "2026-03-01", "dateAsserted": "2026-05-20T09:00:00Z"}, date(2026, 5, 20)),
        ({"effectivePeriod": {"start": "2015-01-06", "end": "2016-01"}}, date(2016, 1, 1)),
        ({"effectiveDateTime": "2026", "effectivePeriod": "2027-01-01"}, date(2026, 1, 1)),
        ({"authoredOn": 20260301, "dateAsserted": "not a date"}, None),
    ],
)
def test_a_medication_records_date_is_the_latest_it_states(
    fields: dict[str, Any], latest: date | None
) -> None:
    assert record_date({"resourceType": "MedicationStatement", **fields}) == latest
