"""SQLite writers wait for another process's write lock in `time.sleep` (cooperative under
gevent), not inside SQLite's C busy handler, which stalled every connection of a worker."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from cds_service import db
from cds_service.db import make_engine


@pytest.fixture()
def engine_and_path(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "lock.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine, path


def holder(path: Path) -> sqlite3.Connection:
    """Another process's writer, holding the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_writer_waits_in_time_sleep_then_writes(
    engine_and_path: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, path = engine_and_path
    other = holder(path)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:
            other.execute("COMMIT")  # the other writer finishes

    monkeypatch.setattr(db.time, "sleep", sleep)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert pauses == [0.001, 0.002, 0.004, 0.008]  # backing off, in Python
    assert timeout == db.SQLITE_LOCK_WAIT_S * 1000  # restored for everything else
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t")).scalars().all() == [1]
    other.close()


def test_a_lock_never_released_fails_as_a_database_error(
    engine_and_path: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, path = engine_and_path
    other = holder(path)
    clock = iter(range(0, 10_000, 10))  # each look at the clock: 10 s later
    monkeypatch.setattr(db.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)
    # The error callers already handle (SQLAlchemy's), as SQLite's busy handler gave it.
    with pytest.raises(OperationalError, match="locked"), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    other.close()
