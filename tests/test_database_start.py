"""A database that cannot be used at start: one line on stderr naming it (never its password),
exit status 2, for `serve` and for `db upgrade`; on a real PostgreSQL refusing the password,
and on a port where nothing listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from database_support import CLOSED_PORT_URL, production_env, run_command
from pg_cluster import PgCluster

PASSWORD = "right-pw-0123456789"
WRONG = "wrong-pw-9876543210"


@pytest.fixture(scope="module")
def wrong_password_url(own_cluster: PgCluster) -> str:
    return own_cluster.add_login("cds_login", PASSWORD).replace(PASSWORD, WRONG)


COMMANDS = {
    "serve": ["serve", "--port", "0", "--metrics-port", "0"],
    "db upgrade": ["db", "upgrade"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("problem", ["wrong password", "closed port"])
def test_a_database_that_cannot_be_used_stops_start_up_in_one_line(
    tmp_path: Path, wrong_password_url: str, command: str, problem: str
) -> None:
    url = wrong_password_url if problem == "wrong password" else CLOSED_PORT_URL
    result = run_command(COMMANDS[command], production_env(tmp_path, url))
    # The start log's own lines (timestamped records) may come first; the refusal is one line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    refusal = [line for line in lines if not line.startswith("[")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(refusal) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) <= 3, result.stderr[-3000:]  # no noise: at most the trust line before it
    assert "cannot be used" in refusal[0]
    expected = "password authentication failed" if problem == "wrong password" else "refused"
    assert expected in refusal[0]
    for secret in (WRONG, PASSWORD, "closed-port-pw-123"):
        assert secret not in result.stderr + result.stdout


def test_the_same_login_with_its_password_starts(tmp_path: Path, own_cluster: PgCluster) -> None:
    """The refusal above is the password's: given it, the schema is created."""
    url = own_cluster.add_login("cds_ok", PASSWORD)
    result = run_command(["db", "upgrade"], production_env(tmp_path, url))
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
