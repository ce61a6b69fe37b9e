"""The health probes, on both database backends: ready with a database, not ready without;
and the read-only transactions they (and other lookups) use."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from cds_service.db import make_engine, reader


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


def test_a_read_only_transaction_takes_no_write_lock_on_sqlite(tmp_path: Path) -> None:
    """While another connection holds SQLite's write lock, a `reader` transaction reads at
    once, where a writing one would queue behind it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    try:
        with engine.begin() as writer:
            writer.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock
            writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            with reader(engine).connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
            # A writer would have to wait (timeout 0: fail at once instead).
            blocked = sqlite3.connect(tmp_path / "lock.sqlite3", timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                blocked.execute("BEGIN IMMEDIATE")
            blocked.close()
    finally:
        engine.dispose()
