"""The sandbox calendar's rules, checked through HTTP (API-NOTES §3-§8, §11).

Each test names the rule it checks. Times are exact: UTC instants for bookings, the requested zone's offset for slots.
The clock is frozen at FIXED_NOW (Monday 2026-11-23 08:00 UTC; London = UTC in November) unless a test passes
`clock=`. Every exchange goes through the spec-checking transport of conftest.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from calbot.calcom import CalcomClient
from calbot.calcom.errors import RateLimitedError
from calbot.calcom.models import CreateBookingRequest, NewAttendee
from calbot.sandbox import EMBEDDED_BASE_URL, SANDBOX_API_KEY, Sandbox
from calbot.sandbox.config import SandboxEventType, SandboxHost, WeeklySchedule, default_event_types
from calbot.sandbox.server import THROTTLED_MESSAGE
from calbot.sandbox.service import (
    MSG_OUT_OF_BOUNDS,
    MSG_PAST,
    MSG_SINGLE_LENGTH,
    MSG_SLOT_TAKEN,
    NewBooking,
    SandboxCalendar,
    msg_cancelled_already,
    msg_length_not_allowed,
    msg_reschedule_rescheduled,
)
from tests.sandbox.conftest import FIXED_NOW, ORIGIN, SpecCheckingTransport

BOOKINGS = {"cal-api-version": "2024-08-13"}
SLOTS = {"cal-api-version": "2024-09-04"}
EVENT_TYPES = {"cal-api-version": "2024-06-14"}
KEY = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
HOST_EMAIL = "host@sandbox.example.com"
NEW_YORK = ZoneInfo("America/New_York")

# A multi-length event type (default 30, also 15 and 60) and a confirmation-required one, next to the defaults.
FLEX = SandboxEventType(2001, "flex", "Flexible Meeting", 30, length_options=(15, 30, 60))
CONFIRM = SandboxEventType(2002, "confirm", "Confirmed Meeting", 30, requires_confirmation=True)


# -- helpers -----------------------------------------------------------------------------------------------------------
def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def z(instant: datetime) -> str:
    """Cal.com's booking output format: 2026-11-24T10:00:00.000Z."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def wire(instant: datetime) -> str:
    """What a client sends as `start`: 2026-11-24T10:00:00Z."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def every(first: str, last: str, minutes: int) -> list[str]:
    """Wall clock times first..last (inclusive) every `minutes`, as HH:MM."""
    cursor, end = datetime.strptime(first, "%H:%M"), datetime.strptime(last, "%H:%M")
    out = []
    while cursor <= end:
        out.append(cursor.strftime("%H:%M"))
        cursor += timedelta(minutes=minutes)
    return out


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def times(data: dict[str, list[dict[str, Any]]], day: str) -> list[str]:
    """The local HH:MM of each slot under date key `day` (the wall time in the requested zone)."""
    return [item["start"][11:16] for item in data[day]]


def instants(data: dict[str, list[dict[str, Any]]]) -> list[datetime]:
    return [parse(item["start"]).astimezone(UTC) for day in data.values() for item in day]


class Clock:
    """A clock a test can move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def get_slots(http: httpx.AsyncClient, start: str, end: str, *, event_type_id: int = 1001,
                    **params: Any) -> dict[str, list[dict[str, Any]]]:
    response = await http.get("/v2/slots", params={"eventTypeId": event_type_id, "start": start, "end": end,
                                                    **params}, headers=SLOTS)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    return response.json()["data"]


async def book(http: httpx.AsyncClient, start: datetime | str, *, event_type_id: int = 1001, name: str = "Ana Diaz",
               email: str = "ana@example.com", time_zone: str = "Europe/London", **extra: Any) -> httpx.Response:
    body = {"start": start if isinstance(start, str) else wire(start), "eventTypeId": event_type_id,
            "attendee": {"name": name, "email": email, "timeZone": time_zone}, **extra}
    return await http.post("/v2/bookings", json=body, headers=BOOKINGS)


async def booked(http: httpx.AsyncClient, start: datetime | str, **kwargs: Any) -> dict[str, Any]:
    response = await book(http, start, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def refused(response: httpx.Response, message: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["message"] == message
    if status == 400:
        assert body["error"]["code"] == "BadRequestException"


async def get_booking(http: httpx.AsyncClient, uid: str) -> dict[str, Any]:
    response = await http.get(f"/v2/bookings/{uid}", headers=BOOKINGS)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def cancel(http: httpx.AsyncClient, uid: str, reason: str | None = None) -> httpx.Response:
    body = {"cancellationReason": reason} if reason else {}
    return await http.post(f"/v2/bookings/{uid}/cancel", json=body, headers=BOOKINGS)


async def reschedule(http: httpx.AsyncClient, uid: str, start: datetime, **extra: Any) -> httpx.Response:
    return await http.post(f"/v2/bookings/{uid}/reschedule", json={"start": wire(start), **extra},
                           headers=BOOKINGS)


async def list_bookings(http: httpx.AsyncClient, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    response = await http.get("/v2/bookings", params=params, headers=BOOKINGS)
    assert response.status_code == 200, response.text
    return response.json()["data"], response.json()["pagination"]


class Connector:
    """Spec-checked HTTP clients (raw and calbot's) into any sandbox a test builds with make_sandbox."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self.stack = stack
        self.transports: list[SpecCheckingTransport] = []

    def _transport(self, sandbox: Sandbox) -> SpecCheckingTransport:
        transport = SpecCheckingTransport(sandbox.transport())
        self.transports.append(transport)
        return transport

    async def http(self, sandbox: Sandbox, *, key: bool = True) -> httpx.AsyncClient:
        return await self.stack.enter_async_context(httpx.AsyncClient(
            base_url=ORIGIN, transport=self._transport(sandbox), headers=KEY if key else {}))

    async def client(self, sandbox: Sandbox) -> CalcomClient:
        return await self.stack.enter_async_context(
            CalcomClient(SANDBOX_API_KEY, EMBEDDED_BASE_URL, transport=self._transport(sandbox)))


@pytest.fixture
async def connect() -> AsyncIterator[Connector]:
    async with AsyncExitStack() as stack:
        connector = Connector(stack)
        yield connector
    failures = [failure for transport in connector.transports for failure in transport.failures]
    if failures:
        pytest.fail("exchange(s) did not match the Cal.com OpenAPI document:\n\n" + "\n\n".join(failures),
                    pytrace=False)


# -- availability from the host schedule -------------------------------------------------------------------------------
async def test_default_schedule_offers_weekday_slots_0900_to_1630_host_time_every_30_minutes(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24")
    assert list(data) == ["2026-11-24"]
    assert instants(data) == [utc(2026, 11, 24, 9) + timedelta(minutes=30 * i) for i in range(16)]
    assert instants(data)[-1] == utc(2026, 11, 24, 16, 30)


async def test_slot_step_equals_event_length_and_last_60_minute_slot_ends_at_closing(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24", event_type_id=1002, format="range")
    assert times(data, "2026-11-24") == every("09:00", "16:00", 60)
    last = data["2026-11-24"][-1]
    assert parse(last["end"]) == utc(2026, 11, 24, 17, 0)


async def test_weekend_dates_are_left_out_of_the_slots_map(cal):
    data = await get_slots(cal, "2026-11-27", "2026-11-30")
    assert list(data) == ["2026-11-27", "2026-11-30"]  # Saturday 28 and Sunday 29 have no key at all


async def test_nothing_free_answers_an_empty_data_object(cal):
    response = await cal.get("/v2/slots", params={"eventTypeId": 1001, "start": "2026-11-28", "end": "2026-11-29"},
                             headers=SLOTS)
    assert response.status_code == 200
    assert response.json() == {"status": "success", "data": {}}


async def test_configured_days_and_hours_replace_the_default_schedule(make_sandbox, connect):
    sandbox = make_sandbox(schedule=WeeklySchedule.parse("tue,thu", "10:00-12:30"))
    http = await connect.http(sandbox)
    data30 = await get_slots(http, "2026-11-23", "2026-11-29")
    assert list(data30) == ["2026-11-24", "2026-11-26"]
    assert times(data30, "2026-11-24") == ["10:00", "10:30", "11:00", "11:30", "12:00"]
    data60 = await get_slots(http, "2026-11-23", "2026-11-29", event_type_id=1002)
    assert times(data60, "2026-11-26") == ["10:00", "11:00"]  # 12:00 would end at 13:00, after closing
    refused(await book(http, utc(2026, 11, 25, 10)), MSG_SLOT_TAKEN)  # Wednesday is not a working day
    refused(await book(http, utc(2026, 11, 24, 9, 30)), MSG_SLOT_TAKEN)  # before opening


async def test_a_slot_must_end_by_closing_time(make_sandbox, connect):
    sandbox = make_sandbox(schedule=WeeklySchedule.parse("mon-fri", "09:00-16:45"))
    http = await connect.http(sandbox)
    assert times(await get_slots(http, "2026-11-24", "2026-11-24"), "2026-11-24")[-1] == "16:00"
    assert times(await get_slots(http, "2026-11-24", "2026-11-24", event_type_id=1002), "2026-11-24")[-1] == "15:00"
    refused(await book(http, utc(2026, 11, 24, 16, 30)), MSG_SLOT_TAKEN)  # 16:30-17:00 runs past 16:45
    refused(await book(http, utc(2026, 11, 24, 16), event_type_id=1002), MSG_SLOT_TAKEN)
    assert (await booked(http, utc(2026, 11, 24, 16)))["end"] == "2026-11-24T16:30:00.000Z"


async def test_hours_ending_at_midnight_offer_the_last_slot_before_midnight(make_sandbox, connect):
    sandbox = make_sandbox(schedule=WeeklySchedule.parse("mon-sun", "00:00-24:00"))
    http = await connect.http(sandbox)
    data = await get_slots(http, "2026-11-24", "2026-11-24")
    assert times(data, "2026-11-24") == every("00:00", "23:30", 30)
    created = await booked(http, utc(2026, 11, 24, 23, 30))
    assert created["end"] == "2026-11-25T00:00:00.000Z"


# -- minimum notice and booking window ---------------------------------------------------------------------------------
async def test_no_slot_starts_within_the_two_hour_minimum_notice(cal):
    data = await get_slots(cal, "2026-11-23", "2026-11-23")  # now is Monday 08:00 UTC
    assert times(data, "2026-11-23") == every("10:00", "16:30", 30)


async def test_minimum_notice_is_measured_from_the_exact_current_minute(make_sandbox, connect):
    http = await connect.http(make_sandbox(clock=lambda: utc(2026, 11, 23, 8, 1)))
    data = await get_slots(http, "2026-11-23", "2026-11-23")
    assert times(data, "2026-11-23")[0] == "10:30"  # 10:00 is 119 minutes away
    refused(await book(http, utc(2026, 11, 23, 10)), MSG_OUT_OF_BOUNDS)


async def test_booking_inside_minimum_notice_is_refused_as_too_soon(cal):
    refused(await book(cal, utc(2026, 11, 23, 9, 30)), MSG_OUT_OF_BOUNDS)
    assert (await booked(cal, utc(2026, 11, 23, 10)))["start"] == "2026-11-23T10:00:00.000Z"


async def test_booking_in_the_past_is_refused(cal):
    refused(await book(cal, utc(2026, 11, 23, 7, 30)), MSG_PAST)
    refused(await book(cal, utc(2026, 11, 20, 10)), MSG_PAST)


async def test_booking_window_days_covers_today_plus_n_calendar_days_in_the_host_zone(make_sandbox, connect):
    window = tuple(replace(et, booking_window_days=3) for et in default_event_types())
    http = await connect.http(make_sandbox(event_types=window))
    data = await get_slots(http, "2026-11-23", "2026-12-04")
    assert list(data) == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert times(data, "2026-11-26") == every("09:00", "16:30", 30)  # the whole third day, not only up to 08:00
    refused(await book(http, utc(2026, 11, 27, 9)), MSG_OUT_OF_BOUNDS)
    assert (await booked(http, utc(2026, 11, 26, 16, 30)))["start"] == "2026-11-26T16:30:00.000Z"


# -- slots in the requested time zone ----------------------------------------------------------------------------------
async def test_slot_keys_are_dates_in_the_requested_zone(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24", timeZone="Asia/Tokyo")
    # 09:00-17:00 London (= UTC in November) is 18:00-02:00 in Tokyo: one London day spans two Tokyo dates.
    assert list(data) == ["2026-11-24", "2026-11-25"]
    assert times(data, "2026-11-24") == every("18:00", "23:30", 30)
    assert times(data, "2026-11-25") == every("00:00", "01:30", 30)
    assert data["2026-11-25"][-1]["start"] == "2026-11-25T01:30:00.000+09:00"


async def test_slot_starts_carry_the_berlin_offset_in_november(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24", timeZone="Europe/Berlin")
    assert data["2026-11-24"][0] == {"start": "2026-11-24T10:00:00.000+01:00"}
    assert data["2026-11-24"][-1] == {"start": "2026-11-24T17:30:00.000+01:00"}


async def test_slot_starts_carry_the_new_york_offset_in_november(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24", timeZone="America/New_York")
    assert data["2026-11-24"][0] == {"start": "2026-11-24T04:00:00.000-05:00"}
    assert data["2026-11-24"][-1] == {"start": "2026-11-24T11:30:00.000-05:00"}


async def test_range_format_adds_the_end_in_the_requested_zone(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-24", event_type_id=1002, timeZone="Europe/Berlin",
                           format="range")
    assert data["2026-11-24"][0] == {"start": "2026-11-24T10:00:00.000+01:00", "end": "2026-11-24T11:00:00.000+01:00"}
    assert data["2026-11-24"][-1] == {"start": "2026-11-24T17:00:00.000+01:00",
                                      "end": "2026-11-24T18:00:00.000+01:00"}


async def test_date_only_start_and_end_cover_whole_utc_days(cal):
    data = await get_slots(cal, "2026-11-24", "2026-11-25")
    assert list(data) == ["2026-11-24", "2026-11-25"]
    assert instants(data)[0] == utc(2026, 11, 24, 9) and instants(data)[-1] == utc(2026, 11, 25, 16, 30)
    assert len(instants(data)) == 32
    same = await get_slots(cal, "2026-11-24T00:00:00Z", "2026-11-25T23:59:59Z")
    assert instants(same) == instants(data)


# -- DST in the host's zone (Europe/London) ----------------------------------------------------------------------------
async def test_host_spring_forward_keeps_0900_local_so_utc_start_moves_an_hour_earlier(make_sandbox, connect):
    sandbox = make_sandbox(clock=lambda: utc(2027, 3, 20, 12))  # the UK springs forward on Sunday 28 March 2027
    http = await connect.http(sandbox)
    local = await get_slots(http, "2027-03-26", "2027-03-29", timeZone="Europe/London")
    assert list(local) == ["2027-03-26", "2027-03-29"]
    assert local["2027-03-26"][0]["start"] == "2027-03-26T09:00:00.000+00:00"
    assert local["2027-03-29"][0]["start"] == "2027-03-29T09:00:00.000+01:00"
    assert times(local, "2027-03-26") == times(local, "2027-03-29") == every("09:00", "16:30", 30)
    in_utc = await get_slots(http, "2027-03-26", "2027-03-29")
    assert in_utc["2027-03-26"][0]["start"][11:16] == "09:00" and in_utc["2027-03-29"][0]["start"][11:16] == "08:00"
    assert (await booked(http, utc(2027, 3, 29, 8)))["start"] == "2027-03-29T08:00:00.000Z"
    refused(await book(http, utc(2027, 3, 29, 16, 30)), MSG_SLOT_TAKEN)  # 17:30 BST: after closing
    assert (await booked(http, utc(2027, 3, 26, 16, 30)))["end"] == "2027-03-26T17:00:00.000Z"  # still GMT


async def test_host_fall_back_keeps_0900_local_so_utc_start_moves_an_hour_later(make_sandbox, connect):
    sandbox = make_sandbox(clock=lambda: utc(2027, 10, 23, 12))  # the UK falls back on Sunday 31 October 2027
    client = await connect.client(sandbox)
    friday = await client.slots(1001, utc(2027, 10, 29), utc(2027, 10, 29, 23, 59), time_zone="Europe/London")
    monday = await client.slots(1001, utc(2027, 11, 1), utc(2027, 11, 1, 23, 59), time_zone="Europe/London")
    assert (friday[0].start, friday[-1].end) == (utc(2027, 10, 29, 8), utc(2027, 10, 29, 16))
    assert (monday[0].start, monday[-1].end) == (utc(2027, 11, 1, 9), utc(2027, 11, 1, 17))
    assert len(friday) == len(monday) == 16


# -- DST in the attendee's zone (America/New_York) ---------------------------------------------------------------------
async def test_attendee_offsets_switch_to_minus_four_after_us_spring_forward_while_london_hours_stay(
        make_sandbox, connect):
    http = await connect.http(make_sandbox(clock=lambda: utc(2027, 3, 8, 12)))  # US switches Sunday 14 March 2027
    data = await get_slots(http, "2027-03-12", "2027-03-15", timeZone="America/New_York")
    assert list(data) == ["2027-03-12", "2027-03-15"]
    assert data["2027-03-12"][0]["start"] == "2027-03-12T04:00:00.000-05:00"
    assert data["2027-03-12"][-1]["start"] == "2027-03-12T11:30:00.000-05:00"
    assert data["2027-03-15"][0]["start"] == "2027-03-15T05:00:00.000-04:00"
    assert data["2027-03-15"][-1]["start"] == "2027-03-15T12:30:00.000-04:00"
    # The host's hours did not move: 09:00-17:00 GMT on both days.
    assert instants(data)[0] == utc(2027, 3, 12, 9) and instants(data)[-1] == utc(2027, 3, 15, 16, 30)


async def test_booking_at_a_new_york_wall_time_lands_on_the_right_utc_instant(make_sandbox, connect):
    sandbox = make_sandbox(clock=lambda: utc(2027, 3, 8, 12))
    client = await connect.client(sandbox)
    http = await connect.http(sandbox)
    attendee = NewAttendee(name="Nia Brooks", email="nia@example.com", timeZone="America/New_York")
    after = await client.create_booking(CreateBookingRequest(
        start=datetime(2027, 3, 15, 10, 30, tzinfo=NEW_YORK), eventTypeId=1001, attendee=attendee))
    before = await client.create_booking(CreateBookingRequest(
        start=datetime(2027, 3, 12, 10, 30, tzinfo=NEW_YORK), eventTypeId=1001, attendee=attendee))
    assert (after.start, after.end) == (utc(2027, 3, 15, 14, 30), utc(2027, 3, 15, 15))  # EDT, -04:00
    assert (before.start, before.end) == (utc(2027, 3, 12, 15, 30), utc(2027, 3, 12, 16))  # EST, -05:00
    assert after.attendees[0].time_zone == "America/New_York"
    data = await get_slots(http, "2027-03-12", "2027-03-15", timeZone="America/New_York")
    assert "10:30" not in times(data, "2027-03-15") and "10:00" in times(data, "2027-03-15")
    assert "10:30" not in times(data, "2027-03-12") and "11:00" in times(data, "2027-03-12")


# -- bookingUidToReschedule --------------------------------------------------------------------------------------------
async def test_booking_uid_to_reschedule_frees_only_that_bookings_own_slot(cal, client):
    mine = await booked(cal, utc(2026, 11, 24, 10))
    await booked(cal, utc(2026, 11, 24, 11), email="other@example.com")
    plain = await get_slots(cal, "2026-11-24", "2026-11-24")
    assert "10:00" not in times(plain, "2026-11-24") and "11:00" not in times(plain, "2026-11-24")
    freed = await get_slots(cal, "2026-11-24", "2026-11-24", bookingUidToReschedule=mine["uid"])
    assert "10:00" in times(freed, "2026-11-24") and "11:00" not in times(freed, "2026-11-24")
    starts = [s.start for s in await client.slots(1001, utc(2026, 11, 24), utc(2026, 11, 24, 23, 59),
                                                   time_zone="UTC", booking_uid_to_reschedule=mine["uid"])]
    assert utc(2026, 11, 24, 10) in starts and utc(2026, 11, 24, 11) not in starts


# -- create ------------------------------------------------------------------------------------------------------------
async def test_create_sets_end_to_start_plus_the_event_length(cal):
    short = await booked(cal, utc(2026, 11, 24, 10))
    long = await booked(cal, utc(2026, 11, 24, 11), event_type_id=1002)
    assert (short["start"], short["end"], short["duration"]) == ("2026-11-24T10:00:00.000Z",
                                                                  "2026-11-24T10:30:00.000Z", 30)
    assert (long["start"], long["end"], long["duration"]) == ("2026-11-24T11:00:00.000Z",
                                                               "2026-11-24T12:00:00.000Z", 60)
    assert short["status"] == "accepted" and short["eventType"] == {"id": 1001, "slug": "30min"}
    assert short["hosts"][0]["email"] == HOST_EMAIL


async def test_length_in_minutes_on_a_multi_length_event_type_sets_the_end(make_sandbox, connect):
    http = await connect.http(make_sandbox(event_types=(*default_event_types(), FLEX)))
    sixty = await booked(http, utc(2026, 11, 24, 10), event_type_id=2001, lengthInMinutes=60)
    fifteen = await booked(http, utc(2026, 11, 24, 12), event_type_id=2001, lengthInMinutes=15)
    default = await booked(http, utc(2026, 11, 24, 13), event_type_id=2001)
    assert (sixty["end"], sixty["duration"]) == ("2026-11-24T11:00:00.000Z", 60)
    assert (fifteen["end"], fifteen["duration"]) == ("2026-11-24T12:15:00.000Z", 15)
    assert (default["end"], default["duration"]) == ("2026-11-24T13:30:00.000Z", 30)
    refused(await book(http, utc(2026, 11, 24, 14), event_type_id=2001, lengthInMinutes=45),
            msg_length_not_allowed((15, 30, 60)))
    refused(await book(http, utc(2026, 11, 24, 14), event_type_id=1001, lengthInMinutes=30), MSG_SINGLE_LENGTH)


async def test_a_taken_slot_is_refused_with_cal_coms_message(cal, sandbox):
    await booked(cal, utc(2026, 11, 24, 10))
    refused(await book(cal, utc(2026, 11, 24, 10), email="late@example.com"), MSG_SLOT_TAKEN)
    assert sandbox.store.count() == 1


async def test_a_60_minute_booking_blocks_both_30_minute_slots_it_covers(cal):
    await booked(cal, utc(2026, 11, 24, 10), event_type_id=1002)
    day = times(await get_slots(cal, "2026-11-24", "2026-11-24"), "2026-11-24")
    assert "09:30" in day and "10:00" not in day and "10:30" not in day and "11:00" in day
    refused(await book(cal, utc(2026, 11, 24, 10, 30)), MSG_SLOT_TAKEN)  # partial overlap, second half
    refused(await book(cal, utc(2026, 11, 24, 9, 30), event_type_id=1002), MSG_SLOT_TAKEN)  # overlaps first half
    assert (await booked(cal, utc(2026, 11, 24, 11)))["start"] == "2026-11-24T11:00:00.000Z"  # touching is fine
    assert (await booked(cal, utc(2026, 11, 24, 9, 30)))["end"] == "2026-11-24T10:00:00.000Z"


async def test_attendee_time_zone_language_and_guests_are_kept(cal):
    created = await booked(cal, utc(2026, 11, 24, 10), name="Aiko Sato", email="aiko@example.com",
                           time_zone="Asia/Tokyo", guests=["g1@example.com", "g2@example.com"])
    for booking in (created, await get_booking(cal, created["uid"])):
        assert booking["attendees"][0]["name"] == "Aiko Sato"
        assert booking["attendees"][0]["timeZone"] == "Asia/Tokyo"
        assert booking["guests"] == ["g1@example.com", "g2@example.com"]
        assert [a["email"] for a in booking["attendees"]] == ["aiko@example.com", "g1@example.com", "g2@example.com"]
        assert HOST_EMAIL not in [a["email"] for a in booking["attendees"]]


async def test_requires_confirmation_booking_is_pending_and_still_blocks_the_slot(make_sandbox, connect):
    http = await connect.http(make_sandbox(event_types=(*default_event_types(), CONFIRM)))
    pending = await booked(http, utc(2026, 11, 24, 10), event_type_id=2002)
    assert pending["status"] == "pending"
    assert "10:00" not in times(await get_slots(http, "2026-11-24", "2026-11-24"), "2026-11-24")
    refused(await book(http, utc(2026, 11, 24, 10), email="b@example.com"), MSG_SLOT_TAKEN)
    refused(await book(http, utc(2026, 11, 24, 10), event_type_id=2002, email="c@example.com"), MSG_SLOT_TAKEN)


# -- cancel ------------------------------------------------------------------------------------------------------------
async def test_cancel_marks_cancelled_keeps_the_reason_and_frees_the_slot(cal):
    created = await booked(cal, utc(2026, 11, 24, 10))
    response = await cancel(cal, created["uid"], "Double-booked")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    stored = await get_booking(cal, created["uid"])
    assert (stored["status"], stored["cancellationReason"]) == ("cancelled", "Double-booked")
    assert "10:00" in times(await get_slots(cal, "2026-11-24", "2026-11-24"), "2026-11-24")
    again = await booked(cal, utc(2026, 11, 24, 10), email="next@example.com")
    assert again["uid"] != created["uid"] and again["status"] == "accepted"


async def test_cancelling_twice_is_refused(cal):
    created = await booked(cal, utc(2026, 11, 24, 10))
    assert (await cancel(cal, created["uid"])).status_code == 200
    refused(await cancel(cal, created["uid"], "again"), msg_cancelled_already(created["uid"]))


# -- reschedule --------------------------------------------------------------------------------------------------------
async def test_reschedule_makes_a_new_booking_and_cancels_the_old_one_pointing_to_it(cal):
    old = await booked(cal, utc(2026, 11, 24, 10))
    response = await reschedule(cal, old["uid"], utc(2026, 11, 25, 14), reschedulingReason="Clash")
    assert response.status_code == 201, response.text
    new = response.json()["data"]
    assert new["uid"] != old["uid"]
    assert (new["start"], new["end"], new["status"]) == ("2026-11-25T14:00:00.000Z", "2026-11-25T14:30:00.000Z",
                                                         "accepted")
    assert new["rescheduledFromUid"] == old["uid"]
    before = await get_booking(cal, old["uid"])
    assert (before["status"], before["rescheduledToUid"]) == ("cancelled", new["uid"])
    assert "10:00" in times(await get_slots(cal, "2026-11-24", "2026-11-24"), "2026-11-24")
    refused(await reschedule(cal, old["uid"], utc(2026, 11, 26, 14)),
            msg_reschedule_rescheduled(old["uid"], new["uid"]))


async def test_reschedule_uses_the_event_types_default_length_not_the_old_bookings(make_sandbox, connect):
    http = await connect.http(make_sandbox(event_types=(*default_event_types(), FLEX)))
    old = await booked(http, utc(2026, 11, 24, 10), event_type_id=2001, lengthInMinutes=60)
    assert old["duration"] == 60
    response = await reschedule(http, old["uid"], utc(2026, 11, 25, 10))
    assert response.status_code == 201, response.text
    new = response.json()["data"]
    assert (new["end"], new["duration"]) == ("2026-11-25T10:30:00.000Z", 30)


async def test_reschedule_copies_attendee_guests_metadata_and_responses(cal):
    old = await booked(cal, utc(2026, 11, 24, 10), name="Ana Diaz", email="ana@example.com",
                       time_zone="Europe/Madrid", guests=["bob@example.com"],
                       metadata={"source": "chatbot", "conv": "c-42"},
                       bookingFieldsResponses={"notes": "Intro call"})
    response = await reschedule(cal, old["uid"], utc(2026, 11, 26, 15))
    assert response.status_code == 201, response.text
    new = response.json()["data"]
    assert new["attendees"][0]["name"] == "Ana Diaz"
    assert new["attendees"][0]["email"] == "ana@example.com"
    assert new["attendees"][0]["timeZone"] == "Europe/Madrid"
    assert new["guests"] == ["bob@example.com"]
    assert [a["email"] for a in new["attendees"]] == ["ana@example.com", "bob@example.com"]
    assert new["metadata"] == {"source": "chatbot", "conv": "c-42"}
    assert new["bookingFieldsResponses"]["notes"] == "Intro call"
    assert new["bookingFieldsResponses"]["email"] == "ana@example.com"


async def test_rescheduling_into_an_overlapping_part_of_its_own_slot_is_allowed(cal):
    old = await booked(cal, utc(2026, 11, 24, 10), event_type_id=1002)  # 10:00-11:00
    await booked(cal, utc(2026, 11, 24, 12), event_type_id=1002, email="other@example.com")  # 12:00-13:00
    response = await reschedule(cal, old["uid"], utc(2026, 11, 24, 10, 30))  # 10:30-11:30 overlaps its old self
    assert response.status_code == 201, response.text
    moved = response.json()["data"]
    assert (moved["start"], moved["end"]) == ("2026-11-24T10:30:00.000Z", "2026-11-24T11:30:00.000Z")
    refused(await reschedule(cal, moved["uid"], utc(2026, 11, 24, 11, 30)), MSG_SLOT_TAKEN)  # other's 12:00


async def test_reschedule_by_the_host_is_accepted_and_by_the_attendee_pending_on_a_confirmation_type(
        make_sandbox, connect):
    http = await connect.http(make_sandbox(event_types=(*default_event_types(), CONFIRM)))
    first = await booked(http, utc(2026, 11, 24, 10), event_type_id=2002, email="ana@example.com")
    second = await booked(http, utc(2026, 11, 24, 11), event_type_id=2002, email="bob@example.com")
    third = await booked(http, utc(2026, 11, 24, 12), event_type_id=2002, email="cy@example.com")
    by_host = await reschedule(http, first["uid"], utc(2026, 11, 25, 10), rescheduledBy=HOST_EMAIL.upper())
    by_attendee = await reschedule(http, second["uid"], utc(2026, 11, 25, 11), rescheduledBy="bob@example.com")
    by_nobody = await reschedule(http, third["uid"], utc(2026, 11, 25, 12))
    assert [r.status_code for r in (by_host, by_attendee, by_nobody)] == [201, 201, 201]
    assert by_host.json()["data"]["status"] == "accepted"
    assert by_attendee.json()["data"]["status"] == "pending"
    assert by_nobody.json()["data"]["status"] == "pending"


# -- list --------------------------------------------------------------------------------------------------------------
@pytest.fixture
async def history(make_sandbox, connect) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """Five bookings made on Monday 23 Nov 08:00, seen from Wednesday 25 Nov 12:00 UTC:
    b1 Tue 10:00 Ana (past), b2 Wed 10:00-11:00 Bob + guest ana (past), b3 Thu 10:00 Carol (cancelled),
    b4 Fri 10:00 Dan (pending), b5 Mon 30 10:00 Ana (upcoming)."""
    clock = Clock(FIXED_NOW)
    http = await connect.http(make_sandbox(clock=clock, event_types=(*default_event_types(), CONFIRM)))
    uids = {
        "b1": (await booked(http, utc(2026, 11, 24, 10), email="ana@example.com"))["uid"],
        "b2": (await booked(http, utc(2026, 11, 25, 10), event_type_id=1002, name="Bob", email="bob@example.com",
                            guests=["ana@example.com"]))["uid"],
        "b3": (await booked(http, utc(2026, 11, 26, 10), name="Carol", email="carol@example.com"))["uid"],
        "b4": (await booked(http, utc(2026, 11, 27, 10), event_type_id=2002, name="Dan",
                            email="dan@example.com"))["uid"],
        "b5": (await booked(http, utc(2026, 11, 30, 10), email="ana@example.com"))["uid"],
    }
    assert (await cancel(http, uids["b3"], "No longer needed")).status_code == 200
    clock.now = utc(2026, 11, 25, 12)
    return http, {uid: name for name, uid in uids.items()}


def names(items: list[dict[str, Any]], by_uid: dict[str, str]) -> list[str]:
    return [by_uid[item["uid"]] for item in items]


@pytest.mark.parametrize(("status", "expected"), [
    ("upcoming", ["b4", "b5"]),
    ("past", ["b1", "b2"]),
    ("cancelled", ["b3"]),
    ("unconfirmed", ["b4"]),
    ("past,cancelled", ["b1", "b2", "b3"]),
    ("upcoming,unconfirmed", ["b4", "b5"]),
])
async def test_list_filters_by_status(history, status, expected):
    http, by_uid = history
    items, pagination = await list_bookings(http, status=status, sortStart="asc")
    assert names(items, by_uid) == expected
    assert pagination["totalItems"] == len(expected)


async def test_list_attendee_email_is_case_insensitive_matches_guests_and_never_the_host(history):
    http, by_uid = history
    items, _ = await list_bookings(http, attendeeEmail="ANA@Example.COM", sortStart="asc")
    assert names(items, by_uid) == ["b1", "b2", "b5"]  # b2: ana is a guest of Bob's booking
    assert (await list_bookings(http, attendeeEmail=HOST_EMAIL))[0] == []
    assert names((await list_bookings(http, attendeeEmail="bob@example.com"))[0], by_uid) == ["b2"]


async def test_list_after_start_and_before_end_are_inclusive_bounds_on_start_and_end(history):
    http, by_uid = history
    after, _ = await list_bookings(http, afterStart="2026-11-25T10:00:00.000Z", sortStart="asc")
    assert names(after, by_uid) == ["b2", "b3", "b4", "b5"]
    before, _ = await list_bookings(http, beforeEnd="2026-11-27T10:30:00.000Z", sortStart="asc")
    assert names(before, by_uid) == ["b1", "b2", "b3", "b4"]
    both, _ = await list_bookings(http, afterStart="2026-11-25T10:00:00.000Z", beforeEnd="2026-11-27T10:30:00.000Z",
                                  sortStart="asc")
    assert names(both, by_uid) == ["b2", "b3", "b4"]
    just_inside, _ = await list_bookings(http, afterStart="2026-11-24T10:00:00.001Z",
                                         beforeEnd="2026-11-27T10:29:59.999Z", sortStart="asc")
    assert names(just_inside, by_uid) == ["b2", "b3"]


async def test_list_sorts_by_start_ascending_or_descending(history):
    http, by_uid = history
    assert names((await list_bookings(http, sortStart="asc"))[0], by_uid) == ["b1", "b2", "b3", "b4", "b5"]
    assert names((await list_bookings(http, sortStart="desc"))[0], by_uid) == ["b5", "b4", "b3", "b2", "b1"]


async def test_list_take_and_skip_fill_the_pagination_object(history):
    http, by_uid = history
    first, p1 = await list_bookings(http, take=2, skip=0, sortStart="asc")
    middle, p2 = await list_bookings(http, take=2, skip=2, sortStart="asc")
    last, p3 = await list_bookings(http, take=2, skip=4, sortStart="asc")
    assert [names(first, by_uid), names(middle, by_uid), names(last, by_uid)] == [["b1", "b2"], ["b3", "b4"], ["b5"]]
    assert p1 == {"totalItems": 5, "remainingItems": 3, "returnedItems": 2, "itemsPerPage": 2, "currentPage": 1,
                  "totalPages": 3, "hasNextPage": True, "hasPreviousPage": False}
    assert p2 == {"totalItems": 5, "remainingItems": 1, "returnedItems": 2, "itemsPerPage": 2, "currentPage": 2,
                  "totalPages": 3, "hasNextPage": True, "hasPreviousPage": True}
    assert p3 == {"totalItems": 5, "remainingItems": 0, "returnedItems": 1, "itemsPerPage": 2, "currentPage": 3,
                  "totalPages": 3, "hasNextPage": False, "hasPreviousPage": True}


def weekday_slots(first: date, count: int) -> Iterator[datetime]:
    """`count` 30-minute slot starts on weekdays from `first`, 09:00-16:30 UTC (London in winter)."""
    day = first
    while count:
        if day.weekday() < 5:
            for i in range(min(16, count)):
                yield datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9, minutes=30 * i)
                count -= 1
        day += timedelta(days=1)


async def test_client_pages_through_more_than_250_bookings(sandbox, client):
    starts = list(weekday_slots(date(2026, 11, 24), 301))
    for i, start in enumerate(starts):
        sandbox.calendar.create(NewBooking(start=start, event_type_id=1001, attendee_name=f"Guest {i}",
                                           attendee_email=f"p{i}@example.com", attendee_time_zone="Europe/London"))
    found = await client.list_bookings(page_size=250)
    assert len(found) == 301 and len({b.uid for b in found}) == 301
    assert [b.start for b in found] == starts
    newest_first = await client.list_bookings(sort_start="desc", page_size=250)
    assert newest_first[0].start == starts[-1] and newest_first[-1].start == starts[0]


# -- persistence -------------------------------------------------------------------------------------------------------
async def test_bookings_survive_closing_and_reopening_a_file_database(make_sandbox, connect, tmp_path: Path):
    path = tmp_path / "s.db"
    first = make_sandbox(db=path)
    created = await booked(await connect.http(first), utc(2026, 11, 24, 10))
    first.close()
    second = make_sandbox(db=path)
    http = await connect.http(second)
    assert await get_booking(http, created["uid"]) == created
    refused(await book(http, utc(2026, 11, 24, 10), email="late@example.com"), MSG_SLOT_TAKEN)
    assert (await booked(http, utc(2026, 11, 24, 11)))["id"] == created["id"] + 1
    second.close()
    reopened = Sandbox.open(path, reset=True, clock=lambda: FIXED_NOW)
    try:
        assert reopened.store.count() == 0
        http = await connect.http(reopened)
        assert (await http.get(f"/v2/bookings/{created['uid']}", headers=BOOKINGS)).status_code == 404
        assert (await list_bookings(http))[0] == []
        assert "10:00" in times(await get_slots(http, "2026-11-24", "2026-11-24"), "2026-11-24")
    finally:
        reopened.close()


# -- concurrency -------------------------------------------------------------------------------------------------------
async def test_twenty_concurrent_creates_of_one_slot_give_exactly_one_booking(cal, sandbox):
    responses = await asyncio.gather(*(book(cal, utc(2026, 11, 24, 10), email=f"p{i}@example.com")
                                       for i in range(20)))
    assert sorted(r.status_code for r in responses) == [201] + [400] * 19
    for response in responses:
        if response.status_code == 400:
            refused(response, MSG_SLOT_TAKEN)
    assert sandbox.store.count() == 1


def test_eight_sandboxes_on_one_sqlite_file_book_the_same_slot_exactly_once(make_sandbox, tmp_path: Path,
                                                                             monkeypatch):
    path = tmp_path / "shared.db"
    check = SandboxCalendar._check_bookable

    def slow_check(self: SandboxCalendar, *args: Any, **kwargs: Any) -> None:
        check(self, *args, **kwargs)
        time.sleep(0.01)  # widen the gap between "the slot is free" and the insert: it must not matter

    monkeypatch.setattr(SandboxCalendar, "_check_bookable", slow_check)
    sandboxes = [make_sandbox(db=path) for _ in range(8)]  # eight connections, eight locks: only SQLite serialises
    barrier = threading.Barrier(len(sandboxes))
    results: list[tuple[int, dict[str, Any]] | BaseException] = [RuntimeError("did not run")] * len(sandboxes)

    def run(index: int) -> None:
        async def create() -> tuple[int, dict[str, Any]]:
            async with httpx.AsyncClient(base_url=ORIGIN, transport=sandboxes[index].transport(),
                                         headers=KEY) as http:
                barrier.wait(timeout=10)
                response = await book(http, utc(2026, 11, 24, 10), email=f"t{index}@example.com")
                return response.status_code, response.json()
        try:
            results[index] = asyncio.run(create())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sandboxes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(r, tuple) for r in results), results
    statuses = sorted(r[0] for r in results)  # type: ignore[index]
    assert statuses == [201] + [400] * 7, results
    assert all(r[1]["error"]["message"] == MSG_SLOT_TAKEN for r in results if r[0] == 400)  # type: ignore[index]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT status, start_ms FROM bookings").fetchall()
    assert rows == [("accepted", int(utc(2026, 11, 24, 10).timestamp() * 1000))]


# -- auth and versions -------------------------------------------------------------------------------------------------
async def test_slots_need_no_api_key(anon):
    response = await anon.get("/v2/slots", params={"eventTypeId": 1001, "start": "2026-11-24", "end": "2026-11-24"},
                              headers=SLOTS)
    assert response.status_code == 200
    assert len(response.json()["data"]["2026-11-24"]) == 16


async def test_event_types_with_the_key_list_both_default_types(cal):
    response = await cal.get("/v2/event-types", headers=EVENT_TYPES)
    assert response.status_code == 200
    types = response.json()["data"]
    assert [(t["id"], t["slug"], t["lengthInMinutes"]) for t in types] == [(1001, "30min", 30), (1002, "60min", 60)]
    assert all(t["minimumBookingNotice"] == 120 for t in types)


@pytest.mark.parametrize("version", ["2024-04-15", "2024-06-11", "2024-06-14", "2024-08-13", "2024-09-04"])
async def test_me_answers_with_any_valid_version(cal, version):
    response = await cal.get("/v2/me", headers={"cal-api-version": version})
    assert response.status_code == 200
    me = response.json()["data"]
    assert (me["email"], me["timeZone"]) == (HOST_EMAIL, "Europe/London")


async def test_me_and_the_bookings_list_need_the_key(sandbox):
    # Not through the spec-checking transport: the spec itself marks Authorization required on these operations.
    async with httpx.AsyncClient(base_url=ORIGIN, transport=sandbox.transport()) as anonymous:
        for path in ("/v2/me", "/v2/bookings"):
            response = await anonymous.get(path, headers=BOOKINGS)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "UnauthorizedException"


async def test_me_reports_a_configured_host_zone(make_sandbox, connect):
    client = await connect.client(make_sandbox(host=SandboxHost(time_zone="America/New_York")))
    assert (await client.me()).time_zone == "America/New_York"


# -- rate limit --------------------------------------------------------------------------------------------------------
async def test_fourth_request_in_the_window_is_throttled_with_rate_limit_headers(make_sandbox, connect):
    sandbox = make_sandbox(rate_limit=3)
    http = await connect.http(sandbox)
    remaining = []
    for _ in range(3):
        response = await http.get("/v2/me", headers=BOOKINGS)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit-Default"] == "3"
        assert 0 < int(response.headers["X-RateLimit-Reset-Default"]) <= 60
        remaining.append(response.headers["X-RateLimit-Remaining-Default"])
    assert remaining == ["2", "1", "0"]
    throttled = await http.get("/v2/me", headers=BOOKINGS)
    assert throttled.status_code == 429
    assert throttled.json()["error"] == {"code": "ThrottlerException", "message": THROTTLED_MESSAGE,
                                         "details": throttled.json()["error"]["details"]}
    assert throttled.headers["X-RateLimit-Remaining-Default"] == "0"
    assert int(throttled.headers["X-RateLimit-Reset-Default"]) > 0
    client = await connect.client(sandbox)  # same key, same bucket: calbot's client sees a RateLimitedError
    with pytest.raises(RateLimitedError) as caught:
        await client.me()
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


async def test_requests_that_reach_no_route_do_not_count_against_the_rate_limit(make_sandbox):
    sandbox = make_sandbox(rate_limit=2)
    auth = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    # Off-spec on purpose (unknown path, wrong version), so sent without the spec check.
    async with httpx.AsyncClient(base_url=ORIGIN, transport=sandbox.transport(), headers=auth) as http:
        for _ in range(3):
            assert (await http.get("/v2/nope", headers=BOOKINGS)).status_code == 404
            assert (await http.get("/v2/slots", headers=BOOKINGS)).status_code == 404  # legacy version: no route
        statuses = [(await http.get("/v2/me", headers=BOOKINGS)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
