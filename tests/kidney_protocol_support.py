"""A clinic protocol whose apixaban hold follows kidney function, for the kidney-hold tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from pathway_support import add, post, request, text

from cds_service import create_app

from fixture_files import fixture_clock

APIXABAN_SIGN = "67-lsb-sign-apixaban-creatinine-clearance"  # creatinine clearance 38 mL/min
APIXABAN = "1364430"  # ingredient RxCUI, as docs/examples/local-protocol.yaml lists it


def kidney_protocol(folder: Path, *rules: dict[str, object], usual: int = 72) -> Path:
    """A protocol file: apixaban held `usual` hours, longer below each rule's limit."""
    path = folder / "protocol.yaml"
    doc = {
        "name": "Kidney test protocol",
        "version": "1",
        "approved_by": "Test committee",
        "approved_on": date(2026, 5, 1),
        "drugs": [
            {
                "rxnorm": APIXABAN,
                "hold_before_hours": usual,
                "restart_after_hours": 24,
                "kidney_function": list(rules),
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def app_with(protocol: Path) -> Flask:
    return create_app(dev_mode=True, local_protocol=str(protocol), clock=fixture_clock)


def apixaban_line(card: dict[str, Any]) -> str:
    return next(x for x in text(card).splitlines() if x.startswith("- **Apixaban**"))


def hold_line(protocol: Path, *results: dict[str, Any]) -> str:
    """Apixaban's line on the bleeding card of fixture 67 with only these lab results."""
    body = request(APIXABAN_SIGN)
    body["prefetch"]["observations"] = None
    for result in results:
        add(body, "observations", result)
    client = app_with(protocol).test_client()
    return apixaban_line(post(client, body)["lsb-bleeding-risk"])
