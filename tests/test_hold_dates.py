"""The dates of a hold before a booked block: calendar days, elapsed hours, month and year ends,
leap days, UTC offsets, and when a booking is too soon. The clock is always given."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from cds_service.decisions.hold_dates import (
    date_hold,
    earliest_start,
    is_too_soon,
    last_dose,
    restart_after,
)
from cds_service.fhir_time import parse_instant
from cds_service.knowledge import Interval

FIVE_DAYS = Interval(5, "d")
SIX_HOURS = Interval(6, "h")
EST = timezone(timedelta(hours=-5))
IST = timezone(timedelta(hours=5, minutes=30))


def at(text: str) -> datetime:
    value = parse_instant(text)
    assert value is not None, text
    return value


@pytest.mark.parametrize(
    ("start", "last"),
    [
        ("2026-12-11T09:00:00-05:00", date(2026, 12, 5)),  # the example: Saturday 5th
        ("2027-01-03T08:00:00+01:00", date(2026, 12, 28)),  # across the year end
        ("2026-03-01T10:00:00Z", date(2026, 2, 23)),  # across a month end (28-day February)
        ("2028-03-01T10:00:00Z", date(2028, 2, 24)),  # leap year: 29 February is a drug-free day
        ("2028-03-06T10:00:00Z", date(2028, 2, 29)),  # the last dose on the leap day itself
        ("2026-12-01T00:30:00+13:00", date(2026, 11, 25)),  # the block's own date, not UTC's
    ],
)
def test_days_are_full_calendar_days_before_the_day_of_the_block(start: str, last: date) -> None:
    moment = last_dose(at(start), FIVE_DAYS)
    assert moment.day == last
    assert moment.at is None  # a day interval gives a day, not a time
    free_days = (at(start).date() - moment.day).days - 1
    assert free_days == 5


def test_hours_are_elapsed_time_in_the_appointments_own_offset() -> None:
    moment = last_dose(at("2026-12-11T09:00:00-05:00"), Interval(24, "h"))
    assert moment.at == datetime(2026, 12, 10, 9, 0, tzinfo=EST)
    assert moment.at.utcoffset() == timedelta(hours=-5)
    assert moment.day == date(2026, 12, 10)


def test_hours_cross_midnight_month_and_year_ends() -> None:
    moment = last_dose(at("2027-01-01T06:00:00+05:30"), Interval(12, "h"))
    assert moment.at == datetime(2026, 12, 31, 18, 0, tzinfo=IST)
    assert moment.day == date(2026, 12, 31)


def test_a_dose_dependent_hold_uses_the_interval_given() -> None:
    therapeutic = Interval(24, "h", when="therapeutic dose")
    moment = last_dose(at("2026-12-11T09:00:00Z"), therapeutic)
    assert moment.at == at("2026-12-10T09:00:00Z")


def test_restart_in_hours_counts_from_the_end_and_takes_the_earliest_of_a_range() -> None:
    moment = restart_after(at("2026-12-11T10:00:00-05:00"), Interval(12, "h", high=24))
    assert moment.at == datetime(2026, 12, 11, 22, 0, tzinfo=EST)


def test_restart_in_days_is_a_calendar_day_after_the_block() -> None:
    assert restart_after(at("2026-12-31T15:00:00Z"), Interval(1, "d")).day == date(2027, 1, 1)
    assert restart_after(at("2028-02-28T15:00:00Z"), Interval(1, "d")).day == date(2028, 2, 29)


def test_days_too_soon_when_the_last_dose_day_is_already_past() -> None:
    start = at("2026-12-11T09:00:00-05:00")  # last dose on Saturday 5 December
    assert not is_too_soon(at("2026-12-05T23:00:00-05:00"), start, FIVE_DAYS)  # today's dose ok
    assert is_too_soon(at("2026-12-06T00:30:00-05:00"), start, FIVE_DAYS)
    # The clock is read in the appointment's offset: 04:30 UTC on the 6th is still the 5th there.
    assert not is_too_soon(at("2026-12-06T04:30:00Z"), start, FIVE_DAYS)
    assert is_too_soon(at("2026-12-06T05:00:00Z"), start, FIVE_DAYS)


def test_hours_too_soon_to_the_minute() -> None:
    start = at("2026-12-11T09:00:00Z")
    assert not is_too_soon(at("2026-12-11T03:00:00Z"), start, SIX_HOURS)
    assert is_too_soon(at("2026-12-11T03:01:00Z"), start, SIX_HOURS)


def test_earliest_workable_start_when_stopping_now() -> None:
    appointment = at("2026-12-03T09:00:00-05:00")
    now = at("2026-12-01T15:00:00Z")  # 10:00 on the 1st in the appointment's offset
    assert earliest_start(now, FIVE_DAYS, appointment).day == date(2026, 12, 7)
    hours = earliest_start(now, Interval(24, "h"), appointment)
    assert hours.at == datetime(2026, 12, 2, 10, 0, tzinfo=EST)
    # A year end: stopped on 29 December, five free days, the block on 4 January at the earliest.
    late = earliest_start(at("2026-12-29T12:00:00Z"), FIVE_DAYS, at("2027-01-02T09:00:00Z"))
    assert late.day == date(2027, 1, 4)


def test_a_booking_the_earliest_date_allows_is_not_too_soon() -> None:
    now = at("2026-12-01T10:00:00Z")
    appointment = at("2026-12-02T09:00:00Z")
    earliest = earliest_start(now, FIVE_DAYS, appointment)
    on_that_day = appointment.replace(year=earliest.day.year, month=earliest.day.month,
                                      day=earliest.day.day)
    assert not is_too_soon(now, on_that_day, FIVE_DAYS)
    assert is_too_soon(now, on_that_day - timedelta(days=1), FIVE_DAYS)


def test_date_hold_puts_it_together() -> None:
    plan = date_hold(
        FIVE_DAYS,
        SIX_HOURS,
        at("2026-12-11T09:00:00-05:00"),
        at("2026-12-11T10:00:00-05:00"),
        at("2026-12-01T12:00:00Z"),
    )
    assert plan.last_dose.day == date(2026, 12, 5)
    assert plan.restart is not None and plan.restart.at == datetime(2026, 12, 11, 16, 0, tzinfo=EST)
    assert plan.restart_from_end and not plan.too_soon


def test_without_an_end_the_restart_counts_from_the_start() -> None:
    start, now = at("2026-12-11T09:00:00Z"), at("2026-12-01T00:00:00Z")
    plan = date_hold(FIVE_DAYS, SIX_HOURS, start, None, now)
    assert plan.restart is not None and plan.restart.at == at("2026-12-11T15:00:00Z")
    assert not plan.restart_from_end


@pytest.mark.parametrize(
    "text", ["2026-12-11", "2026-12-11T09:00:00", "tomorrow", None, 20261211, "2026-13-01T09:00Z"]
)
def test_only_an_instant_with_an_offset_is_read(text: object) -> None:
    assert parse_instant(text) is None
