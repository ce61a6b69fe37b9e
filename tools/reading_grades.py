"""Prints the reading grade of each section of a patient page (`make reading-grades`).

    .venv/bin/python tools/reading_grades.py [topic] [--markdown FILE]

Flesch-Kincaid grade (the US school grade; the page aims at 8 or below, as the test checks),
with SMOG and Dale-Chall for a second opinion, from `textstat` (the test extra). `--markdown`
measures another file the same way, e.g. an earlier version of the page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import textstat

from cds_service.web import education

GOAL = 8.0  # grade: the US reading level most health-literacy guidance asks for at most


def grades(text: str) -> dict[str, float]:
    return {
        "flesch_kincaid": textstat.flesch_kincaid_grade(text),
        "smog": textstat.smog_index(text),
        "dale_chall": textstat.dale_chall_readability_score(text),
    }


def measure(topic: str) -> list[tuple[str, int, dict[str, float]]]:
    return [
        (title, textstat.lexicon_count(text), grades(text))
        for title, text in education.page_sections(topic)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", nargs="?", default="lumbar-sympathetic-block")
    parser.add_argument("--markdown", type=Path, help="measure this file instead")
    args = parser.parse_args(argv)
    topic = args.topic
    if args.markdown:
        folder = Path(tempfile.mkdtemp())
        shutil.copy(args.markdown, folder / "page.md")
        education.EDUCATION_DIR, topic = folder, "page"
    rows = measure(topic)
    if not rows:
        print(f"no page {topic!r}", file=sys.stderr)
        return 1
    print(f"{'section':<34} {'words':>5} {'FK grade':>8} {'SMOG':>5} {'Dale-Chall':>10}")
    for title, words, g in rows:
        mark = "" if g["flesch_kincaid"] <= GOAL else "  above grade 8"
        print(
            f"{title[:34]:<34} {words:>5} {g['flesch_kincaid']:>8.1f} {g['smog']:>5.1f} "
            f"{g['dale_chall']:>10.1f}{mark}"
        )
    whole = " ".join(text for _, text in education.page_sections(topic))
    total = grades(whole)
    print(
        f"{'whole page':<34} {textstat.lexicon_count(whole):>5} {total['flesch_kincaid']:>8.1f} "
        f"{total['smog']:>5.1f} {total['dale_chall']:>10.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
