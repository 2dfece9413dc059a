"""The executor's rules, driven against the sandbox calendar in process (no UI, no network).

The sandbox is configured for the tests (tests/fakes/sandbox_calcom.py); every exchange is checked against Cal.com's
OpenAPI document. Seated and recurring bookings are booked through the sandbox's own rules.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import httpx
import pytest

from calbot.booking.account import AccountError, load_account
from calbot.booking.executor import Executor
from calbot.booking.session import SessionState
from calbot.channels.markdown import meetings_markdown
from calbot.sandbox import Recurrence, SandboxEventType
from tests.fakes.sandbox_calcom import SandboxCalcom, at, open_sandbox
from testing.common import FIXED_NOW

NOW = FIXED_NOW  # Monday 08:00 UTC; the host works 09-17 Europe/London (= UTC now)
MON, TUE, WED = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
USER = "ana@example.com"
HOST = "host@example.com"
# Event types a test adds next to 1001 and 1002 (the sandbox's seats and recurrences: tests/sandbox/test_seats_recurring)
WORKSHOP = SandboxEventType(3001, "workshop", "Workshop", 60, seats=5, minimum_notice_minutes=0)
WEEKLY = SandboxEventType(3002, "weekly", "Weekly check-in", 30, minimum_notice_minutes=0, recurrence=Recurrence())


@pytest.fixture
def fake():
    yield from open_sandbox(NOW)


@pytest.fixture
async def executor(fake):
    async with fake.client() as client:
        account = await load_account(client)
        fake.requests.clear()
        yield Executor(client, account, clock=lambda: NOW)


def session(executor: Executor, *, email: str | None = USER, name: str | None = "Ana Diaz",
            zone: str = "Europe/Berlin", verified: bool | None = None, said: str = "") -> SessionState:
    state = executor.new_session(email=email, name=name, time_zone=zone, email_verified=verified)
    if said:
        state.history.append({"role": "user", "content": said})
    return state


def body(request) -> dict:
    return json.loads(request.content)


def posts(fake: SandboxCalcom) -> list:
    return [r for r in fake.requests if r.method == "POST"]


# -- availability ---------------------------------------------------------------------------------------------------
async def test_availability_is_in_the_users_zone(executor, fake):
    result = await executor.call(session(executor), "check_availability", {"date": "2026-11-24"})
    assert result["ok"] and result["time_zone"] == "Europe/Berlin"
    [day] = result["days"]
    assert day["date"] == "2026-11-24" and day["weekday"] == "Tuesday"
    assert day["free_local"] == ["10:00-18:00"]  # London 09:00-17:00 seen from Berlin
    assert day["free_utc"] == ["2026-11-24T09:00:00Z/2026-11-24T17:00:00Z"]
    assert result["starts_every_minutes"] == 30 and result["duration_minutes"] == 30
    [request] = fake.requests
    assert request.url.params["start"] == "2026-11-23T23:00:00Z" and request.url.params["end"] == "2026-11-24T23:00:00Z"
    assert request.url.params["timeZone"] == "Europe/Berlin"


async def test_availability_windows_split_around_bookings_and_start_now_today(executor, fake):
    fake.add_booking(at(TUE, 12), attendee_email="x@example.com", minutes=60)
    fake.now = at(MON, 10, 10)  # today: only what is still ahead, from the next slot on
    executor.clock = lambda: fake.now
    result = await executor.call(session(executor), "check_availability", {"date": "2026-11-23",
                                                                           "end_date": "2026-11-24"})
    assert [(d["date"], d["free_local"]) for d in result["days"]] == [
        ("2026-11-23", ["11:30-18:00"]), ("2026-11-24", ["10:00-13:00", "14:00-18:00"])]


async def test_availability_range_includes_last_day_and_skips_weekend(executor):
    result = await executor.call(session(executor), "check_availability",
                                 {"date": "2026-11-27", "end_date": "2026-11-30"})
    assert [d["date"] for d in result["days"]] == ["2026-11-27", "2026-11-30"]


@pytest.mark.parametrize("args, status", [
    ({"date": "2026-11-20"}, "invalid_time"),
    ({"date": "2026-11-24", "end_date": "2026-12-24"}, "invalid_arguments"),
    ({"date": "2026-02-30"}, "invalid_arguments"),
    ({"date": "24/11/2026"}, "invalid_arguments"),
    ({"date": "2026-11-24", "duration_minutes": 45}, "invalid_duration"),
])
async def test_availability_bad_input(executor, fake, args, status):
    result = await executor.call(session(executor), "check_availability", args)
    assert result["status"] == status and not result["ok"]
    assert fake.requests == []


# -- booking: pending arguments, identity, proposal, confirm ---------------------------------------------------------
async def test_missing_details_become_pending_and_merge(executor, fake):
    state = session(executor)
    first = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00"})
    assert first["status"] == "needs_details" and first["missing"] == ["reason"]
    assert state.pending_function == "book_meeting" and state.pending_arguments == {"start": "2026-11-24T15:00"}
    second = await executor.call(state, "book_meeting", {"reason": "Quarterly review", "start": None})
    assert second["status"] == "awaiting_confirmation"
    assert state.pending_arguments == {"start": "2026-11-24T15:00", "reason": "Quarterly review"}
    assert posts(fake) == []


async def test_pending_arguments_over_three_calls_with_identity(executor):
    state = session(executor, email=None, name=None, said="I'm Ana Diaz, ana@example.com")
    r1 = await executor.call(state, "book_meeting", {"reason": "Intro"})
    assert set(r1["missing"]) == {"start", "attendee_email", "attendee_name"}
    r2 = await executor.call(state, "book_meeting", {"attendee_email": "ana@example.com", "attendee_name": "Ana Diaz"})
    assert r2["missing"] == ["start"]
    assert state.user.email == USER and state.user.email_verified is False
    r3 = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00"})
    assert r3["status"] == "awaiting_confirmation" and "Ana Diaz <ana@example.com>" in r3["summary"]


async def test_attendee_email_must_be_typed_by_the_user(executor):
    state = session(executor, email=None, name=None, said="book me tomorrow at 3")
    result = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x",
                                                         "attendee_email": "ana@example.com", "attendee_name": "Ana"})
    assert result["status"] == "not_allowed" and state.user.email is None


async def test_attendee_email_cannot_replace_known_identity(executor, fake):
    state = session(executor, said="book with bob@example.com")
    result = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x",
                                                         "attendee_email": "bob@example.com"})
    assert result["status"] == "not_allowed" and "guests" in result["error"]
    assert state.user.email == USER and posts(fake) == []


async def test_typed_email_is_stored_once(executor):
    state = session(executor, email=None, name=None, said="I'm Ana, ana@example.com. Oh and eve@example.com")
    await executor.call(state, "book_meeting", {"attendee_email": "ana@example.com", "attendee_name": "Ana"})
    result = await executor.call(state, "book_meeting", {"attendee_email": "eve@example.com"})
    assert result["status"] == "not_allowed" and state.user.email == USER


async def test_book_proposal_then_confirm_writes_once_at_the_right_instant(executor, fake):
    state = session(executor, said="guests: bob@example.com")
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro call",
                                                           "guests": ["bob@example.com", "ANA@example.com"]})
    assert proposal["status"] == "awaiting_confirmation"
    assert proposal["start_utc"] == "2026-11-24T14:00:00Z" and proposal["start_local"] == "2026-11-24T15:00"
    assert "Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)" in proposal["summary"]
    assert posts(fake) == []  # a proposal writes nothing

    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["ok"] and outcome["status"] == "booked"
    assert "15:00–15:30 CET" in outcome["message"]
    assert outcome["booking"]["untrusted"]["link"].startswith("https://app.cal.com/video/")
    [create] = posts(fake)
    sent = body(create)
    assert sent["start"] == "2026-11-24T14:00:00Z" and sent["eventTypeId"] == 1001
    assert sent["attendee"] == {"name": "Ana Diaz", "email": USER, "timeZone": "Europe/Berlin"}
    assert sent["guests"] == ["bob@example.com"]  # the user's own address is not a guest
    assert sent["bookingFieldsResponses"] == {"notes": "Intro call"}
    assert "lengthInMinutes" not in sent  # the event type has a single length
    assert outcome["booking"]["uid"] in state.made_booking_uids
    assert state.proposal is None and state.pending_function is None

    again = await executor.confirm(state, proposal["proposal_id"])
    assert again["repeated"] and again["status"] == "booked"
    assert len(posts(fake)) == 1 and len(fake.active()) == 1


async def test_double_click_in_parallel_writes_once(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.latency = 0.05  # the first click's POST is still in flight when the second click arrives
    first, second = await asyncio.gather(executor.confirm(state, proposal["proposal_id"]),
                                         executor.confirm(state, proposal["proposal_id"]))
    assert sorted([first["status"], second["status"]]) == ["booked", "in_progress"]
    assert len(posts(fake)) == 1 and len(fake.active()) == 1


async def test_discard_writes_nothing_and_closes_the_proposal(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    assert executor.discard(state, proposal["proposal_id"])["status"] == "discarded"
    assert state.proposal is None and state.pending_function is None
    assert (await executor.confirm(state, proposal["proposal_id"]))["status"] == "discarded"
    assert posts(fake) == [] and fake.active() == []


async def test_a_new_proposal_replaces_the_old_one(executor, fake):
    state = session(executor)
    old = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    new = await executor.call(state, "book_meeting", {"start": "2026-11-24T16:00"})  # merged with pending reason
    assert new["status"] == "awaiting_confirmation" and state.proposal.id == new["proposal_id"]
    assert (await executor.confirm(state, old["proposal_id"]))["status"] == "no_proposal"
    assert posts(fake) == []
    assert (await executor.confirm(state, new["proposal_id"]))["status"] == "booked"
    assert body(posts(fake)[0])["start"] == "2026-11-24T15:00:00Z"


async def test_slot_taken_offers_nearest_free_slots_same_day_then_later(executor, fake):
    for hh, mm in [(14, 0), (13, 30), (14, 30)]:  # London times: Berlin 15:00, 14:30, 15:30 are taken
        fake.add_booking(at(TUE, hh, mm), attendee_email="other@example.com")
    state = session(executor)
    result = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    assert result["status"] == "slot_unavailable"
    starts = [a["start"] for a in result["alternatives"]]
    assert starts[:3] == ["2026-11-24T13:30", "2026-11-24T14:00", "2026-11-24T16:00"]
    assert all(s.startswith("2026-11-25") for s in starts[3:]) and len(starts) == 5
    assert posts(fake) == [] and state.proposal is None
    assert state.pending_arguments["reason"] == "x"  # the next call only needs a new start


async def test_slot_taken_between_proposal_and_confirm(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.add_booking(at(TUE, 14), attendee_email="fast@example.com")  # someone else books it meanwhile
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "slot_unavailable" and "not free" in outcome["message"]
    assert outcome["alternatives"] and outcome["alternatives"][0]["start"].startswith("2026-11-24")
    assert len(posts(fake)) == 1 and [b["attendees"][0]["email"] for b in fake.active()] == ["fast@example.com"]


@pytest.mark.parametrize("start, fragment", [
    ("2026-11-23T08:00", "past"),
    ("2030-01-01T10:00", "too far ahead"),
    ("2026-11-24T25:00", "does not exist"),
    ("tomorrow at 3pm", "wrong format"),
    ("2026-02-30T10:00", "does not exist"),
])
async def test_book_refuses_bad_times_without_writing(executor, fake, start, fragment):
    result = await executor.call(session(executor), "book_meeting", {"start": start, "reason": "x"})
    assert not result["ok"] and fragment in result["error"]
    assert posts(fake) == []


async def test_dst_gap_refused_and_overlap_reported(executor):
    state = session(executor, zone="America/New_York")
    gap = await executor.call(state, "book_meeting", {"start": "2027-03-14T02:30", "reason": "x"})
    assert gap["status"] == "invalid_time" and "does not exist" in gap["error"]
    overlap = await executor.call(state, "book_meeting", {"start": "2027-11-07T01:30", "reason": "x"})
    assert overlap["status"] == "invalid_time" and "happens twice" in overlap["error"]
    assert "2027-11-07T01:30-04:00" in overlap["error"]


async def test_booking_just_after_a_dst_change_is_exact_to_the_minute(executor, fake):
    # New York springs forward on 2027-03-14, London only on 2027-03-28: 10:00 EDT is 14:00 UTC = 14:00 GMT.
    fake.now = NOW
    state = session(executor, zone="America/New_York")
    proposal = await executor.call(state, "book_meeting", {"start": "2027-03-15T10:00", "reason": "x"})
    assert proposal["start_utc"] == "2027-03-15T14:00:00Z"
    assert "10:00–10:30 EDT (America/New_York)" in proposal["summary"]
    await executor.confirm(state, proposal["proposal_id"])
    assert body(posts(fake)[0])["start"] == "2027-03-15T14:00:00Z"


async def test_overlap_with_the_users_own_booking_is_warned(executor, fake):
    # A meeting with another host of the account does not block this host's slots, but the user is busy then.
    fake.add_booking(at(TUE, 13, 30), attendee_email=USER, title="Dentist", host_email="other-host@example.com")
    state = session(executor)
    off_grid = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:45", "reason": "x"})
    assert off_grid["status"] == "slot_unavailable"  # not on the 30-minute grid
    result = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:30"})
    assert result["status"] == "awaiting_confirmation"
    assert result["warnings"] == ["The user already has a meeting at Tuesday 24 November 2026, 14:30–15:00 CET "
                                  "(Europe/Berlin), which overlaps."]  # its title is other people's text
    clear = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00"})
    assert "warnings" not in clear


async def test_pending_booking_reported_as_awaiting_the_host(executor, fake):
    fake.require_confirmation(1001)  # the event type asks the host to confirm each booking
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "awaiting_host" and "awaiting the host's confirmation" in outcome["message"]
    assert "Booked" not in outcome["message"]
    assert [b["status"] for b in fake.active()] == ["pending"]


async def test_duration_must_be_allowed_by_the_event_type(executor, fake):
    fake.allow_lengths(1001, [15, 30, 60])  # the calendar's event type offers three lengths ...
    executor.account.event_type.length_in_minutes_options = [15, 30, 60]  # ... and calbot's account knows it
    state = session(executor)
    bad = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x",
                                                      "duration_minutes": 45})
    assert bad["status"] == "invalid_duration" and bad["allowed_minutes"] == [15, 30, 60]
    good = await executor.call(state, "book_meeting", {"duration_minutes": 60})
    assert good["status"] == "awaiting_confirmation" and good["duration_minutes"] == 60
    slots = [r for r in fake.requests if r.url.path == "/v2/slots"]
    assert slots[-1].url.params["duration"] == "60"
    outcome = await executor.confirm(state, good["proposal_id"])
    assert body(posts(fake)[0])["lengthInMinutes"] == 60
    assert outcome["status"] == "booked" and outcome["booking"]["duration_minutes"] == 60


# -- listing ---------------------------------------------------------------------------------------------------------
def seed(fake: SandboxCalcom) -> dict[str, str]:
    return {
        "mine": fake.add_booking(at(TUE, 14), attendee_email=USER, attendee_name="Ana Diaz", title="Ana sync")["uid"],
        "mine_wed": fake.add_booking(at(WED, 10), attendee_email="ANA@example.com", title="Ana wed")["uid"],
        "bobs": fake.add_booking(at(TUE, 15), attendee_email="bob@example.com", title="Bob sync")["uid"],
        "cancelled": fake.add_booking(at(TUE, 11), attendee_email=USER, status="cancelled", title="Old")["uid"],
    }


async def test_verified_attendee_lists_only_own_meetings_in_local_time(executor, fake):
    uids = seed(fake)
    state = session(executor)
    result = await executor.call(state, "list_meetings", {})
    assert [m["uid"] for m in result["meetings"]] == [uids["mine"], uids["mine_wed"]]
    first = result["meetings"][0]
    assert first["when"] == "Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)"
    assert first["start_utc"] == "2026-11-24T14:00:00Z" and first["status"] == "booked"
    assert first["untrusted"]["with"] == ["Hana Host"] and first["untrusted"]["link"].startswith("https://")
    assert fake.requests[0].url.params["attendeeEmail"] == USER
    assert set(state.seen_booking_uids) == {uids["mine"], uids["mine_wed"]}


async def test_owner_lists_every_booking(executor, fake):
    uids = seed(fake)
    state = session(executor, email=HOST, name="Hana Host")
    assert executor.is_owner(state)
    result = await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    assert [m["uid"] for m in result["meetings"]] == [uids["mine"], uids["bobs"]]
    assert "attendeeEmail" not in fake.requests[0].url.params


async def test_typed_owner_email_is_not_the_owner(executor, fake):
    seed(fake)
    state = session(executor, email=HOST, verified=False)
    assert not executor.is_owner(state)
    assert (await executor.call(state, "list_meetings", {}))["meetings"] == []


async def test_unverified_user_sees_only_meetings_booked_in_this_chat(executor, fake):
    uids = seed(fake)
    state = session(executor, email=None, name=None, said="I'm Ana Diaz, ana@example.com")
    await executor.call(state, "book_meeting", {"attendee_email": USER, "attendee_name": "Ana Diaz"})
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-25T15:00", "reason": "new"})
    made = (await executor.confirm(state, proposal["proposal_id"]))["booking"]["uid"]
    result = await executor.call(state, "list_meetings", {})
    assert [m["uid"] for m in result["meetings"]] == [made] and "not verified" in result["scope"]
    refused = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert refused["status"] == "unknown_booking"


async def test_finding_my_meeting_at_a_time(executor, fake):
    uids = seed(fake)
    state = session(executor)
    hit = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "15:10"})
    assert hit["count"] == 1 and hit["meetings"][0]["uid"] == uids["mine"]
    miss = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "09:00"})
    assert miss["count"] == 0 and miss["meetings"] == []
    assert [m["uid"] for m in miss["nearest"]][:2] == [uids["mine"], uids["mine_wed"]]
    assert "Do not pick" in miss["note"]


async def test_list_cancelled_and_list_with_unknown_identity(executor, fake):
    uids = seed(fake)
    cancelled = await executor.call(session(executor), "list_meetings", {"status": "cancelled"})
    assert [m["uid"] for m in cancelled["meetings"]] == [uids["cancelled"]]
    nobody = await executor.call(session(executor, email=None), "list_meetings", {})
    assert nobody["count"] == 0 and "unknown" in nobody["note"]
    page = meetings_markdown(nobody)  # the page gets the words meant for the person, never the model's note
    assert page.startswith("I don't know your email address yet") and nobody["note"] not in page


async def test_recurring_and_seated_bookings_do_not_break_the_list(executor, fake):
    fake.add_event_type(WEEKLY)
    fake.add_event_type(WORKSHOP)
    series = fake.book(WEEKLY.id, at(TUE, 10), USER, "Ana Diaz", recurrence_count=2)  # Tuesday and a week later
    seated = fake.book(WORKSHOP.id, at(WED, 11), USER, "Ana Diaz")
    fake.book(WORKSHOP.id, at(WED, 11), "bob@example.com", "Bob")
    result = await executor.call(session(executor), "list_meetings", {})
    assert [m["uid"] for m in result["meetings"]] == [series[0]["uid"], seated["uid"], series[1]["uid"]]
    assert [m.get("recurring", False) for m in result["meetings"]] == [True, False, True]


# -- cancel ----------------------------------------------------------------------------------------------------------
async def test_invented_uid_is_refused_without_calling_calcom(executor, fake):
    result = await executor.call(session(executor), "cancel_meeting", {"booking_uid": "madeUp123"})
    assert result["status"] == "unknown_booking" and "list_meetings" in result["error"]
    assert fake.requests == []


async def test_someone_elses_booking_is_refused_even_if_its_uid_leaks(executor, fake):
    uids = seed(fake)
    state = session(executor, said=f"cancel {uids['bobs']}")
    state.remember_seen(uids["bobs"])  # e.g. pasted by the user or injected into a prompt
    result = await executor.call(state, "cancel_meeting", {"booking_uid": uids["bobs"]})
    assert result["status"] == "not_allowed" and state.proposal is None
    assert posts(fake) == [] and fake.booking(uids["bobs"])["status"] == "accepted"


async def test_cancel_by_time_then_confirm(executor, fake):
    uids = seed(fake)
    state = session(executor)
    found = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "15:00"})
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": found["meetings"][0]["uid"],
                                                             "reason": "sick"})
    assert proposal["status"] == "awaiting_confirmation"
    assert proposal["summary"] == (f"Cancel the meeting {found['meetings'][0]['uid']} on Tuesday 24 November 2026, "
                                   "15:00–15:30 CET (Europe/Berlin) (reason: sick)")
    assert posts(fake) == []
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "cancelled"
    [cancel] = posts(fake)
    assert cancel.url.path == f"/v2/bookings/{uids['mine']}/cancel" and body(cancel) == {"cancellationReason": "sick"}
    assert fake.booking(uids["mine"])["status"] == "cancelled"


async def test_cancel_without_reason_sends_empty_body(executor, fake):
    uids = seed(fake)
    state = session(executor)
    state.remember_seen(uids["mine"])
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    await executor.confirm(state, proposal["proposal_id"])
    assert body(posts(fake)[0]) == {}


async def test_ownership_is_checked_again_at_confirm(executor, fake):
    uids = seed(fake)
    state = session(executor)
    state.remember_seen(uids["mine"])
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    fake.edit(uids["mine"], lambda b: b["attendees"][0].update(email="mallory@example.com"))  # changed hands
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "not_allowed" and outcome["message"] == ("That meeting is no longer one of yours, so "
                                                                         "it was not changed.")
    assert posts(fake) == []


async def test_cancel_already_cancelled_and_past_meetings(executor, fake):
    uids = seed(fake)
    past = fake.add_booking(NOW - timedelta(days=1), attendee_email=USER)["uid"]
    state = session(executor)
    state.remember_seen(uids["cancelled"], past)
    assert (await executor.call(state, "cancel_meeting", {"booking_uid": uids["cancelled"]}))["status"] \
        == "already_cancelled"
    assert (await executor.call(state, "cancel_meeting", {"booking_uid": past}))["status"] == "in_the_past"
    assert posts(fake) == []


async def test_cancelled_between_proposal_and_confirm(executor, fake):
    uids = seed(fake)
    state = session(executor)
    state.remember_seen(uids["mine"])
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    fake.edit(uids["mine"], lambda b: b.update(status="cancelled"))  # cancelled elsewhere meanwhile
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "already_cancelled" and posts(fake) == []


# -- reschedule ------------------------------------------------------------------------------------------------------
async def test_reschedule_creates_a_new_uid_and_the_new_uid_is_usable(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {})
    proposal = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"],
                                                                 "new_start": "2026-11-24T17:00"})
    assert proposal["status"] == "awaiting_confirmation"
    assert proposal["summary"] == (f"Move the meeting {uids['mine']} from Tuesday 24 November 2026, 15:00–15:30 CET "
                                   "(Europe/Berlin) to Tuesday 24 November 2026, 17:00–17:30 CET (Europe/Berlin)")
    slots_request = fake.requests[-2] if fake.requests[-1].url.path == "/v2/bookings" else fake.requests[-1]
    assert any(r.url.params.get("bookingUidToReschedule") == uids["mine"] for r in fake.requests)
    assert slots_request is not None
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "rescheduled" and outcome["old_uid"] == uids["mine"]
    new_uid = outcome["booking"]["uid"]
    assert new_uid != uids["mine"] and fake.booking(uids["mine"])["rescheduledToUid"] == new_uid
    [write] = posts(fake)
    assert body(write) == {"start": "2026-11-24T16:00:00Z", "rescheduledBy": USER}
    again = await executor.call(state, "cancel_meeting", {"booking_uid": new_uid})
    assert again["status"] == "awaiting_confirmation"
    stale = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert stale["status"] == "already_cancelled" and new_uid in stale["error"]


async def test_reschedule_to_a_taken_time_and_to_the_same_time(executor, fake):
    uids = seed(fake)
    state = session(executor)
    state.remember_seen(uids["mine"])
    taken = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"],
                                                              "new_start": "2026-11-24T16:00"})  # Bob's slot
    assert taken["status"] == "slot_unavailable" and taken["alternatives"]
    same = await executor.call(state, "reschedule_meeting", {"new_start": "2026-11-24T15:00"})
    assert same["status"] == "invalid_time" and "already" in same["error"]
    assert posts(fake) == []


async def test_reschedule_warns_when_the_length_changes(executor, fake):
    uid = fake.add_booking(at(TUE, 14), attendee_email=USER, minutes=45)["uid"]
    state = session(executor)
    state.remember_seen(uid)
    result = await executor.call(state, "reschedule_meeting", {"booking_uid": uid, "new_start": "2026-11-25T15:00"})
    assert any("45 minutes" in w and "30 minutes" in w for w in result["warnings"])


async def test_owner_may_move_any_booking_and_is_the_rescheduler(executor, fake):
    uids = seed(fake)
    state = session(executor, email=HOST, name="Hana Host")
    await executor.call(state, "list_meetings", {})
    proposal = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["bobs"],
                                                                 "new_start": "2026-11-25T12:00"})
    assert proposal["status"] == "awaiting_confirmation", proposal
    await executor.confirm(state, proposal["proposal_id"])
    assert body(posts(fake)[0])["rescheduledBy"] == HOST


# -- robustness ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, arguments, fragment", [
    ("book_meeting", "{not json", "not valid JSON"),
    ("book_meeting", "[1, 2]", "JSON object"),
    ("delete_everything", {}, "no tool called"),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "x", "attendee": "bob"}, "not an argument"),
    ("list_meetings", {"status": "done"}, "status"),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "x", "guests": ["not-an-email"]}, "not a valid email"),
])
async def test_malformed_calls_get_a_correctable_error(executor, fake, name, arguments, fragment):
    state = session(executor)
    before = state.to_json()
    result = await executor.call(state, name, arguments)
    assert result["ok"] is False and result["status"] == "invalid_arguments" and fragment in result["error"]
    assert state.to_json() == before and fake.requests == []


async def test_one_failed_read_is_retried_and_the_user_never_sees_it(executor, fake):
    fake.fail_next("GET", "/slots", 503, "SERVICE_UNAVAILABLE", "upstream exploded at 0xdeadbeef")
    state = session(executor)
    result = await executor.call(state, "check_availability", {"date": "2026-11-24"})
    assert result["ok"] is True and result["days"]


async def test_calendar_failure_is_a_plain_sentence_and_the_next_call_works(executor, fake):
    for _ in range(3):  # every attempt of the read fails
        fake.fail_next("GET", "/slots", 503, "SERVICE_UNAVAILABLE", "upstream exploded at 0xdeadbeef")
    state = session(executor)
    result = await executor.call(state, "check_availability", {"date": "2026-11-24"})
    assert result["status"] == "calendar_error" and "0xdeadbeef" not in result["error"]
    assert "try again" in result["error"]
    assert (await executor.call(state, "check_availability", {"date": "2026-11-24"}))["ok"]


async def test_create_timeout_before_it_took_effect_looks_first_then_books_once(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.fail_next("POST", "/bookings$", exception=httpx.ReadTimeout("slow"))
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "booked" and state.proposal is None
    assert fake.writes() == [("POST", "/v2/bookings")] * 2  # the lost one, then the one that worked
    assert len(fake.active()) == 1


@pytest.mark.parametrize("failure", [
    dict(exception=httpx.RemoteProtocolError("Server disconnected")),
    dict(status=500),
    dict(status=503, code="SERVICE_UNAVAILABLE"),
], ids=["connection-lost", "500", "503"])
async def test_a_create_that_took_effect_but_failed_is_found_not_repeated(executor, fake, failure):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.fail_next("POST", "/bookings$", after=True, **failure)
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "booked" and outcome["booking"]["start_utc"] == "2026-11-24T14:00:00Z"
    assert fake.writes() == [("POST", "/v2/bookings")]  # looked for it instead of posting again
    assert len(fake.active()) == 1
    listed = await executor.call(state, "list_meetings", {})
    assert listed["count"] == 1 and listed["meetings"][0]["uid"] == outcome["booking"]["uid"]


async def test_when_the_look_up_fails_too_the_user_is_told_it_may_have_happened(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.fail_next("POST", "/bookings$", exception=httpx.RemoteProtocolError("Server disconnected"), after=True)
    for _ in range(3):  # every attempt of the look-up fails
        fake.fail_next("GET", "/bookings$", 500)
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "failed" and "cannot tell whether the booking went through" in outcome["message"]
    assert "nothing was changed" not in outcome["message"]
    assert fake.writes() == [("POST", "/v2/bookings")] and len(fake.active()) == 1


async def test_a_create_failing_twice_is_not_tried_a_third_time(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.fail_next("POST", "/bookings$", 500)
    fake.fail_next("POST", "/bookings$", 500)
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "failed" and "cannot tell whether the booking went through" in outcome["message"]
    assert fake.writes() == [("POST", "/v2/bookings")] * 2 and fake.active() == []


@pytest.mark.parametrize("after", [True, False], ids=["took-effect", "did-not"])
async def test_a_reschedule_whose_answer_failed_follows_the_old_booking(executor, fake, after):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {})
    proposal = await executor.call(state, "reschedule_meeting",
                                   {"booking_uid": uids["mine"], "new_start": "2026-11-25T15:00"})
    fake.fail_next("POST", "/reschedule$", 500, after=after)
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "rescheduled" and outcome["old_uid"] == uids["mine"]
    new_uid = outcome["booking"]["uid"]
    assert new_uid != uids["mine"] and fake.booking(uids["mine"])["status"] == "cancelled"
    assert fake.booking(new_uid)["status"] == "accepted"
    assert len([w for w in fake.writes() if w[1].endswith("/reschedule")]) == (1 if after else 2)


async def test_session_state_stays_json_serialisable(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {})
    await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"], "new_start": "2026-11-25T15:00"})
    restored = SessionState.from_json(json.dumps(state.to_dict()))
    assert restored == state and restored.proposal is not None
    outcome = await executor.confirm(restored, restored.proposal.id)
    assert outcome["status"] == "rescheduled"


async def test_unknown_event_type_id_names_the_variable(fake):
    async with fake.client() as client:
        with pytest.raises(AccountError, match="CAL_EVENT_TYPE_ID=999"):
            await load_account(client, 999)
        account = await load_account(client, 1002)
        assert account.event_type.length_in_minutes == 60
    async with fake.client("cal_wrong") as client:
        with pytest.raises(AccountError, match="CAL_API_KEY"):
            await load_account(client)


async def test_seated_booking_cancels_only_the_users_seat(executor, fake):
    fake.add_event_type(WORKSHOP)
    seated = fake.book(WORKSHOP.id, at(TUE, 14), USER, "Ana Diaz")
    bobs = fake.book(WORKSHOP.id, at(TUE, 14), "bob@example.com", "Bob")
    state = session(executor)
    await executor.call(state, "list_meetings", {})
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": seated["uid"]})
    assert "only your seat" in proposal["summary"]
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "cancelled"
    assert body(posts(fake)[0]) == {"seatUid": seated["seatUid"]}
    after = fake.booking(seated["uid"])  # Bob keeps his seat in the same booking
    assert after["status"] == "accepted" and [a["seatUid"] for a in after["attendees"]] == [bobs["seatUid"]]


async def test_owner_cannot_move_a_whole_seated_booking_from_chat(executor, fake):
    fake.add_event_type(WORKSHOP)
    seated = fake.book(WORKSHOP.id, at(TUE, 14), USER, "Ana Diaz")
    state = session(executor, email=HOST, name="Hana Host")
    state.remember_seen(seated["uid"])
    result = await executor.call(state, "reschedule_meeting", {"booking_uid": seated["uid"],
                                                               "new_start": "2026-11-25T15:00"})
    assert result["status"] == "not_supported" and posts(fake) == []


async def test_a_proposal_made_while_another_is_confirming_stays_open(executor, fake):
    state = session(executor)
    first = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "x"})
    fake.write_latency = 0.2  # the new proposal is made while the POST is still in flight

    async def propose_meanwhile():
        await asyncio.sleep(0.01)
        return await executor.call(state, "book_meeting", {"start": "2026-11-25T15:00", "reason": "y"})

    outcome, second = await asyncio.gather(executor.confirm(state, first["proposal_id"]), propose_meanwhile())
    assert outcome["status"] == "booked" and second["status"] == "awaiting_confirmation"
    assert state.proposal is not None and state.proposal.id == second["proposal_id"]
    assert state.pending_function == "book_meeting"
