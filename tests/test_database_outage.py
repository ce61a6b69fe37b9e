"""The database goes down while the service runs, then comes back (a real PostgreSQL stopped
and started): signed calls fail closed with 503 and Retry-After, since no token's `jti` can be
checked against replay; unsigned development-mode calls still get their cards; once the
database is back the next call succeeds with no restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from jwt_helpers import PUBLIC_URL, TestIssuer
from pg_cluster import PgCluster

from fixture_files import fixture_clock, fixture_request

SELECT = "/cds-services/lsb-order-select"


@pytest.fixture()
def outage(own_cluster: PgCluster) -> Iterator[Callable[[], None]]:
    """Stops the module's PostgreSQL when called; it is running again after the test."""
    yield own_cluster.pause
    if not own_cluster.running:
        own_cluster.resume()


def kinds(response: object) -> list[str]:
    return sorted(c["source"]["topic"]["code"] for c in response.get_json()["cards"])  # type: ignore[attr-defined]


def test_signed_calls_get_503_with_retry_after_and_recover_by_themselves(
    make_app: Callable[..., Flask],
    trusted_file: object,
    issuer: TestIssuer,
    own_cluster: PgCluster,
    outage: Callable[[], None],
) -> None:
    app = make_app(
        trusted_clients=str(trusted_file), database_url=own_cluster.create_database(),
        clock=fixture_clock,
    )
    client = app.test_client()
    body = fixture_request("01-crps-left-apixaban")

    def signed_call() -> object:
        return client.post(SELECT, json=body, headers=issuer.auth(PUBLIC_URL + SELECT))

    before = signed_call()
    assert before.status_code == 200  # type: ignore[attr-defined]

    outage()
    during = signed_call()
    assert during.status_code == 503  # type: ignore[attr-defined]
    assert during.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    outcome = during.get_json()  # type: ignore[attr-defined]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"

    own_cluster.resume()
    after = signed_call()
    assert after.status_code == 200  # type: ignore[attr-defined]
    assert kinds(after) == kinds(before)
    assert client.get("/readyz").status_code == 200


def test_development_mode_calls_still_get_their_cards_while_the_database_is_down(
    make_app: Callable[..., Flask], own_cluster: PgCluster, outage: Callable[[], None]
) -> None:
    """No token to check: the quieting lookup and the issued-card record fail, the cards
    (safety cards included) are still answered."""
    app = make_app(dev_mode=True, database_url=own_cluster.create_database(), clock=fixture_clock)
    client = app.test_client()
    body = fixture_request("01-crps-left-apixaban")
    before = client.post(SELECT, json=body)
    outage()
    during = client.post(SELECT, json=body)
    assert during.status_code == 200
    assert kinds(during) == kinds(before)
