"""A fresh clone holds everything the product uses, and its documents speak of the product."""

from __future__ import annotations

import re
import subprocess

import pytest

from fixture_files import ROOT

ABSOLUTE_MACHINE_PATH = re.compile(r"(?<![\w.])/(work|root|home|Users|tmp)/[\w.-]+/")
WORK_TALK = re.compile(r"\bissue \d+\b|\bthe brief\b", re.IGNORECASE)


def tracked(*patterns: str) -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True,
            check=True, timeout=60,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in listed if (ROOT / name).is_file()]


def test_no_file_points_at_a_folder_of_one_machine() -> None:
    offenders = [
        f"{name}: {match.group(0)}"
        for name in tracked("*.py", "*.md", "*.yaml", "*.cfg", "*.toml", "Makefile", "*.mjs")
        if not name.startswith("tests/")  # tests may name temporary folders
        for match in [ABSOLUTE_MACHINE_PATH.search((ROOT / name).read_text(encoding="utf-8"))]
        if match
    ]
    assert offenders == []


def test_documents_describe_the_product_not_how_it_was_made() -> None:
    offenders = [
        f"{name}: {match.group(0)}"
        for name in tracked("*.md")
        for match in [WORK_TALK.search((ROOT / name).read_text(encoding="utf-8"))]
        if match
    ]
    assert offenders == []
