"""Shared test set-up: the app, its client, the fixture patients, a real server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
import requests
from app_fixtures import (  # noqa: F401  (fixtures for signed calls and database backends)
    database_url,
    issuer,
    make_app,
    pg_cluster,
    secure_app,
    trusted_file,
)
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app

_DEFAULT_DB_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Apps that do not choose a database (the dev-mode `app`, the live server) get a
    throwaway SQLite file, never the working tree's instance/ folder."""
    global _DEFAULT_DB_DIR
    if "CDS_DATABASE_URL" not in os.environ:
        _DEFAULT_DB_DIR = tempfile.mkdtemp(prefix="cds-test-db-")
        os.environ["CDS_DATABASE_URL"] = f"sqlite:///{_DEFAULT_DB_DIR}/default.sqlite3"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _DEFAULT_DB_DIR:
        os.environ.pop("CDS_DATABASE_URL", None)
        shutil.rmtree(_DEFAULT_DB_DIR, ignore_errors=True)


@pytest.fixture()
def app() -> Flask:
    return create_app(dev_mode=True)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The real service under gunicorn on a loopback port, as `make run` starts it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve", "--port", str(port), "--workers", "1"],
        env={**__import__("os").environ, "CDS_DEV_MODE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/cds-services", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the service did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
