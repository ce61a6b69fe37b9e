"""Renders a CardDecision into a CDS Hooks card from the YAML template of its kind.

Templates are Jinja producing GitHub Markdown. Text that comes from a patient's record goes
through the `md` filter, which escapes Markdown and HTML, so a record cannot inject a link,
an image or markup into a card.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import MutableMapping
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from cards.reasons import list_name, reason_words, source_name
from cds_service.decisions import CardDecision
from cds_service.facts.dosage import Dose
from cds_service.knowledge import Interval
from cds_service.metrics import CARD_RENDER_FAILURES

log = logging.getLogger(__name__)
CARDS_DIR = Path(__file__).parent
SUMMARY_LIMIT = 140  # characters, CDS Hooks 2.0 "Card Attributes"
# Inline record text: these characters could start emphasis, a link, an image, HTML, a table
# cell or an autolink (`:` before `/`, as in `https://`). Record text never starts a line, so
# `-` and `.` stay; `(`, `)` and other colons stay too: with `[`, `]` and `<` escaped they start
# nothing, and a card read as plain text must not fill with backslashes.
BLANK_LINES = re.compile(r"\n{3,}")  # what a template's skipped lines leave behind
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#+!|<>&~]|:(?=/))")


def escape_markdown(value: Any) -> str:
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


class CardEnvironment(jinja2.Environment):
    """Templates see the environment's globals as one flat dict, fixed once the environment is
    built. Jinja's default, a ChainMap over them, is copied into a new dict at every render: a
    tenth of a card's rendering time."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def _environment() -> jinja2.Environment:
    env = CardEnvironment(
        loader=jinja2.FileSystemLoader(CARDS_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # the output is Markdown, escaped by the `md` filter
        auto_reload=False,  # templates change with a release, not while serving
        extensions=["jinja2.ext.do"],
    )
    env.filters["md"] = escape_markdown
    env.filters["system_name"] = lambda uri: common()["system_names"].get(uri, uri)
    env.filters["interval"] = interval_words
    env.filters["dose"] = dose_words
    env.filters["day"] = lambda d: f"{d:%A} {d.day} {d:%B %Y}"  # Saturday 5 December 2026
    env.filters["day_short"] = lambda d: f"{d:%a} {d.day} {d:%b %Y}"  # Sat 5 Dec 2026
    env.filters["clock"] = lambda t: f"{t:%H:%M}"
    env.filters["utc_offset"] = utc_offset
    env.filters["names_within"] = names_within
    env.filters["reason"] = reason_words
    env.filters["list_name"] = list_name
    env.filters["source_name"] = source_name
    env.globals["wording"] = lambda: common()
    return env


def interval_words(interval: Interval, when: bool = True) -> str:
    """`Interval(12, "h", high=24)` -> "12 to 24 hours"; the words are in common.yaml. `when`
    adds the dose it applies to: "24 hours (therapeutic dose)"."""
    singular, plural = common()["units"][interval.unit]
    last = interval.high if interval.high is not None else interval.value
    unit = singular if last == 1 else plural
    span = f"{interval.value} to {interval.high}" if interval.high is not None else interval.value
    words = f"{span} {unit}"
    return f"{words} ({interval.when})" if interval.when and when else words


def dose_words(dose: Dose) -> str:
    """`Dose(40, "mg", 1)` -> "40 mg daily"; how often, in common.yaml's words."""
    per_day = common()["per_day"]
    often = ""
    if dose.per_day is not None:
        n = int(dose.per_day) if float(dose.per_day).is_integer() else dose.per_day
        often = " " + per_day.get(n, per_day["other"].format(n=f"{n:g}"))
    return f"{dose.value:g} {dose.unit}{often}"


def utc_offset(moment: datetime) -> str:
    """The offset a card's times are in, as UTC-05:00."""
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
def names_within(names: list[str], room: int) -> str:
    """Names joined to fit `room` characters, the rest counted ("a, b and 2 more"), so that a
    summary keeps its action however many drugs there are. Where even that does not fit, the
    names lose their parentheses ("heparin (unfractionated)" -> "heparin"); a drug is always
    named, never only counted."""
    names = list(dict.fromkeys(names))
    short = list(dict.fromkeys(n.split(" (")[0] for n in names))
    for candidates in (names, short):
        for shown in range(len(candidates), 0, -1):
            rest = len(candidates) - shown
            head = candidates[:shown]
            if rest:
                words = ", ".join(head) + f" and {rest} more"
            elif shown > 1:
                words = ", ".join(head[:-1]) + " and " + head[-1]
            else:
                words = head[0]
            if len(words) <= room:
                return words
    rest = len(short) - 1
    return short[0] + (f" and {rest} more" if rest else "")


ENV = _environment()


@cache
def common() -> dict[str, Any]:
    return yaml.safe_load((CARDS_DIR / "common.yaml").read_text(encoding="utf-8"))


@cache
def template(kind: str) -> dict[str, Any]:
    spec = yaml.safe_load((CARDS_DIR / "templates" / f"{kind}.yaml").read_text(encoding="utf-8"))
    spec["_summary"] = ENV.from_string(spec["summary"])
    spec["_detail"] = ENV.from_string(spec["detail"])
    return spec


def kinds() -> list[str]:
    return sorted(p.stem for p in (CARDS_DIR / "templates").glob("*.yaml"))


def _text(tpl: jinja2.Template, data: dict[str, Any]) -> str:
    return BLANK_LINES.sub("\n\n", tpl.render(**data)).strip()


def _summary(spec: dict[str, Any], data: dict[str, Any]) -> str:
    summary = " ".join(_text(spec["_summary"], data).split())
    if len(summary) >= SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 2].rstrip() + "…"
    return summary


def render_or_plain(
    decision: CardDecision, base_url: str, knowledge_version: str
) -> dict[str, Any]:
    """The card, or, if its template fails (a fault in a release), the same card in plain words
    (`render_failed` in common.yaml), as loud as it would have been: a fault in one card's text
    must not lose the call's other cards, nor turn a warning into silence."""
    try:
        return render_card(decision, base_url, knowledge_version)
    except Exception as exc:  # any fault of a template: the fallback below uses none
        log.error(
            "card %s could not be rendered (%s): sent in plain words",
            decision.kind,
            type(exc).__name__,  # never the message: it may quote the patient's record
        )
        CARD_RENDER_FAILURES.labels(decision.kind).inc()
        return plain_card(decision, knowledge_version)


def plain_card(decision: CardDecision, knowledge_version: str) -> dict[str, Any]:
    spec = template(decision.kind)
    words = common()["render_failed"]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": words["summary"].format(title=spec["title"])[:SUMMARY_LIMIT],
        "detail": words["detail"],
        "indicator": decision.indicator or spec["indicator"],
        "source": _source(decision.kind, spec, knowledge_version),
    }


def _source(kind: str, spec: dict[str, Any], knowledge_version: str) -> dict[str, Any]:
    """Who issued the card (with the knowledge release) and its kind, as CDS Hooks' topic."""
    shared = common()["source"]
    source: dict[str, Any] = {
        "label": f"{shared['label']} (knowledge {knowledge_version})",
        "topic": {"system": shared["topic_system"], "code": kind, "display": spec["title"]},
    }
    if shared.get("url"):
        source["url"] = shared["url"]
    return source


def render_card(decision: CardDecision, base_url: str, knowledge_version: str) -> dict[str, Any]:
    """The card from its template; raises if the template fails (the warm-up at start, the
    tests). Calls use `render_or_plain`."""
    spec = template(decision.kind)
    shared = common()
    data = {**decision.data, "base_url": base_url.rstrip("/")}
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(spec, data),
        "detail": _text(spec["_detail"], data),
        "indicator": decision.indicator or spec["indicator"],
        "source": _source(decision.kind, spec, knowledge_version),
    }
    suggestions = _suggestions(spec, decision)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = spec.get("selection_behavior", "at-most-one")
    reasons = spec.get("override_reasons") or []
    if isinstance(reasons, dict):  # the reasons that fit depend on how loud the card is
        reasons = reasons.get(card["indicator"]) or []
    if reasons:
        system = shared["override_reason_system"]
        card["overrideReasons"] = [
            {"system": system, "code": r["code"], "display": r["display"]} for r in reasons
        ]
    links = [_link(link, data["base_url"]) for link in spec.get("links") or ()]
    if links:
        card["links"] = links
    if decision.extension:
        card["extension"] = decision.extension
    return card


def _link(link: dict[str, Any], base_url: str) -> dict[str, str]:
    url = link.get("url") or base_url + link["path"]
    return {"label": link["label"], "url": url, "type": "absolute"}


def _suggestions(spec: dict[str, Any], decision: CardDecision) -> list[dict[str, Any]]:
    out = []
    for suggestion in spec.get("suggestions") or ():
        actions: list[dict[str, Any]] = []
        resource = {"create": decision.create, "create-also": decision.also_create}.get(
            suggestion["action"]
        )
        if resource:
            actions.append(
                {"type": "create", "description": suggestion["description"], "resource": resource}
            )
        elif suggestion["action"] == "delete":
            actions += [
                {"type": "delete", "description": suggestion["description"], "resourceId": ref}
                for ref in decision.delete
            ]
        if actions:
            out.append(
                {
                    "label": suggestion["label"],
                    "uuid": str(uuid.uuid4()),
                    "isRecommended": bool(suggestion.get("recommended", False)),
                    "actions": actions,
                }
            )
    return out
