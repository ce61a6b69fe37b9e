"""Dates of a hold before a booked block: the last dose, the earliest restart, and whether the
booking leaves time for the hold at all. Pure functions of the appointment and the clock.

Conventions (the cards state them in words):
- Every date and time is in the appointment's own UTC offset (the one in its `start`), so the
  arithmetic is free of daylight-saving changes; the card names the offset.
- An interval in hours is elapsed time: 24 hours before a 09:00 block is 09:00 the day before.
- An interval in days is calendar days: N full days without the drug before the day of the
  block, so the last dose is on the day N + 1 days before the block. Restarting N days after
  is on the day N days after the block.
- "Too soon" assumes a dose may still be taken today (or right now, for hours): stopping now,
  is the hold complete by the appointment's start?
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cds_service.knowledge import Interval


@dataclass(frozen=True)
class Moment:
    """A day, and the time on that day when the interval is in hours (None for days)."""

    day: date
    at: datetime | None = None


@dataclass(frozen=True)
class DatedHold:
    before: Interval  # the hold followed: the longest when the figure depends on the dose
    last_dose: Moment  # the latest last dose that completes the hold
    restart: Moment | None  # the earliest restart, counted from `restart_from`
    restart_from_end: bool  # counted from the appointment's end (else from its start)
    too_soon: bool  # stopping now cannot complete the hold before the appointment
    earliest: Moment  # the earliest start that stopping now allows


def last_dose(start: datetime, before: Interval) -> Moment:
    if before.unit == "h":
        at = start - before.longest
        return Moment(at.date(), at)
    # N full drug-free days before the day of the block, so the last dose is on the day before.
    return Moment(start.date() - before.longest - timedelta(days=1))


def restart_after(done: datetime, restart: Interval) -> Moment:
    if restart.unit == "h":
        at = done + restart.shortest  # the earliest end of a range such as 12 to 24 hours
        return Moment(at.date(), at)
    return Moment(done.date() + restart.shortest)


def earliest_start(now: datetime, before: Interval, offset_of: datetime) -> Moment:
    """The earliest appointment start that a hold begun now allows, in `offset_of`'s offset."""
    local_now = now.astimezone(offset_of.tzinfo)
    if before.unit == "h":
        at = local_now + before.longest
        return Moment(at.date(), at)
    return Moment(local_now.date() + before.longest + timedelta(days=1))


def is_too_soon(now: datetime, start: datetime, before: Interval) -> bool:
    last = last_dose(start, before)
    if last.at is not None:
        return now > last.at
    return last.day < now.astimezone(start.tzinfo).date()


def date_hold(
    before: Interval,
    restart: Interval | None,
    start: datetime,
    end: datetime | None,
    now: datetime,
) -> DatedHold:
    """The dated plan for one drug. `start`, `end` and `now` must carry a UTC offset."""
    from_end = end is not None and end >= start
    done = end if from_end and end is not None else start
    return DatedHold(
        before=before,
        last_dose=last_dose(start, before),
        restart=restart_after(done, restart) if restart is not None else None,
        restart_from_end=from_end,
        too_soon=is_too_soon(now, start, before),
        earliest=earliest_start(now, before, start),
    )
