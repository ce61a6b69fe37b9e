"""A signed CDS client (an EHR) calling one app, and the feedback items it sends."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jwt_helpers import PUBLIC_URL, TestIssuer

from fixture_files import card_kind, fixture_request

SELECT = "/cds-services/lsb-order-select"
SIGN = "/cds-services/lsb-order-sign"
FEEDBACK = SELECT + "/feedback"
REASONS = "urn:lsb-cds-service:override-reason"
WHEN = "2026-11-25T08:00:00Z"
COMMENT = "Pt Jane Roe MRN 4711 had the block last week at another clinic"


class Ehr:
    """A signed CDS client talking to one app."""

    def __init__(self, app: Flask, issuer: TestIssuer) -> None:
        self.app = app
        self.issuer = issuer
        self.client: FlaskClient = app.test_client()

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        headers = self.issuer.auth(PUBLIC_URL + path)
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def cards(
        self, fixture: str = "01-crps-left-apixaban", body: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Calls the service with a fixture (or `body`); returns the cards by kind."""
        body = body or fixture_request(fixture)
        path = SELECT if body.get("hook") == "order-select" else SIGN
        response = self.post(path, body)
        assert response.status_code == 200
        return {card_kind(c): c for c in response.get_json()["cards"]}

    def feedback(self, *items: dict[str, Any], path: str = FEEDBACK) -> Any:
        return self.post(path, {"feedback": list(items)})


def accepted(card: dict[str, Any], when: str = WHEN) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        # at-most-one: the clinician takes the first suggestion (the draft block order)
        "acceptedSuggestions": [{"id": s["uuid"]} for s in card.get("suggestions", ())[:1]],
        "outcomeTimestamp": when,
    }


def overridden(
    card: dict[str, Any], code: str | None = None, comment: str | None = None, when: str = WHEN
) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when}
    reason: dict[str, Any] = {}
    if code:
        reason["reason"] = {"system": REASONS, "code": code}
    if comment:
        reason["userComment"] = comment
    if reason:
        item["overrideReason"] = reason
    return item
