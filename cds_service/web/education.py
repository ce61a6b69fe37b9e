"""Patient-education pages, linked from the suggestion card. Content lives in cards/education/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, abort, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from cards.clinician import clinician_markdown
from cards.render import CARDS_DIR
from cds_service.web.security import page_headers

bp = Blueprint(
    "education",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/education/static",
)
bp.after_request(page_headers)
EDUCATION_DIR = Path(CARDS_DIR) / "education"


def _html(text: str) -> tuple[str, Markup]:
    title = text.splitlines()[0].lstrip("# ").strip()
    # Our own reviewed content, but rendered with raw HTML off all the same.
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return title, Markup(html)


@cache
def page(topic: str) -> tuple[str, Markup] | None:
    path = EDUCATION_DIR / f"{topic}.md"
    if not path.is_file():
        return None
    return _html(path.read_text(encoding="utf-8"))


@cache
def clinician_page(topic: str) -> tuple[str, Markup] | None:
    text = clinician_markdown(topic)
    return _html(text) if text is not None else None


@bp.get("/education/<topic>")
def education(topic: str) -> str:
    if not topic.replace("-", "").isalnum() or (found := page(topic)) is None:
        abort(404, "No such patient-information page.")
    title, html = found
    return render_template("education.html", title=title, body=html)


@bp.get("/education/<topic>/clinicians")
def clinicians(topic: str) -> str:
    """What the cards leave out: procedure, bleeding-risk class, hold rules, coordination."""
    if not topic.replace("-", "").isalnum() or (found := clinician_page(topic)) is None:
        abort(404, "No such clinician-information page.")
    title, html = found
    return render_template("education.html", title=title, body=html)
