"""The health probes, on both database backends: ready with a database, not ready without."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from cds_service.db import make_engine


def test_readyz_is_ready_with_its_database(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    response = make_app(dev_mode=True, database_url=database_url).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "knowledge": "ok"}}


def test_readyz_fails_when_the_database_is_down(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    app = make_app(dev_mode=True, database_url=database_url)
    # The same backend at an address nothing answers on: the database is down.
    if database_url.startswith("sqlite"):
        down = "sqlite:////nonexistent-folder/cds.sqlite3"
    else:
        down = "postgresql+psycopg://cds@127.0.0.1:1/cds?connect_timeout=2"
    app.extensions["cds_db"].dispose()
    app.extensions["cds_db"] = make_engine(down)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {
        "status": "not ready", "checks": {"database": "unavailable", "knowledge": "ok"}
    }
    assert "nonexistent" not in response.get_data(as_text=True)
    assert app.test_client().get("/healthz").status_code == 200  # up, just not ready
