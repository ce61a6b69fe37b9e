"""Bodies an attacker or a broken client sends, through the real server (gunicorn on loopback):
broken chunked framing, bodies over the limit however framed, JSON that is not strict JSON,
text that no database can store. Each is a 4xx OperationOutcome, never a 500 or a cut body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from raw_http import chunked, send
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cds_service.feedback.models import CardFeedback
from cds_service.testing import served

from fixture_files import card_kind, fixture_request

pytestmark = pytest.mark.slow

SELECT = "/cds-services/lsb-order-select"
FEEDBACK = SELECT + "/feedback"
HOOK_LIMIT = 64 * 1024
FEEDBACK_LIMIT = 4 * 1024


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with small body limits, so that bodies over them are cheap to send."""
    log = tmp_path_factory.mktemp("limits") / "service.log"
    env = {
        "CDS_DEV_MODE": "1",
        "CDS_MAX_BODY_BYTES": str(HOOK_LIMIT),
        "CDS_FEEDBACK_MAX_BODY_BYTES": str(FEEDBACK_LIMIT),
    }
    with served(env, log_path=log) as url:
        yield url
    assert "unhandled" not in log.read_text()  # no 500 of any kind was logged


def request_bytes(name: str = "01-crps-left-apixaban") -> bytes:
    return json.dumps(fixture_request(name)).encode()


def outcome_of(response: object, status: int) -> dict:
    code = getattr(response, "status", None) or getattr(response, "status_code", None)
    body = response.json()  # type: ignore[attr-defined]
    assert code == status, body
    assert body["resourceType"] == "OperationOutcome"
    return body


def expressions(body: dict) -> set[str]:
    return {e for issue in body["issue"] for e in issue.get("expression", [])}


# ----------------------------------------------------------------- chunked framing
def test_a_well_formed_chunked_call_gets_its_cards(small_limits: str) -> None:
    response = send(small_limits, SELECT, chunked(request_bytes(), size=1000))
    assert response.status == 200
    assert {card_kind(c) for c in response.json()["cards"]} == {"lsb-suggestion"}


@pytest.mark.parametrize("path", [SELECT, FEEDBACK])
@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(b"zz\r\n{}\r\n0\r\n\r\n", id="chunk-size-not-hex"),
        pytest.param(b"10\r\n{}\r\n0\r\n\r\n", id="chunk-shorter-than-said"),
        pytest.param(b"2\r\n{}XX0\r\n\r\n", id="chunk-without-terminator"),
    ],
)
def test_malformed_chunked_bodies_are_400(small_limits: str, path: str, framing: bytes) -> None:
    body = outcome_of(send(small_limits, path, framing), 400)
    assert "could not be read" in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "limit"), [(SELECT, HOOK_LIMIT), (FEEDBACK, FEEDBACK_LIMIT)]
)
def test_a_chunked_body_over_the_limit_is_413_not_cut_and_parsed(
    small_limits: str, path: str, limit: int
) -> None:
    # Valid JSON padded with spaces past the limit: cut at the limit it would parse and pass.
    valid = request_bytes() if path == SELECT else b'{"feedback": []}'
    assert len(valid) < limit
    padded = valid + b" " * (limit + 16 * 1024 - len(valid))
    outcome_of(send(small_limits, path, chunked(padded)), 413)
    # A body one byte under and exactly at the limit is read whole (and judged as JSON).
    for size in (limit - 1, limit):
        response = send(small_limits, path, chunked(valid + b" " * (size - len(valid))))
        assert response.status == (200 if path == SELECT else 400), response.body[:300]


@pytest.mark.parametrize("path", [SELECT, FEEDBACK])
def test_a_sized_body_over_the_limit_is_413(small_limits: str, path: str) -> None:
    data = b"[" + b" " * (HOOK_LIMIT + 10) + b"]"
    response = requests.post(
        small_limits + path, data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    outcome_of(response, 413)


# ----------------------------------------------------------------- strict JSON
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999999", "-1e999999"])
@pytest.mark.parametrize("path", [SELECT, FEEDBACK])
def test_numbers_json_does_not_have_are_400(small_limits: str, path: str, number: str) -> None:
    body = fixture_request("01-crps-left-apixaban") if path == SELECT else {"feedback": []}
    body["extension"] = {"x": "NUMBER"}
    data = json.dumps(body).replace('"NUMBER"', number)
    response = requests.post(
        small_limits + path, data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert "not valid JSON" in outcome_of(response, 400)["issue"][0]["diagnostics"]


def test_a_lone_surrogate_in_a_hook_call_is_400_naming_the_field(small_limits: str) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["context"]["userId"] = "SURROGATE"
    data = json.dumps(body).replace('"SURROGATE"', '"Practitioner/x\\udc00y"')
    response = requests.post(
        small_limits + SELECT, data=data, headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert expressions(outcome_of(response, 400)) == {"context.userId"}


# ----------------------------------------------------------------- methods and paths
@pytest.mark.parametrize("path", ["/cds-services/no-such-service",
                                  "/cds-services/no-such-service/feedback"])
def test_get_on_an_unknown_service_is_404(small_limits: str, path: str) -> None:
    outcome_of(requests.get(small_limits + path, timeout=30), 404)


@pytest.mark.parametrize("path", [SELECT, FEEDBACK])
def test_get_on_a_known_service_is_405_allowing_post(small_limits: str, path: str) -> None:
    response = requests.get(small_limits + path, timeout=30)
    outcome_of(response, 405)
    assert response.headers["Allow"] == "POST"


def test_a_wrong_prefetch_value_names_its_key(small_limits: str) -> None:
    body = fixture_request("01-crps-left-apixaban")
    body["prefetch"]["conditions"] = "oops"
    response = requests.post(small_limits + SELECT, json=body, timeout=30)
    assert expressions(outcome_of(response, 400)) == {"prefetch.conditions"}


# ----------------------------------------------------------------- text a database can store
def stored_comments(database_url: str) -> list[str | None]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(CardFeedback.user_comment)))
    finally:
        engine.dispose()


def test_a_lone_surrogate_in_a_feedback_comment_is_400_and_nothing_stored(
    database_url: str, tmp_path: Path
) -> None:
    with served({"CDS_DEV_MODE": "1", "CDS_DATABASE_URL": database_url},
                log_path=tmp_path / "service.log") as url:
        cards = requests.post(url + SELECT, json=fixture_request("01-crps-left-apixaban"),
                              timeout=30).json()["cards"]
        card = next(c for c in cards if card_kind(c) == "lsb-suggestion")
        item = {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-25T08:00:00Z",
            "overrideReason": {"userComment": "COMMENT"},
        }
        headers = {"Content-Type": "application/json"}

        def post(comment: str) -> requests.Response:
            data = json.dumps({"feedback": [item]}).replace('"COMMENT"', comment)
            return requests.post(url + FEEDBACK, data=data, headers=headers, timeout=30)

        for comment in ('"x\\ud800y"', '"x\\udfffy"', '"\\udc00\\ud800"'):
            assert expressions(outcome_of(post(comment), 400)) == {
                "feedback.0.overrideReason.userComment"
            }
        assert expressions(outcome_of(post('"x\\u0000y"'), 400)) == {
            "feedback.0.overrideReason.userComment"
        }
        assert stored_comments(database_url) == []
        # A real pair of surrogates is one character (U+1F600): stored as it was typed.
        assert post('"ok \\ud83d\\ude00"').json() == {"received": 1, "stored": 1}
        assert stored_comments(database_url) == ["ok \U0001f600"]
        assert "unhandled" not in (tmp_path / "service.log").read_text()
