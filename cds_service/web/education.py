"""Patient-education pages, linked from the suggestion card. Content lives in cards/education/.

A page may say `{{ clinic }}` where patients are told whom to call: it becomes "your clinic on
**<number>**" with the deployment's CDS_CLINIC_PHONE, or "your clinic" without one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from cards.clinician import clinician_markdown
from cards.render import CARDS_DIR, escape_markdown
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
CLINIC = "{{ clinic }}"


def _markdown() -> MarkdownIt:
    # Our own reviewed content, but rendered with raw HTML off all the same.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def clinic_words(phone: str | None) -> str:
    return f"your clinic on **{escape_markdown(phone)}**" if phone else "your clinic"



@cache
def page_text(topic: str, phone: str | None = None) -> str | None:
    """The page's Markdown with the clinic filled in; None for an unknown topic."""
    path = EDUCATION_DIR / f"{topic}.md"
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").replace(CLINIC, clinic_words(phone))


@cache
def page(topic: str, phone: str | None = None) -> tuple[str, Markup] | None:
    text = page_text(topic, phone)
    if text is None:
        return None
    title = text.splitlines()[0].lstrip("# ").strip()
    return title, Markup(_markdown().render(text))


def _plain(inline: Token) -> str:
    """The words of an inline token: text and code, no markup, no link targets."""
    parts = [
        c.content if c.type in ("text", "code_inline") else " " if "break" in c.type else ""
        for c in inline.children or ()
    ]
    return " ".join("".join(parts).split())


def page_sections(topic: str, phone: str | None = None) -> list[tuple[str, str]]:
    """(heading, plain text) per `##` section, the text before the first under the title;
    each paragraph and list item ends as a sentence, as a reader takes it (reading grades)."""
    sections: list[tuple[str, list[str]]] = []
    heading: str | None = None
    tokens = _markdown().parse(page_text(topic, phone) or "")
    for n, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            heading = tokens[n + 1].content
            sections.append((heading, []))
        elif token.type == "inline" and tokens[n - 1].type != "heading_open" and sections:
            words = _plain(token)
            sections[-1][1].append(words if words[-1:] in ".!?:" else words + ".")
    return [(title, " ".join(parts)) for title, parts in sections]


@cache
def clinician_page(topic: str) -> tuple[str, Markup] | None:
    text = clinician_markdown(topic)
    if text is None:
        return None
    title = text.splitlines()[0].lstrip("# ").strip()
    return title, Markup(_markdown().render(text))


@bp.get("/education/<topic>")
def education(topic: str) -> str:
    phone = current_app.config["CDS_SETTINGS"].clinic_phone
    if not topic.replace("-", "").isalnum() or (found := page(topic, phone)) is None:
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
