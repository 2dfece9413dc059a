"""calbot's Cal.com client against the sandbox calendar: the contract the rest of calbot relies on.

The sandbox runs in process over httpx.ASGITransport, configured for the tests (tests/fakes/sandbox_calcom.py), every
exchange checked against Cal.com's OpenAPI document. Host: Hana Host <host@example.com>, Europe/London, Mon-Fri
09:00-17:00; event types 1001 (30 min) and 1002 (60 min); now is Monday 23 November 2026, 08:00 UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from calbot.calcom import (
    AuthenticationError,
    BadRequestError,
    CalcomClient,
    NotFoundError,
    SlotUnavailableError,
)
from calbot.calcom.models import CreateBookingRequest, NewAttendee, RescheduleRequest
from calbot.timezones import localize
from tests.fakes.sandbox_calcom import at, open_sandbox
from tests.sandbox.conftest import FIXED_NOW

MON, TUE, WED, THU = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)
HOST = "host@example.com"
ANA = "ana@example.com"


@pytest.fixture
def fake():
    yield from open_sandbox(FIXED_NOW)


@pytest.fixture
async def client(fake):
    async with fake.client() as calcom:
        yield calcom


def new_booking(start: datetime, *, email: str = ANA, name: str = "Ana Diaz", event_type_id: int = 1001,
                **fields) -> CreateBookingRequest:
    return CreateBookingRequest(start=start, event_type_id=event_type_id,
                                attendee=NewAttendee(name=name, email=email, time_zone="Europe/Berlin"), **fields)


def params(fake, path: str) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in fake.requests if r.url.path == path]


# -- account -----------------------------------------------------------------------------------------------------------
async def test_me(client):
    me = await client.me()
    assert (me.email, me.name, me.username, me.time_zone) == (HOST, "Hana Host", "hana", "Europe/London")


async def test_event_types(client):
    types = await client.event_types()
    assert [(t.id, t.title, t.length_in_minutes) for t in types] == [(1001, "30 Min Meeting", 30),
                                                                      (1002, "60 Min Meeting", 60)]
    assert all(t.allowed_lengths == [t.length_in_minutes] and not t.has_multiple_lengths for t in types)
    assert all(t.minimum_booking_notice == 0 for t in types)  # the tests' account: no minimum notice
    assert {"name", "email"} <= {f.slug for f in types[0].booking_fields if f.required}


async def test_wrong_key_is_an_authentication_error(fake):
    async with fake.client("cal_live_wrongkey") as wrong:
        with pytest.raises(AuthenticationError) as info:
            await wrong.me()
        assert info.value.status == 401
        with pytest.raises(AuthenticationError):
            await wrong.list_bookings()


# -- slots -------------------------------------------------------------------------------------------------------------
async def test_slots_in_a_zone_come_back_as_utc_instants(client, fake):
    start, end = localize(datetime(2026, 11, 24, 0, 0), "Europe/Berlin"), localize(datetime(2026, 11, 25, 0, 0),
                                                                                      "Europe/Berlin")
    slots = await client.slots(1001, start, end, time_zone="Europe/Berlin")
    assert len(slots) == 16  # 09:00-17:00 London, every 30 minutes
    assert slots[0].start == datetime(2026, 11, 24, 9, 0, tzinfo=UTC) and slots[0].start.utcoffset() == timedelta(0)
    assert slots[-1].start == datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    [query] = params(fake, "/v2/slots")
    assert query["start"] == "2026-11-23T23:00:00Z" and query["end"] == "2026-11-24T23:00:00Z"
    assert query["timeZone"] == "Europe/Berlin" and query["format"] == "range"


async def test_slots_skip_taken_times_the_weekend_and_the_past(client, fake):
    fake.add_booking(at(TUE, 10), attendee_email="bob@example.com", minutes=60)
    slots = await client.slots(1001, FIXED_NOW - timedelta(days=1), at(MON, 0) + timedelta(days=8), time_zone="UTC")
    days = {s.start.date() for s in slots}
    assert days == {MON, TUE, WED, THU, date(2026, 11, 27), date(2026, 11, 30)}  # not Sat 28 / Sun 29
    tuesday = [s.start for s in slots if s.start.date() == TUE]
    assert at(TUE, 10) not in tuesday and at(TUE, 10, 30) not in tuesday and at(TUE, 11) in tuesday
    assert min(s.start for s in slots) == at(MON, 9)  # nothing before now (08:00)
    sixty = await client.slots(1002, at(WED, 0), at(THU, 0), time_zone="UTC")
    assert [s.start.hour for s in sixty] == [9, 10, 11, 12, 13, 14, 15, 16]


async def test_slots_for_a_reschedule_show_the_bookings_own_time_as_free(client, fake):
    uid = fake.add_booking(at(TUE, 10), attendee_email=ANA)["uid"]
    plain = await client.slots(1001, at(TUE, 0), at(WED, 0), time_zone="UTC")
    moving = await client.slots(1001, at(TUE, 0), at(WED, 0), time_zone="UTC", booking_uid_to_reschedule=uid)
    assert at(TUE, 10) not in [s.start for s in plain] and at(TUE, 10) in [s.start for s in moving]
    assert params(fake, "/v2/slots")[-1]["bookingUidToReschedule"] == uid


# -- create and get ----------------------------------------------------------------------------------------------------
async def test_create_returns_the_booking_with_its_end_computed(client, fake):
    booking = await client.create_booking(new_booking(
        at(TUE, 14), guests=["bob@example.com"], booking_fields_responses={"notes": "Intro call"},
        metadata={"source": "calbot"}))
    assert booking.uid and booking.status == "accepted"
    assert booking.start == at(TUE, 14) and booking.end == at(TUE, 14, 30)  # end = start + the event type's length
    assert booking.start.tzinfo is not None and booking.duration == 30
    assert (booking.event_type.id if booking.event_type else booking.event_type_id) == 1001
    assert booking.host_emails() == {HOST}
    attendee, guest = booking.attendees  # Cal.com keeps guests as attendees too
    assert (attendee.name, attendee.email, attendee.time_zone) == ("Ana Diaz", ANA, "Europe/Berlin")
    assert guest.email == "bob@example.com"
    assert booking.guests == ["bob@example.com"] and booking.booking_fields_responses["notes"] == "Intro call"
    assert booking.description == "Intro call" and booking.metadata == {"source": "calbot"}
    assert booking.meeting_link and booking.meeting_link.startswith("https://")
    assert [b["uid"] for b in fake.active()] == [booking.uid]


async def test_get_returns_what_create_made(client):
    made = await client.create_booking(new_booking(at(WED, 9, 30)))
    got = await client.get_booking(made.uid)
    assert not isinstance(got, list)
    assert (got.uid, got.start, got.end, got.status) == (made.uid, made.start, made.end, "accepted")


async def test_create_with_a_length_the_event_type_offers(client, fake):
    fake.allow_lengths(1001, [15, 30, 60])
    booking = await client.create_booking(new_booking(at(TUE, 14), length_in_minutes=60))
    assert booking.end - booking.start == timedelta(minutes=60)
    with pytest.raises(BadRequestError, match="possible lengths"):
        await client.create_booking(new_booking(at(WED, 14), length_in_minutes=45))


async def test_a_length_on_a_single_length_event_type_is_refused(client, fake):
    with pytest.raises(BadRequestError, match="multiple possible lengths"):
        await client.create_booking(new_booking(at(TUE, 14), length_in_minutes=30))
    assert fake.active() == []


async def test_an_unknown_event_type_is_not_found(client):
    with pytest.raises(NotFoundError, match="Event type with id 999 not found"):
        await client.create_booking(new_booking(at(TUE, 14), event_type_id=999))


async def test_an_event_type_that_requires_confirmation_books_pending(client, fake):
    fake.require_confirmation(1001)
    booking = await client.create_booking(new_booking(at(TUE, 14)))
    assert booking.status == "pending"
    by_attendee = await client.reschedule_booking(booking.uid, RescheduleRequest(start=at(TUE, 15),
                                                                                 rescheduled_by=ANA))
    assert by_attendee.status == "pending"  # API-NOTES §7: only the host's own move is auto-confirmed
    by_host = await client.reschedule_booking(by_attendee.uid, RescheduleRequest(start=at(TUE, 16),
                                                                                 rescheduled_by=HOST))
    assert by_host.status == "accepted"


# -- unavailable times -------------------------------------------------------------------------------------------------
async def test_a_taken_slot_is_slot_unavailable(client, fake):
    fake.add_booking(at(TUE, 14), attendee_email="bob@example.com")
    with pytest.raises(SlotUnavailableError) as info:
        await client.create_booking(new_booking(at(TUE, 14)))
    assert info.value.status == 400 and "already has booking" in info.value.message
    with pytest.raises(SlotUnavailableError):  # overlapping, not the same start
        await client.create_booking(new_booking(at(TUE, 13, 30), event_type_id=1002))
    assert len(fake.active()) == 1


@pytest.mark.parametrize("start", [at(TUE, 8, 30), at(TUE, 16, 45), at(date(2026, 11, 28), 10)],
                         ids=["before-hours", "runs-past-closing", "saturday"])
async def test_outside_working_hours_is_slot_unavailable(client, fake, start):
    with pytest.raises(SlotUnavailableError):
        await client.create_booking(new_booking(start))
    assert fake.active() == []


async def test_a_start_in_the_past_is_a_bad_request(client, fake):
    with pytest.raises(BadRequestError, match="in the past") as info:
        await client.create_booking(new_booking(FIXED_NOW - timedelta(hours=1)))
    assert not isinstance(info.value, SlotUnavailableError)


# -- list --------------------------------------------------------------------------------------------------------------
def seed(fake) -> dict[str, str]:
    return {
        "tue": fake.add_booking(at(TUE, 10), attendee_email=ANA)["uid"],
        "wed": fake.add_booking(at(WED, 11), attendee_email="ANA@example.com")["uid"],
        "bob": fake.add_booking(at(TUE, 12), attendee_email="bob@example.com")["uid"],
        "long": fake.add_booking(at(THU, 9), attendee_email=ANA, event_type_id=1002)["uid"],
        "cancelled": fake.add_booking(at(TUE, 15), attendee_email=ANA, status="cancelled")["uid"],
        "past": fake.add_booking(FIXED_NOW - timedelta(days=3), attendee_email=ANA)["uid"],
    }


async def test_list_filters_by_status_and_attendee(client, fake):
    uids = seed(fake)
    upcoming = await client.list_bookings(status="upcoming", attendee_email=ANA)
    assert [b.uid for b in upcoming] == [uids["tue"], uids["wed"], uids["long"]]  # any case of the email
    assert [b.uid for b in await client.list_bookings(status="cancelled")] == [uids["cancelled"]]
    assert [b.uid for b in await client.list_bookings(status="past")] == [uids["past"]]
    everyone = await client.list_bookings(status="upcoming")
    assert uids["bob"] in [b.uid for b in everyone] and len(everyone) == 4
    query = params(fake, "/v2/bookings")[0]
    assert query["status"] == "upcoming" and query["attendeeEmail"] == ANA and query["sortStart"] == "asc"


async def test_list_filters_by_time_window_and_event_type(client, fake):
    uids = seed(fake)
    tuesday = await client.list_bookings(after_start=at(TUE, 0), before_end=at(WED, 0))
    assert [b.uid for b in tuesday] == [uids["tue"], uids["bob"], uids["cancelled"]]
    assert params(fake, "/v2/bookings")[0]["afterStart"] == "2026-11-24T00:00:00Z"
    assert [b.uid for b in await client.list_bookings(event_type_id=1002)] == [uids["long"]]
    newest_first = await client.list_bookings(status="upcoming", sort_start="desc")
    assert [b.start for b in newest_first] == sorted((b.start for b in newest_first), reverse=True)


async def test_list_follows_the_pages(client, fake):
    made = [fake.add_booking(at(WED, 9) + timedelta(minutes=30 * n), attendee_email=ANA)["uid"] for n in range(5)]
    found = await client.list_bookings(attendee_email=ANA, page_size=2)
    assert [b.uid for b in found] == made
    pages = params(fake, "/v2/bookings")
    assert [(q["take"], q["skip"]) for q in pages] == [("2", "0"), ("2", "2"), ("2", "4")]


# -- cancel ------------------------------------------------------------------------------------------------------------
async def test_cancel_then_cancel_again(client, fake):
    made = await client.create_booking(new_booking(at(TUE, 14)))
    cancelled = await client.cancel_booking(made.uid, "Sick")
    assert not isinstance(cancelled, list)
    assert cancelled.uid == made.uid and cancelled.status == "cancelled" and cancelled.cancellation_reason == "Sick"
    assert fake.booking(made.uid)["status"] == "cancelled" and fake.active() == []
    with pytest.raises(BadRequestError) as info:
        await client.cancel_booking(made.uid)
    assert not isinstance(info.value, SlotUnavailableError)
    assert info.value.status == 400 and "cancelled already" in info.value.message
    again = await client.create_booking(new_booking(at(TUE, 14)))  # a cancelled booking frees its slot
    assert again.uid != made.uid


# -- reschedule --------------------------------------------------------------------------------------------------------
async def test_reschedule_makes_a_new_booking_and_cancels_the_old(client, fake):
    old = await client.create_booking(new_booking(at(TUE, 14), booking_fields_responses={"notes": "Intro"}))
    new = await client.reschedule_booking(old.uid, RescheduleRequest(start=at(WED, 10), rescheduled_by=ANA))
    assert not isinstance(new, list)
    assert new.uid != old.uid and new.rescheduled_from_uid == old.uid and new.status == "accepted"
    assert (new.start, new.end) == (at(WED, 10), at(WED, 10, 30))
    assert [a.email for a in new.attendees] == [ANA] and new.booking_fields_responses.get("notes") == "Intro"
    moved = await client.get_booking(old.uid)
    assert moved.status == "cancelled" and moved.rescheduled_to_uid == new.uid
    assert [b["uid"] for b in fake.active()] == [new.uid]
    with pytest.raises(BadRequestError, match=f"rescheduled already to booking with uid={new.uid}"):
        await client.reschedule_booking(old.uid, RescheduleRequest(start=at(WED, 11)))


async def test_reschedule_takes_the_event_types_default_length(client, fake):
    uid = fake.add_booking(at(TUE, 14), attendee_email=ANA, minutes=45)["uid"]
    new = await client.reschedule_booking(uid, RescheduleRequest(start=at(WED, 14)))
    assert new.end - new.start == timedelta(minutes=30)  # API-NOTES §7


async def test_reschedule_to_a_taken_slot_or_of_a_cancelled_booking(client, fake):
    mine = fake.add_booking(at(TUE, 14), attendee_email=ANA)["uid"]
    fake.add_booking(at(TUE, 15), attendee_email="bob@example.com")
    with pytest.raises(SlotUnavailableError):
        await client.reschedule_booking(mine, RescheduleRequest(start=at(TUE, 15)))
    overlapping_itself = await client.reschedule_booking(mine, RescheduleRequest(start=at(TUE, 14, 15)))
    assert overlapping_itself.start == at(TUE, 14, 15)  # its own old time does not block it
    cancelled = fake.add_booking(at(WED, 9), attendee_email=ANA, status="cancelled")["uid"]
    with pytest.raises(BadRequestError, match="because it has been cancelled") as info:
        await client.reschedule_booking(cancelled, RescheduleRequest(start=at(WED, 10)))
    assert not isinstance(info.value, SlotUnavailableError)


# -- unknown uids ------------------------------------------------------------------------------------------------------
async def test_an_unknown_uid_is_not_found_everywhere(client):
    for call in (client.get_booking("nosuchuid123"), client.cancel_booking("nosuchuid123"),
                 client.reschedule_booking("nosuchuid123", RescheduleRequest(start=at(WED, 10)))):
        with pytest.raises(NotFoundError, match="uid=nosuchuid123 was not found"):
            await call


async def test_the_suite_really_ran_on_the_sandbox(client, fake):
    """Guards the fixture: the client answers through the sandbox in process, every exchange spec-checked."""
    await client.me()
    assert type(fake).__name__ == "SandboxCalcom"
    assert isinstance(client, CalcomClient) and [r.url.path for r in fake.requests] == ["/v2/me"]
    assert fake.spec.exchanges and fake.spec.exchanges[-1][0].url.host == "sandbox.calbot.local"
