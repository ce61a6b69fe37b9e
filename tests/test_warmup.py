"""The warm-up run before the server forks goes through the whole pipeline and stores nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from marshmallow import validate
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cds_service.api.schemas import HOOK_REQUEST
from cds_service.feedback.models import IssuedCard
from cds_service.warmup import warm_up


def test_warm_up_renders_cards_for_every_service_and_records_none(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(dev_mode=True)
    kinds = warm_up(app)
    # Both ways a call reaches the cards: an opioid ordered (the suggestion), the block ordered
    # with the drug active (the bleeding-risk card); for each service.
    assert kinds.count("lsb-suggestion") >= 1 and kinds.count("lsb-bleeding-risk") >= 2
    # The booking service: the block booked too soon for a hold, and in time.
    assert "booking-too-soon" in kinds and kinds.count("booking-hold-plan") >= 2
    with Session(app.extensions["cds_db"]) as session:
        assert session.scalar(select(func.count()).select_from(IssuedCard)) == 0


def test_warm_up_compiles_the_fhir_server_check_before_the_fork(
    make_app: Callable[..., Flask],
) -> None:
    """marshmallow compiles its URL pattern on first use (tens of milliseconds, holding the
    worker): warmed in the arbiter, no worker's first call with a fhirServer pays it."""
    validators = HOOK_REQUEST.fields["fhirServer"].validators
    [check] = [v for v in validators if isinstance(v, validate.URL)]
    memo = check._regex._memoized
    memo.clear()
    warm_up(make_app(dev_mode=True))
    assert (check.relative, check.absolute, check.require_tld) in memo
