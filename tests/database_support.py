"""A PostgreSQL cluster of a test module's own, to stop and start (an outage) or to make
refuse a login without disturbing the session's cluster; and the service's commands run as
an operator runs them (a subprocess, production settings)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_fixtures import backends
from jwt_helpers import PUBLIC_URL, TestIssuer, write_trusted_clients
from pg_cluster import PgCluster

CLOSED_PORT_URL = "postgresql://cds:closed-port-pw-123@127.0.0.1:1/cds?connect_timeout=5"


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PgCluster]:
    if "postgres" not in backends():
        pytest.skip("CDS_TEST_DATABASE excludes PostgreSQL")
    cluster = PgCluster.start()
    yield cluster
    cluster.stop()


def production_env(folder: Path, database_url: str) -> dict[str, str]:
    """What a deployment sets: trusted clients, public URL, patient-key secret, database."""
    trusted = write_trusted_clients(folder / "trusted.yaml", TestIssuer().entry())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    return {
        **env,
        "CDS_TRUSTED_CLIENTS": str(trusted),
        "CDS_PUBLIC_URL": PUBLIC_URL,
        "CDS_PATIENT_KEY_SECRET": "x" * 40,
        "CDS_DATABASE_URL": database_url,
    }


def run_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cds_service.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
