"""Card content: wording, links and override reasons as data (YAML + Jinja), and its renderer."""

from cards.render import render_card

__all__ = ["render_card"]
