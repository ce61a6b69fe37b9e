"""Saves a screenshot of the sandbox with fixture 01's cards (the README's docs/sandbox.png).

Usage: python tools/sandbox_screenshot.py [OUT.png] [FIXTURE]   (`make screenshot`)
Starts the service on a loopback port and drives Debian's headless Chromium. OUT is left as it
is when the new picture differs only in what changes on every run (the latency of the call), so
the tracked picture changes only when something visible did.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw
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
        picture = page.screenshot(
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1440, "height": height},
        )
        varying = page.locator("#call-status").bounding_box()  # "HTTP 200 · 38 ms · 2 cards"
        browser.close()
    box = None
    if varying is not None:
        x, y = varying["x"], varying["y"]
        box = (x, y, x + varying["width"], y + varying["height"])
    if target.exists() and same_picture(target.read_bytes(), picture, box):
        print(f"unchanged {target} (nothing visible changed)")
        return 0
    target.write_bytes(picture)
    print(f"saved {target}")
    return 0


def same_picture(old: bytes, new: bytes, ignore: tuple[float, ...] | None) -> bool:
    """Same size and the same pixels, but inside `ignore` (x0, y0, x1, y1)."""
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in (old, new)]
    if images[0].size != images[1].size:
        return False
    if ignore is not None:
        for image in images:
            ImageDraw.Draw(image).rectangle(ignore, fill="black")
    return ImageChops.difference(*images).getbbox() is None


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
