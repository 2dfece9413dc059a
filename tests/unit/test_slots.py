"""Pure unit tests for calbot.booking.slots.Bounds: the event type's booking window as Cal.com counts it, and the
horizon (one year: Cal.com lists free slots no further). Clock: Monday 23 November 2026 08:00 UTC, user in Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from calbot.booking.slots import Bounds, StartRefused
from calbot.calcom.models import EventType
from testing.common import FIXED_NOW

NOW = FIXED_NOW


def bounds(window: Any = None, notice: int = 0) -> Bounds:
    event_type = EventType(id=1, lengthInMinutes=30, minimumBookingNotice=notice, bookingWindow=window)
    return Bounds.of(NOW, "Europe/Berlin", event_type, host_zone="Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("window", "last_day", "latest", "limit"), [
    (None, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ({"type": "calendarDays", "value": 30, "rolling": False}, date(2026, 12, 23), utc(2026, 12, 23, 23),
     "booking_window"),
    ([{"type": "calendarDays", "value": 30}], date(2026, 12, 23), utc(2026, 12, 23, 23), "booking_window"),
    ({"type": "businessDays", "value": 5}, date(2026, 11, 30), utc(2026, 11, 30, 23), "booking_window"),
    ({"type": "range", "value": ["2026-12-01", "2026-12-04"]}, date(2026, 12, 5), utc(2026, 12, 5, 0),
     "booking_window"),  # the range is the host's days (London): it ends at 01:00 on the 5th in Berlin
    ({"type": "calendarDays", "value": 30, "rolling": True}, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ({"type": "calendarDays", "value": 5000}, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ({"type": "calendarDays", "value": 10**30}, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ({"type": "range", "value": ["0001-01-01", "9999-12-31"]}, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ({"type": 5, "value": "x", "rolling": "maybe"}, date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
    ("junk", date(2027, 11, 23), utc(2027, 11, 23, 8), "horizon"),
])
def test_the_last_bookable_instant(window: Any, last_day: date, latest: datetime, limit: str) -> None:
    b = bounds(window)
    assert (b.last_day, b.latest, b.limit) == (last_day, latest, limit)
    assert b.accepts(latest - (latest - NOW) / 10**6) and not b.accepts(latest)


def test_a_range_window_is_refused_before_it_opens_and_its_days_are_cut() -> None:
    b = bounds({"type": "range", "value": ["2026-12-01", "2026-12-04"]})
    with pytest.raises(StartRefused) as info:
        b.refuse_start(utc(2026, 11, 30, 12))
    assert info.value.reason == "before_booking_window" and "from Tuesday 1 December 2026" in str(info.value)
    first, last, note = b.bookable_days(date(2026, 11, 28), date(2026, 12, 9))
    assert (first, last) == (date(2026, 12, 1), date(2026, 12, 5))
    assert "Days after Saturday 5 December 2026" in note and "Days before Tuesday 1 December 2026" in note


def test_the_past_and_too_soon() -> None:
    b = bounds(notice=90)
    with pytest.raises(StartRefused) as info:
        b.refuse_start(NOW)
    assert info.value.reason == "past"
    b.refuse_start(utc(2026, 11, 23, 9))  # too soon is not refused here: it is answered with later free times
    assert not b.accepts(utc(2026, 11, 23, 9)) and b.accepts(utc(2026, 11, 23, 9, 30))
    refused = b.unavailable(utc(2026, 11, 23, 9), 30, [])
    assert refused["reason"] == "too_soon" and "1 hour 30 minutes" not in refused["error"]
    assert "90 minutes of notice" in refused["error"] and "10:30 CET" in refused["error"]
