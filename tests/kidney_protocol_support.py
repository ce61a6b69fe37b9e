"""A clinic protocol whose apixaban hold follows kidney function, for the kidney-hold tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from flask import Flask

from cds_service import create_app

from fixture_files import fixture_clock

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
