"""Every CDS_* variable the code reads is in the settings table of docs/deploying.md, and every
override reason a card offers is in docs/override-reasons.md, as the templates say it."""

from __future__ import annotations

import re

from fixture_files import ROOT

READS = re.compile(
    r"""(?:environ(?:\.get)?\(\s*|environ\[\s*|\b_(?:int|flag|list|number|instant)\(\s*)"""
    r"""["'](CDS_[A-Z0-9_]+)["']"""
)


def variables_read() -> set[str]:
    return {
        name
        for path in (ROOT / "cds_service").rglob("*.py")
        for name in READS.findall(path.read_text(encoding="utf-8"))
    }


def settings_table() -> set[str]:
    text = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(CDS_[A-Z0-9_]+)`", section, re.MULTILINE))


def test_every_variable_the_code_reads_is_in_the_settings_table() -> None:
    read = variables_read()
    assert len(read) > 30  # the search finds the settings (config.py, cli.py, ...)
    assert sorted(read - settings_table()) == []


def test_the_settings_table_lists_nothing_the_code_does_not_read() -> None:
    assert sorted(settings_table() - variables_read()) == []


def test_the_override_reasons_doc_is_generated_from_the_templates() -> None:
    """docs/override-reasons.md lists every card's reasons as the templates offer them; after
    changing a template, run tools/override_reasons.py."""
    import runpy

    tool = runpy.run_path(str(ROOT / "tools" / "override_reasons.py"))
    expected = tool["render"]()
    assert (ROOT / "docs" / "override-reasons.md").read_text(encoding="utf-8") == expected
    assert "`patient-declines`" in expected and "`checked-manually`" in expected


def test_the_readmes_replay_of_every_fixture_allows_the_designed_412() -> None:
    """Fixture 25 answers 412 by design: replaying the whole folder as the README shows must
    not end in exit status 1."""
    import json

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected_412 = [
        p.stem for p in (ROOT / "fixtures" / "expected").glob("*.json")
        if json.loads(p.read_text(encoding="utf-8")).get("status") == 412
    ]
    assert expected_412  # else the note and the flag are no longer needed
    [line] = [x for x in readme.splitlines() if "replay" in x and "fixtures/requests/ " in x]
    assert "--allow-errors" in line
    assert all(f"fixture {name[:2]}" in readme for name in expected_412)
