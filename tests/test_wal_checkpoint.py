"""SQLite's write-ahead log is checkpointed beside the workers' loops when serving: connections
never checkpoint on commit, a native thread does it, and the log starts again."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, text
from wal_support import checkpoint_sequence, log_pages

from cds_service.db import make_engine
from cds_service.db.wal_checkpoint import WalCheckpointer, serving_checkpointer
from cds_service.testing import served

from fixture_files import fixture_request


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER, pad TEXT)"))
    return engine


def _write(engine: Engine, rows: int = 50) -> None:
    with engine.begin() as connection:
        rows_given = [{"n": n, "pad": "x" * 500} for n in range(rows)]
        connection.execute(text("INSERT INTO t VALUES (:n, :pad)"), rows_given)


def test_a_serving_engine_leaves_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "db.sqlite3")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    checkpointer = serving_checkpointer(engine)
    assert checkpointer is not None and checkpointer.path == str(tmp_path / "db.sqlite3")
    engine.dispose()  # workers open their connections after this
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://cds@127.0.0.1/cds"]
)
def test_no_checkpointer_off_a_sqlite_file(url: str) -> None:
    assert serving_checkpointer(create_engine(url)) is None


def test_a_checkpoint_copies_the_log_back_and_the_log_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    engine = _engine(path)
    serving_checkpointer(engine)
    engine.dispose()
    for _ in range(5):
        _write(engine)
    checkpointer = WalCheckpointer(str(path))
    busy, pages, copied = checkpointer.checkpoint()
    assert busy == 0 and pages > 5 and copied == pages
    assert checkpoint_sequence(path) == 0
    _write(engine)  # the next writer starts the log from its beginning
    assert checkpoint_sequence(path) == 1
    busy, after, copied = checkpointer.checkpoint()
    assert busy == 0 and 0 < after < pages and copied == after


def test_a_checkpoint_behind_a_long_read_gives_up_and_succeeds_later(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    engine = _engine(path)
    serving_checkpointer(engine)
    engine.dispose()
    _write(engine)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()  # a read of the log's pages, still open
    _write(engine)  # a commit the reader's snapshot does not include
    checkpointer = WalCheckpointer(str(path))
    assert checkpointer.checkpoint()[0] == 1  # busy: not finished, nothing raised
    reader.execute("COMMIT")
    busy, pages, copied = checkpointer.checkpoint()
    assert busy == 0 and copied == pages > 0


def test_a_failing_checkpoint_is_reported_once_and_never_raises(tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(tmp_path))  # a folder: SQLite cannot open it
    assert checkpointer.run_once() == "OperationalError"
    assert checkpointer.run_once() is None  # still failing: said once
    checkpointer.path = str(tmp_path / "db.sqlite3")
    _engine(Path(checkpointer.path))
    assert checkpointer.run_once() is None and not checkpointer.failing
    assert checkpointer._connection is not None
    checkpointer._connection.close()  # e.g. the file went away under it
    assert checkpointer.run_once() == "ProgrammingError"  # failing again after a success: said
    assert checkpointer.run_once() is None and not checkpointer.failing  # a fresh connection


def test_the_checkpointer_runs_in_a_thread_of_its_own(tmp_path: Path) -> None:
    ran = threading.Event()
    where: list[int] = []

    class Recording(WalCheckpointer):
        def checkpoint(self) -> tuple[int, int, int]:
            where.append(threading.get_native_id())
            ran.set()
            return super().checkpoint()

    path = tmp_path / "db.sqlite3"
    _engine(path)
    Recording(str(path), interval=0.01).start()
    assert ran.wait(timeout=30)
    assert where[0] != threading.get_native_id()


@pytest.mark.slow
def test_a_served_worker_checkpoints_the_log_before_sqlite_would() -> None:
    """Through `cds-service serve`: the log starts again while it is still far below the
    1,000 pages at which SQLite would checkpoint inside a commit on the worker's loop."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "served.sqlite3"
        env = {"CDS_DEV_MODE": "1", "CDS_DATABASE_URL": f"sqlite:///{path}", "CDS_SANDBOX": "0"}
        body = fixture_request("01-crps-left-apixaban")
        with served(env) as url:
            call = f"{url}/cds-services/lsb-order-select"
            while checkpoint_sequence(path) == 0:
                assert log_pages(path) < 900, "the log was not checkpointed beside the loop"
                response = requests.post(call, json=body, timeout=10)
                assert response.status_code == 200
                time.sleep(0.05)
