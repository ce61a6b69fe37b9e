"""Marshmallow schema for a feedback request (CDS Hooks 2.0 "Feedback").

    {"feedback": [{"card": "<card uuid>", "outcome": "accepted" | "overridden",
                   "acceptedSuggestions": [{"id": "<suggestion uuid>"}],   # accepted only
                   "overrideReason": {"reason": Coding, "userComment": "..."},  # overridden only
                   "outcomeTimestamp": "2026-11-25T10:05:31Z"}]}

Whether the card and suggestions were really issued is checked against the database by the
store; this schema checks shape only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

MAX_ITEMS = 100
# PostgreSQL text cannot hold NUL, and no clinician types other C0 control characters:
# refused here (400), never left to fail in the database (500).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_COMMENT_CHARS = 4000
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: str
    accepted_suggestions: tuple[str, ...]
    reason_system: str | None
    reason_code: str | None
    user_comment: str | None  # free text a clinician typed: never log it
    outcome_timestamp: datetime


def text(max_length: int, min_length: int = 1) -> Callable[[str], None]:
    length = validate.Length(min=min_length, max=max_length)

    def check(value: str) -> None:
        length(value)
        if CONTROL.search(value):
            raise ValidationError("must not contain control characters")

    return check


class Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field is an error the client should hear about


class Rfc3339Utc(fields.Field):
    """An RFC 3339 date-time in UTC (`Z` or `+00:00`), not in the future."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or "T" not in value.upper() or len(value) > 40:
            raise ValidationError("must be an RFC 3339 date-time in UTC, e.g. 2026-11-25T10:05:31Z")
        text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("must be an RFC 3339 date-time in UTC") from None
        if parsed.utcoffset() != timedelta(0):
            raise ValidationError("must be in UTC (end with Z)")
        if parsed - datetime.now(UTC) > FUTURE_SKEW:
            raise ValidationError("is in the future")
        return parsed.astimezone(UTC)


class CodingSchema(Strict):
    system = fields.String(required=True, validate=text(255))
    code = fields.String(required=True, validate=text(128))
    display = fields.String(validate=text(1000, min_length=0))


class OverrideReasonSchema(Strict):
    reason = fields.Nested(CodingSchema)
    userComment = fields.String(validate=text(MAX_COMMENT_CHARS, min_length=0))


class AcceptedSuggestionSchema(Strict):
    id = fields.String(required=True, validate=text(64))


class FeedbackItemSchema(Strict):
    card = fields.UUID(required=True)
    extension = fields.Dict()  # reserved by CDS Hooks for extensions: accepted, not stored
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "overridden"]))
    acceptedSuggestions = fields.List(
        fields.Nested(AcceptedSuggestionSchema), validate=validate.Length(max=50)
    )
    overrideReason = fields.Nested(OverrideReasonSchema)
    outcomeTimestamp = Rfc3339Utc(required=True)

    @validates_schema
    def outcome_fields(self, data: dict[str, Any], **_: Any) -> None:
        outcome = data.get("outcome")
        if outcome == "accepted":
            if not data.get("acceptedSuggestions"):
                raise ValidationError(
                    "required (one or more) when the outcome is accepted", "acceptedSuggestions"
                )
            if "overrideReason" in data:
                raise ValidationError("only for overridden outcomes", "overrideReason")
        if outcome == "overridden" and "acceptedSuggestions" in data:
            raise ValidationError("only for accepted outcomes", "acceptedSuggestions")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FeedbackItem:
        reason = data.get("overrideReason") or {}
        coding = reason.get("reason") or {}
        return FeedbackItem(
            card=str(data["card"]),
            outcome=data["outcome"],
            accepted_suggestions=tuple(
                dict.fromkeys(s["id"] for s in data.get("acceptedSuggestions") or ())
            ),
            reason_system=coding.get("system"),
            reason_code=coding.get("code"),
            user_comment=reason.get("userComment"),
            outcome_timestamp=data["outcomeTimestamp"],
        )


class FeedbackRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # extensions beside `feedback` are ignored

    feedback = fields.List(
        fields.Nested(FeedbackItemSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ITEMS),
    )
