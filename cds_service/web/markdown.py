"""Card Markdown to safe HTML, as an EHR would show it.

A card's detail is text from a service (and, inside it, from a patient's record): it is
rendered with raw HTML off, then sanitised with an allow-list, so neither a service nor a
record can put a script, a style or a `javascript:` link into the page.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# GitHub-flavoured enough for cards (CDS Hooks 2.0 "detail"): tables and strikethrough.
_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def render_markdown(text: str) -> Markup:
    html = _MD.render(text or "")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return Markup(clean)  # safe: sanitised just above
