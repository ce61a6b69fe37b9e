#!/usr/bin/env python3
"""Word counts per card kind over the fixture patients: how much a clinician has to read.

    .venv/bin/python tools/card_words.py [FIXTURES_DIR]

Posts every fixture request to the service (in-process, development mode) and counts the words
of each card's summary and detail (Markdown markup removed). Prints, per card kind, how many
cards the fixtures produce and the smallest, median and largest word count of their detail,
and of summary and detail together.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKUP = re.compile(r"[*_`#>|\\]|\]\([^)]*\)|\[")
WORD = re.compile(r"[\w’'.,;:/()%–-]*\w[\w’'.,;:/()%–-]*")


def words(markdown: str) -> int:
    return len(WORD.findall(MARKUP.sub(" ", markdown)))


def count(fixtures: Path) -> dict[str, list[tuple[int, int]]]:
    from cds_service import create_app, services

    app = create_app(dev_mode=True, database_url=f"sqlite:///{tempfile.mkdtemp()}/words.db")
    # The fixture patients' day (tests/fixture_files.py), so the counts do not drift.
    app.extensions["cds_clock"] = lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    client = app.test_client()
    service_of_hook = {service.hook: service.id for service in services.ALL}
    per_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for path in sorted((fixtures / "requests").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        response = client.post(f"/cds-services/{service_of_hook[body['hook']]}", json=body)
        for card in (response.get_json() or {}).get("cards", []):
            detail = words(card.get("detail", ""))
            per_kind[card["source"]["topic"]["code"]].append(
                (detail, detail + words(card["summary"]))
            )
    app.extensions["cds_db"].dispose()
    return per_kind


def main() -> int:
    fixtures = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fixtures"
    os.environ.setdefault("CDS_DEV_MODE", "1")
    per_kind = count(fixtures)
    print(f"{'card kind':<28}{'cards':>6}  {'detail min/median/max':>22}  {'with summary':>14}")
    for kind in sorted(per_kind):
        found = per_kind[kind]
        detail = sorted(d for d, _ in found)
        total = sorted(t for _, t in found)
        print(
            f"{kind:<28}{len(found):>6}  "
            f"{detail[0]:>6} /{statistics.median(detail):>6g} /{detail[-1]:>6}  "
            f"{total[0]:>4} /{statistics.median(total):>4g} /{total[-1]:>4}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
