"""Patient-education pages, linked from the suggestion card. Content lives in cards/education/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, abort, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from cards.render import CARDS_DIR

bp = Blueprint(
    "education",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/education/static",
)
EDUCATION_DIR = Path(CARDS_DIR) / "education"


@cache
def page(topic: str) -> tuple[str, Markup] | None:
    path = EDUCATION_DIR / f"{topic}.md"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    title = text.splitlines()[0].lstrip("# ").strip()
    # Our own reviewed content, but rendered with raw HTML off all the same.
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return title, Markup(html)


@bp.get("/education/<topic>")
def education(topic: str) -> str:
    if not topic.replace("-", "").isalnum() or (found := page(topic)) is None:
        abort(404, "No such patient-information page.")
    title, html = found
    return render_template("education.html", title=title, body=html)
