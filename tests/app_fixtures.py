"""Fixtures for apps that trust signed tokens, and for the database backends.

Imported by conftest.py. Tests choose:

- `make_app(**settings)`: an app NOT in development mode, with CDS_PUBLIC_URL = PUBLIC_URL and
  a fresh SQLite file unless `database_url=` says otherwise; its engine is closed afterwards.
- `secure_app`: such an app trusting `issuer` (a TestIssuer) via a trusted-clients file.
- `database_url`: a fresh empty database, once per backend: SQLite, and PostgreSQL on a
  throwaway cluster (tests/pg_cluster.py). CDS_TEST_DATABASE=sqlite or =postgres runs one only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jwt_helpers import PUBLIC_URL, TestIssuer, write_trusted_clients
from pg_cluster import PgCluster

from cds_service import create_app

BACKENDS = ("sqlite", "postgres")


def backends() -> list[str]:
    choice = os.environ.get("CDS_TEST_DATABASE", "all").strip().lower()
    if choice in ("", "all"):
        return list(BACKENDS)
    if choice not in BACKENDS:
        raise pytest.UsageError(f"CDS_TEST_DATABASE must be sqlite, postgres or all: {choice!r}")
    return [choice]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cds.sqlite3'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture()
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        overrides.setdefault("dev_mode", False)
        overrides.setdefault("public_url", PUBLIC_URL)
        overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'cds.sqlite3'}")
        app = create_app(**overrides)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["cds_db"].dispose()


@pytest.fixture()
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture()
def trusted_file(tmp_path: Path, issuer: TestIssuer) -> Path:
    return write_trusted_clients(tmp_path / "trusted-clients.yaml", issuer.entry())


@pytest.fixture()
def secure_app(make_app: Callable[..., Flask], trusted_file: Path) -> Flask:
    return make_app(trusted_clients=str(trusted_file))
