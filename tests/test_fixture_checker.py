"""fixtures/check_fixtures.py passes on the repository's own fixtures, with the repository's own
value sets and knowledge: a fresh clone holds everything it checks against."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fixture_files import FIXTURES, ROOT

pytestmark = pytest.mark.slow


def test_the_fixture_checker_passes_with_what_the_repository_holds() -> None:
    result = subprocess.run(
        [sys.executable, str(FIXTURES / "check_fixtures.py")],
        capture_output=True, text=True, timeout=300, cwd="/",  # no reliance on the working folder
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert "R4B validation on" in last and last.endswith(": OK")
    assert f"code check on ({ROOT / 'cds_service' / 'knowledge' / 'valuesets'})" in last
