"""The sandbox: fire the hooks for a fixture patient and see the cards as an EHR shows them.

On in development mode or with CDS_SANDBOX=1; a 404 otherwise. The page calls the real
/cds-services endpoints from the browser, as an EHR would; this blueprint only serves the page,
builds the fixture requests and renders cards to safe HTML.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request

from cds_service import services
from cds_service.api.errors import CdsError
from cds_service.web import sandbox_fixtures
from cds_service.web.markdown import render_markdown
from cds_service.web.security import page_headers

bp = Blueprint(
    "sandbox",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/sandbox/static",
)
INDICATORS = ("critical", "warning", "info")
PRETTY_LIMIT = 500_000  # characters: a heavy patient's request stays compact in the editor


def _json_text(value: Any) -> str:
    compact = json.dumps(value, ensure_ascii=False)
    if len(compact) > PRETTY_LIMIT:
        return compact
    return json.dumps(value, indent=2, ensure_ascii=False)


@bp.before_request
def only_when_enabled() -> None:
    if not current_app.config["CDS_SETTINGS"].sandbox_enabled:
        abort(404)


bp.after_request(page_headers)


def _fixtures() -> dict[str, sandbox_fixtures.Fixture]:
    return sandbox_fixtures.fixtures(current_app.config["CDS_SETTINGS"].sandbox_fixtures)


def _fixture(name: str | None) -> sandbox_fixtures.Fixture:
    found = _fixtures()
    if not found:
        abort(404, "The sandbox has no fixture requests (set CDS_SANDBOX_FIXTURES).")
    if not name:
        return next(iter(found.values()))
    if name not in found:
        abort(404, "No such sandbox patient.")
    return found[name]


@bp.get("/sandbox")
def page() -> str:
    fixture = _fixture(request.args.get("patient"))
    fixture_request = fixture.request()
    order = sandbox_fixtures.default_order(fixture_request)
    hook = str(fixture_request.get("hook") or sandbox_fixtures.HOOKS[0])
    day = sandbox_fixtures.first_day(fixture_request)
    built = sandbox_fixtures.build_request(fixture_request, order, hook, day)
    return render_template(
        "sandbox.html",
        fixtures=_fixtures().values(),
        fixture=fixture,
        chart=sandbox_fixtures.chart(fixture_request),
        order=order,
        hook=hook,
        hooks=sandbox_fixtures.HOOKS,
        booking=hook == sandbox_fixtures.BOOKING,
        day=day,
        services=[{"id": s.id, "hook": s.hook, "title": s.title} for s in services.ALL],
        request_json=_json_text(built),
    )


@bp.get("/sandbox/request")
def hook_request() -> dict[str, Any]:
    """The hook request for a fixture patient, an order on the pad and a hook (or, for a
    booking, the date of its first appointment)."""
    fixture = _fixture(request.args.get("patient") or "")
    try:
        return sandbox_fixtures.build_request(
            fixture.request(),
            request.args.get("order", ""),
            request.args.get("hook", ""),
            request.args.get("date", ""),
        )
    except ValueError as exc:
        raise CdsError(400, str(exc)) from None


def _card_view(card: Any, index: int) -> dict[str, Any]:
    """What the card template needs, every value still text to be escaped by Jinja."""
    card = card if isinstance(card, dict) else {}
    indicator = card.get("indicator") if card.get("indicator") in INDICATORS else "info"
    links = []
    for link in card.get("links") or ():
        url = str(link.get("url", ""))
        links.append(
            {
                "label": str(link.get("label") or url),
                "url": url if url.startswith(("https://", "http://")) else "",
                "smart": link.get("type") == "smart",
            }
        )
    suggestions = []
    for suggestion in card.get("suggestions") or ():
        actions = [
            {
                "type": str(action.get("type", "")),
                "description": str(action.get("description", "")),
                "resource_id": action.get("resourceId"),
                "resource": json.dumps(action["resource"], indent=2, ensure_ascii=False)
                if "resource" in action
                else "",
            }
            for action in suggestion.get("actions") or ()
        ]
        suggestions.append(
            {
                "uuid": str(suggestion.get("uuid", "")),
                "label": str(suggestion.get("label", "")),
                "recommended": bool(suggestion.get("isRecommended")),
                "actions": actions,
            }
        )
    source = card.get("source") or {}
    return {
        "index": index,
        "uuid": str(card.get("uuid", "")),
        "summary": str(card.get("summary", "")),
        "detail": render_markdown(str(card.get("detail") or "")),
        "indicator": indicator,
        "source_label": str(source.get("label", "")),
        "source_url": str(source.get("url", "")) if str(source.get("url", "")).startswith(
            ("https://", "http://")
        ) else "",
        "topic": str((source.get("topic") or {}).get("display", "")),
        "kind": str((source.get("topic") or {}).get("code", "")),
        "links": links,
        "suggestions": suggestions,
        "selection": str(card.get("selectionBehavior", "")),
        "override_reasons": [
            {
                "code": str(r.get("code", "")),
                "system": str(r.get("system", "")),
                "display": str(r.get("display") or r.get("code", "")),
            }
            for r in card.get("overrideReasons") or ()
        ],
    }


@bp.post("/sandbox/render")
def render_cards() -> Response:
    """A service response's cards as HTML: Markdown rendered and sanitised here, not in the
    browser, so the page never puts card text into innerHTML itself."""
    body = request.get_json(silent=True)
    cards = body.get("cards") if isinstance(body, dict) else None
    if not isinstance(cards, list):
        raise CdsError(400, "Send {\"cards\": [...]} as application/json.")
    html = render_template(
        "sandbox_cards.html", cards=[_card_view(c, i) for i, c in enumerate(cards)]
    )
    return Response(html, mimetype="text/html")
