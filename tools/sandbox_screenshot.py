"""Saves a screenshot of the sandbox with fixture 01's cards (the README's docs/sandbox.png).

Usage: python tools/sandbox_screenshot.py [OUT.png] [FIXTURE]   (`make screenshot`)
Starts the service on a loopback port and drives Debian's headless Chromium.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from cds_service.testing import served

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import launch_chromium  # noqa: E402  (the tests' own launcher)


def main(out: str = "docs/sandbox.png", fixture: str = "01-crps-left-apixaban") -> int:
    target = ROOT / out
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        served({"CDS_DEV_MODE": "1", "CDS_DATABASE_URL": f"sqlite:///{tmp}/cds.sqlite3"}) as url,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
        page.goto(f"{url}/sandbox?patient={fixture}")
        page.click("#fire")
        page.wait_for_selector("#cards .card")
        layout = page.locator("main.layout").bounding_box()
        assert layout is not None
        height = layout["y"] + layout["height"]
        page.screenshot(
            path=str(target),
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1440, "height": height},
        )
        browser.close()
    print(f"saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
