"""Issue 15, findings 8, 9 and 10 at the executor, on the sandbox calendar (tests/fakes/sandbox_calcom.py):

- 8: no tool argument, however extreme (years 0001 and 9999, offsets at the ends of the calendar, huge numbers),
  raises out of the executor or reaches Cal.com: each is refused with a sentence.
- 9: every free time offered instead is one calbot accepts when picked (the two-year horizon, the event type's
  booking window); every refusal says why (past, too soon, too far ahead, off the grid, taken, outside the free
  hours, no free time that day); a time with seconds is its minute; a lookup at a time finds a meeting that began
  the evening before, and one at a time that happens twice looks at both (or at the offset given); free windows
  ending at midnight read 24:00.
- 10: set_time_zone takes IANA zones only, and an alias becomes its canonical name.

The clock is Monday 23 November 2026 08:00 UTC (tests/http/test_executor.py). Cal.com lists free slots up to one year
from now (the sandbox clamps as it does), so calbot books until Tuesday 23 November 2027, 08:00 UTC (09:00 in Berlin,
before the host's day starts): the last day with free time is Monday 22 November 2027. Until this issue calbot
accepted two years, and near that horizon offered times it then refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from calbot.booking.account import load_account
from calbot.timezones import parse_instant
from tests.fakes.sandbox_calcom import at
from tests.http.test_executor import TUE, USER, executor, fake, session  # noqa: F401 - fixtures

WED = date(2026, 11, 25)
HORIZON = "Tuesday 23 November 2027, 09:00 CET (Europe/Berlin)"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- finding 8: extreme input is a sentence, never an exception, never a request -------------------------------------
EXTREMES = [
    ("check_availability", {"date": "9999-12-31"}),
    ("check_availability", {"date": "0001-01-01"}),
    ("check_availability", {"date": "2026-11-24", "end_date": "9999-12-31"}),
    ("check_availability", {"date": "9999-12-18", "end_date": "9999-12-31"}),
    ("check_availability", {"date": "2999-12-31"}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 10**30}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": -(10**30)}),
    ("list_meetings", {"from_date": "9999-12-31"}),
    ("list_meetings", {"from_date": "0001-01-01"}),
    ("list_meetings", {"from_date": "0001-01-01", "at_time": "00:30"}),
    ("list_meetings", {"from_date": "9999-12-31", "at_time": "23:30"}),
    ("list_meetings", {"from_date": "2026-11-24", "to_date": "9999-12-31"}),
    ("list_meetings", {"from_date": "0001-01-01", "to_date": "2026-11-24"}),
    ("list_meetings", {"to_date": "9999-12-31"}),
    ("list_meetings", {"from_date": "2026-11-24", "at_time": "24:00"}),
    ("book_meeting", {"start": "9999-12-31T23:59", "reason": "x"}),
    ("book_meeting", {"start": "0001-01-01T00:00", "reason": "x"}),
    ("book_meeting", {"start": "9999-12-31T23:59-12:00", "reason": "x"}),
    ("book_meeting", {"start": "0001-01-01T00:00+14:00", "reason": "x"}),
    ("book_meeting", {"start": "2999-12-31T23:59", "reason": "x"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "x", "duration_minutes": 10**30}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "9999-12-31T23:59"}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "0001-01-01T00:00+14:00"}),
]


@pytest.mark.parametrize(("tool", "arguments"), EXTREMES, ids=lambda v: v if isinstance(v, str) else None)
async def test_extreme_arguments_are_refused_in_words(executor, fake, tool, arguments):
    result = await executor.call(session(executor), tool, arguments)  # must not raise
    assert result["ok"] is False and result["status"] in ("invalid_arguments", "invalid_time"), result
    sentence = result["error"]
    assert sentence.endswith(".") and "Error" not in sentence and "overflow" not in sentence.lower()
    assert fake.requests == []


# -- finding 9: what is offered is accepted; what is refused says why -----------------------------------------------
async def test_every_free_time_offered_near_the_horizon_is_accepted_when_picked(executor, fake):
    for day in (date(2027, 11, 19), date(2027, 11, 22), date(2028, 11, 23)):  # 15:00 in Berlin is taken
        fake.add_booking(at(day, 14), attendee_email="other@example.com")
    state = session(executor)
    offered = []
    for day in ("2027-11-19", "2027-11-22"):  # Friday, and Monday: the last day with free time
        taken = await executor.call(state, "book_meeting", {"start": f"{day}T15:00", "reason": "x"})
        assert taken["status"] == "slot_unavailable" and taken["reason"] == "taken", taken
        offered += [a["start"] for a in taken["alternatives"]]
    assert offered and max(offered) < "2027-11-23"
    for start in offered:
        picked = await executor.call(state, "book_meeting", {"start": start})
        assert picked["status"] == "awaiting_confirmation", picked
    # Near the old two-year horizon the nearest free times lay beyond it: now the time itself is refused, in words.
    old = await executor.call(state, "book_meeting", {"start": "2028-11-23T15:00"})
    assert (old["status"], old["reason"]) == ("invalid_time", "beyond_horizon") and "alternatives" not in old


async def test_free_times_beyond_the_horizon_are_too_far_ahead(executor, fake):
    state = session(executor)
    beyond = await executor.call(state, "check_availability", {"date": "2027-11-24"})
    assert beyond["status"] == "invalid_time" and beyond["reason"] == "beyond_horizon"
    assert "one year ahead" in beyond["error"] and HORIZON in beyond["error"]
    assert fake.requests == []
    across = await executor.call(state, "check_availability", {"date": "2027-11-19", "end_date": "2027-11-26"})
    assert [d["date"] for d in across["days"]] == ["2027-11-19", "2027-11-22"]
    assert "Tuesday 23 November 2027" in across["note"] and "one year ahead" in across["note"]
    for start in ("2027-11-23T10:00", "2028-11-27T10:00"):
        booked = await executor.call(state, "book_meeting", {"start": start, "reason": "x"})
        assert booked["reason"] == "beyond_horizon" and HORIZON in booked["error"]


async def test_beyond_the_booking_window_is_too_far_ahead_not_taken(executor, fake):
    fake.limit_booking_window(1001, 30)  # bookable up to Wednesday 23 December 2026
    executor.account = await load_account(executor.client)
    mine = fake.add_booking(at(WED, 10), attendee_email=USER)
    fake.add_booking(at(date(2026, 12, 23), 14), attendee_email="other@example.com")
    fake.requests.clear()
    state = session(executor)
    state.remember_seen(mine["uid"])
    window_end = "Wednesday 23 December 2026"

    book = await executor.call(state, "book_meeting", {"start": "2026-12-28T15:00", "reason": "x"})
    move = await executor.call(state, "reschedule_meeting", {"booking_uid": mine["uid"],
                                                             "new_start": "2026-12-28T15:00"})
    free = await executor.call(state, "check_availability", {"date": "2026-12-28"})
    for refused in (book, move, free):
        assert refused["status"] == "invalid_time" and refused["reason"] == "beyond_booking_window", refused
        assert "30 days ahead" in refused["error"] and window_end in refused["error"]
    assert [r.url.path for r in fake.requests if r.url.path.endswith("/slots")] == []

    near = await executor.call(state, "book_meeting", {"start": "2026-12-23T15:00", "reason": "x"})
    assert near["reason"] == "taken" and near["alternatives"]
    assert all(a["start"] < "2026-12-24" for a in near["alternatives"])
    days = await executor.call(state, "check_availability", {"date": "2026-12-22", "end_date": "2026-12-29"})
    assert [d["date"] for d in days["days"]] == ["2026-12-22", "2026-12-23"] and window_end in days["note"]


async def test_too_soon_says_how_much_notice_and_offers_only_later_times(executor, fake):
    fake.require_notice(1001, 120)  # now is 09:00 in Berlin: the earliest start is 11:00
    executor.account = await load_account(executor.client)
    result = await executor.call(session(executor), "book_meeting", {"start": "2026-11-23T10:30", "reason": "x"})
    assert result["status"] == "slot_unavailable" and result["reason"] == "too_soon", result
    assert "2 hours" in result["error"] and "11:00" in result["error"]
    assert result["alternatives"] and all(a["start"] >= "2026-11-23T11:00" for a in result["alternatives"])


@pytest.mark.parametrize(("start", "status", "reason", "words"), [
    ("2026-11-23T08:00", "invalid_time", "past", "in the past"),
    ("2030-01-01T10:00", "invalid_time", "beyond_horizon", "one year ahead"),
    ("2026-11-24T14:30", "slot_unavailable", "taken", "busy from 14:00 to 15:00"),
    ("2026-11-25T08:00", "slot_unavailable", "outside_hours", "outside the free hours that day (10:00-18:00)"),
    ("2026-11-28T10:00", "slot_unavailable", "no_free_time", "no free time"),
    ("2026-11-25T15:10", "slot_unavailable", "off_grid", "every 30 minutes"),
])
async def test_a_refused_time_says_why(executor, fake, start, status, reason, words):
    fake.add_booking(at(TUE, 13), attendee_email="other@example.com", minutes=60)  # 14:00-15:00 in Berlin
    result = await executor.call(session(executor), "book_meeting", {"start": start, "reason": "x"})
    assert (result["status"], result.get("reason")) == (status, reason), result
    assert words in result["error"]


async def test_a_time_with_seconds_is_read_as_its_minute(executor, fake):
    state = session(executor)
    for start in ("2026-11-24T15:00:30", "2026-11-24T14:00:45Z", "2026-11-24T15:00:59.9"):
        result = await executor.call(state, "book_meeting", {"start": start, "reason": "x"})
        assert result["status"] == "awaiting_confirmation", result
        assert (result["start_local"], result["start_utc"]) == ("2026-11-24T15:00", "2026-11-24T14:00:00Z")
    fake.add_booking(at(TUE, 14), attendee_email="other@example.com")
    taken = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00:30"})
    assert taken["requested"]["start_utc"] == "2026-11-24T14:00:00Z"
    assert "2026-11-24T15:00" not in [a["start"] for a in taken["alternatives"]]


async def test_a_lookup_after_midnight_finds_the_meeting_that_began_the_evening_before(executor, fake):
    late = fake.add_booking(at(TUE, 22, 30), attendee_email=USER, minutes=60)  # Tue 23:30 - Wed 00:30 in Berlin
    state = session(executor)
    after = await executor.call(state, "list_meetings", {"from_date": "2026-11-25", "at_time": "00:15"})
    before = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "23:45"})
    assert [m["uid"] for m in after["meetings"]] == [late["uid"]] == [m["uid"] for m in before["meetings"]]


async def test_a_lookup_at_a_time_that_happens_twice_looks_at_both_or_at_the_offset_given(executor, fake):
    # Berlin, Sunday 25 October 2026: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET).
    summer = fake.add_booking(utc(2026, 10, 25, 0, 30), attendee_email=USER)
    winter = fake.add_booking(utc(2026, 10, 25, 1, 30), attendee_email=USER)
    state = session(executor)
    both = await executor.call(state, "list_meetings", {"from_date": "2026-10-25", "at_time": "02:30"})
    assert both["ok"] and sorted(m["uid"] for m in both["meetings"]) == sorted([summer["uid"], winter["uid"]])
    assert "CEST" in both["looked_for"] and "CET" in both["looked_for"].replace("CEST", "")
    cet = await executor.call(state, "list_meetings", {"from_date": "2026-10-25", "at_time": "02:30+01:00"})
    cest = await executor.call(state, "list_meetings", {"from_date": "2026-10-25", "at_time": "02:30+02:00"})
    assert [m["uid"] for m in cet["meetings"]] == [winter["uid"]]
    assert [m["uid"] for m in cest["meetings"]] == [summer["uid"]]


async def test_a_free_window_ending_at_midnight_reads_24_00(executor, fake):
    # London 09:00-17:00 is 16:00-24:00 in Bangkok (UTC+7).
    result = await executor.call(session(executor, zone="Asia/Bangkok"), "check_availability", {"date": "2026-11-24"})
    assert [d["free_local"] for d in result["days"]] == [["16:00-24:00"]]


# -- finding 10: set_time_zone takes IANA zones only ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Berlin"])
async def test_set_time_zone_refuses_names_that_are_not_iana_zones(executor, fake, name):
    state = session(executor)
    result = await executor.call(state, "set_time_zone", {"time_zone": name})
    assert result["ok"] is False and result["status"] == "invalid_time"
    assert state.user.time_zone == "Europe/Berlin"


@pytest.mark.parametrize(("alias", "canonical"), [("US/Eastern", "America/New_York"),
                                                  ("Asia/Calcutta", "Asia/Kolkata")])
async def test_set_time_zone_keeps_the_canonical_name_of_an_alias(executor, fake, alias, canonical):
    state = session(executor)
    result = await executor.call(state, "set_time_zone", {"time_zone": alias})
    assert result["time_zone"] == canonical == state.user.time_zone


@pytest.mark.parametrize(("zone", "arguments"), [
    ("Pacific/Kiritimati", {"from_date": "1900-01-01"}),  # UTC+14: the day starts on 31 December 1899 in UTC
    ("Etc/GMT+12", {"from_date": "2999-12-31"}),  # UTC-12: the day ends on 1 January 3000 in UTC
    ("Europe/Berlin", {"from_date": "1900-01-01", "to_date": "2999-12-31"}),
    ("Pacific/Kiritimati", {"from_date": "1900-01-01", "at_time": "00:00"}),
])
async def test_the_first_and_last_supported_days_list_without_asking_beyond_them(executor, fake, zone, arguments):
    result = await executor.call(session(executor, zone=zone), "list_meetings", arguments)
    assert result["ok"] and result["meetings"] == [], result
    [request] = fake.requests
    asked = [parse_instant(request.url.params[name]) for name in ("afterStart", "beforeEnd")]
    assert utc(1900, 1, 1) <= asked[0] < asked[1] < utc(3000, 1, 1)
