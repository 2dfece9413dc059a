"""Seated and recurring event types in the sandbox (calbot/sandbox/seats.py, calbot/sandbox/recurring.py), over HTTP.

Cal.com's shapes (CreateSeatedBookingOutput, GetSeatedBookingOutput, RecurringBookingOutput: every exchange goes
through the spec-checking transport) and its messages (bookings.service.ts: "No more seats left at this seated
booking.", the two "Invalid seatUid" 400s). The clock is FIXED_NOW, Monday 2026-11-23 08:00 UTC; London = UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from calbot.sandbox import SANDBOX_API_KEY, Recurrence, Sandbox
from calbot.sandbox.config import SandboxEventType, default_event_types
from calbot.sandbox.recurring import _shift, msg_too_many
from calbot.sandbox.seats import MSG_SEAT_ELSEWHERE, MSG_SEAT_UNKNOWN, MSG_SEATS_FULL
from calbot.sandbox.service import MSG_SLOT_TAKEN
from tests.sandbox.conftest import ORIGIN, SpecCheckingTransport

BOOKINGS = {"cal-api-version": "2024-08-13"}
SEATED = SandboxEventType(3001, "workshop", "Workshop", 60, seats=2, minimum_notice_minutes=0)
WEEKLY = SandboxEventType(3002, "weekly", "Weekly Check-in", 30, minimum_notice_minutes=0,
                          recurrence=Recurrence("weekly", 1, 4))
TUE_10 = "2026-11-24T10:00:00.000Z"


@pytest.fixture
async def http(make_sandbox: Callable[..., Sandbox]) -> AsyncIterator[httpx.AsyncClient]:
    sandbox = make_sandbox(event_types=(*default_event_types(), SEATED, WEEKLY))
    transport = SpecCheckingTransport(sandbox.transport())
    async with httpx.AsyncClient(base_url=ORIGIN, transport=transport,
                                 headers={"Authorization": f"Bearer {SANDBOX_API_KEY}", **BOOKINGS}) as client:
        yield client
    assert not transport.failures, transport.failures


async def book(http: httpx.AsyncClient, event_type: int, who: str, start: str = TUE_10,
               **extra: Any) -> httpx.Response:
    return await http.post("/v2/bookings", json={
        "start": start, "eventTypeId": event_type, **extra,
        "attendee": {"name": who.title(), "email": f"{who}@example.com", "timeZone": "Europe/Berlin"}})


def data(response: httpx.Response) -> Any:
    return response.json()["data"]


# -- seats ---------------------------------------------------------------------------------------------------------
async def test_a_seated_event_type_says_how_many_seats(http):
    types = data(await http.get("/v2/event-types", headers={"cal-api-version": "2024-06-14"}))
    workshop = next(t for t in types if t["id"] == SEATED.id)
    assert workshop["seats"] == {"seatsPerTimeSlot": 2, "showAttendeeInfo": False, "showAvailabilityCount": True}
    assert next(t for t in types if t["id"] == 1001).get("seats") is None


async def test_the_second_booker_of_a_time_joins_the_same_booking_and_a_third_finds_no_seat(http):
    first = await book(http, SEATED.id, "ana")
    second = await book(http, SEATED.id, "bob")
    assert first.status_code == second.status_code == 201
    assert data(first)["uid"] == data(second)["uid"] and data(first)["seatUid"] != data(second)["seatUid"]
    full = await book(http, SEATED.id, "cy")
    assert full.status_code == 409 and full.json()["error"]["message"] == MSG_SEATS_FULL
    stored = data(await http.get(f"/v2/bookings/{data(first)['uid']}"))
    assert [(a["email"], a["seatUid"]) for a in stored["attendees"]] == [
        ("ana@example.com", data(first)["seatUid"]), ("bob@example.com", data(second)["seatUid"])]
    assert all(a["bookingFieldsResponses"]["email"] == a["email"] for a in stored["attendees"])
    assert "bookingFieldsResponses" not in stored and "guests" not in stored  # GetSeatedBookingOutput


async def test_a_seated_time_with_a_free_seat_stays_in_the_slots_with_its_counts(http):
    uid = data(await book(http, SEATED.id, "ana"))["uid"]
    query = {"eventTypeId": SEATED.id, "start": "2026-11-24T00:00:00Z", "end": "2026-11-24T23:59:59Z"}
    slots = data(await http.get("/v2/slots", params=query, headers={"cal-api-version": "2024-09-04"}))
    [ten] = [s for s in slots["2026-11-24"] if s["start"] == "2026-11-24T10:00:00.000Z"]
    assert ten == {"start": "2026-11-24T10:00:00.000Z", "seatsBooked": 1, "seatsRemaining": 1, "seatsTotal": 2,
                   "bookingUid": uid}
    await book(http, SEATED.id, "bob")
    slots = data(await http.get("/v2/slots", params=query, headers={"cal-api-version": "2024-09-04"}))
    assert "2026-11-24T10:00:00.000Z" not in [s["start"] for s in slots["2026-11-24"]]


async def test_cancelling_a_seat_removes_only_that_attendee(http):
    ana, bob = data(await book(http, SEATED.id, "ana")), data(await book(http, SEATED.id, "bob"))
    answer = await http.post(f"/v2/bookings/{ana['uid']}/cancel", json={"seatUid": ana["seatUid"]})
    assert answer.status_code == 200
    after = data(answer)
    assert after["status"] == "accepted" and [a["seatUid"] for a in after["attendees"]] == [bob["seatUid"]]
    gone = await http.post(f"/v2/bookings/{ana['uid']}/cancel", json={"seatUid": ana["seatUid"]})
    assert gone.status_code == 400 and gone.json()["error"]["message"] == MSG_SEAT_UNKNOWN
    # the last seat: as Cal.com, a booking with one attendee left is cancelled as a whole
    last = data(await http.post(f"/v2/bookings/{ana['uid']}/cancel", json={"seatUid": bob["seatUid"]}))
    assert last["status"] == "cancelled"


async def test_a_seat_of_another_booking_is_refused(http):
    ten = data(await book(http, SEATED.id, "ana"))
    eleven = data(await book(http, SEATED.id, "bob", "2026-11-24T11:00:00.000Z"))
    await book(http, SEATED.id, "cy", "2026-11-24T11:00:00.000Z")
    answer = await http.post(f"/v2/bookings/{ten['uid']}/cancel", json={"seatUid": eleven["seatUid"]})
    assert answer.status_code == 400 and answer.json()["error"]["message"] == MSG_SEAT_ELSEWHERE


async def test_rescheduling_a_seat_moves_that_attendee_only(http):
    ana, bob = data(await book(http, SEATED.id, "ana")), data(await book(http, SEATED.id, "bob"))
    moved = await http.post(f"/v2/bookings/{ana['uid']}/reschedule",
                            json={"start": "2026-11-25T14:00:00.000Z", "seatUid": ana["seatUid"]})
    assert moved.status_code == 201
    new = data(moved)
    assert new["uid"] != ana["uid"] and new["rescheduledFromUid"] == ana["uid"]
    assert [a["email"] for a in new["attendees"]] == ["ana@example.com"]
    old = data(await http.get(f"/v2/bookings/{ana['uid']}"))
    assert old["status"] == "accepted" and [a["seatUid"] for a in old["attendees"]] == [bob["seatUid"]]


# -- recurrences -----------------------------------------------------------------------------------------------------
async def test_a_recurring_booking_is_a_series_every_week(http):
    types = data(await http.get("/v2/event-types", headers={"cal-api-version": "2024-06-14"}))
    assert next(t for t in types if t["id"] == WEEKLY.id)["recurrence"] == {
        "frequency": "weekly", "interval": 1, "occurrences": 4}
    answer = await book(http, WEEKLY.id, "ana", recurrenceCount=3)
    assert answer.status_code == 201
    series = data(answer)
    assert [b["start"] for b in series] == ["2026-11-24T10:00:00.000Z", "2026-12-01T10:00:00.000Z",
                                            "2026-12-08T10:00:00.000Z"]
    [series_uid] = {b["recurringBookingUid"] for b in series}
    assert len({b["uid"] for b in series}) == 3
    again = data(await http.get(f"/v2/bookings/{series_uid}"))
    assert [b["uid"] for b in again] == [b["uid"] for b in series]
    listed = data(await http.get("/v2/bookings", params={"status": "recurring"}))
    assert [b["uid"] for b in listed] == [b["uid"] for b in series]
    without_count = data(await book(http, WEEKLY.id, "bob", "2026-11-24T11:00:00.000Z"))
    assert len(without_count) == 4  # the event type's occurrences


async def test_a_series_is_all_or_nothing_and_bounded_by_the_event_type(http):
    await book(http, 1001, "bob", "2026-12-01T10:00:00.000Z")  # the second recurrence's time is taken
    taken = await book(http, WEEKLY.id, "ana", recurrenceCount=3)
    assert taken.status_code == 400 and taken.json()["error"]["message"] == MSG_SLOT_TAKEN
    too_many = await book(http, WEEKLY.id, "ana", recurrenceCount=5)
    assert too_many.status_code == 400 and too_many.json()["error"]["message"] == msg_too_many(4)
    listed = data(await http.get("/v2/bookings"))
    assert [b["eventTypeId"] for b in listed] == [1001]


async def test_cancelling_the_series_uid_cancels_every_recurrence_ahead(http):
    series = data(await book(http, WEEKLY.id, "ana", recurrenceCount=2))
    answer = await http.post(f"/v2/bookings/{series[0]['recurringBookingUid']}/cancel",
                             json={"cancellationReason": "project over"})
    assert answer.status_code == 200
    assert [(b["uid"], b["status"], b["cancellationReason"]) for b in data(answer)] == [
        (b["uid"], "cancelled", "project over") for b in series]
    assert data(await http.get("/v2/bookings", params={"status": "recurring"})) == []


def test_a_recurrence_moves_by_months_and_years_too():
    assert _shift(date(2026, 1, 31), "monthly", 1) == date(2026, 2, 28)
    assert _shift(date(2026, 11, 30), "monthly", 3) == date(2027, 2, 28)
    assert _shift(date(2028, 2, 29), "yearly", 1) == date(2029, 2, 28)
    assert _shift(date(2026, 11, 24), "weekly", 2) == date(2026, 12, 8)
