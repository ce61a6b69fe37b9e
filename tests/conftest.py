"""Shared test set-up: the app, its client, the fixture patients, a real server on loopback."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_fixtures import (  # noqa: F401  (fixtures for signed calls and database backends)
    database_url,
    issuer,
    make_app,
    pg_cluster,
    secure_app,
    trusted_file,
)
from database_support import own_cluster  # noqa: F401  (a cluster to stop and start)
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.testing import served

from fixture_files import FIXTURE_NOW, fixture_clock

QUIETING_TEST_SECRET = "test-suite-secret-0123456789abcdef0123456789"

_DEFAULT_DB_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Apps that do not choose a database (the dev-mode `app`, the live server) get a
    throwaway SQLite file, never the working tree's instance/ folder."""
    global _DEFAULT_DB_DIR
    if "CDS_DATABASE_URL" not in os.environ:
        _DEFAULT_DB_DIR = tempfile.mkdtemp(prefix="cds-test-db-")
        os.environ["CDS_DATABASE_URL"] = f"sqlite:///{_DEFAULT_DB_DIR}/default.sqlite3"
    # Apps outside development mode need a patient-key secret (quieting); a test's own.
    os.environ.setdefault("CDS_PATIENT_KEY_SECRET", QUIETING_TEST_SECRET)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _DEFAULT_DB_DIR:
        os.environ.pop("CDS_DATABASE_URL", None)
        shutil.rmtree(_DEFAULT_DB_DIR, ignore_errors=True)


@pytest.fixture()
def app() -> Flask:
    return create_app(dev_mode=True, clock=fixture_clock)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def live_server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live") / "service.log"


@pytest.fixture(scope="session")
def live_server(live_server_log: Path) -> Iterator[str]:
    """The real service under gunicorn on a loopback port, as `make run` starts it."""
    # The fixtures' stated time: the booking fixtures' cards depend on when they are called.
    env = {"CDS_DEV_MODE": "1", "CDS_FIXED_NOW": FIXTURE_NOW.isoformat()}
    with served(env, log_path=live_server_log) as url:
        yield url
