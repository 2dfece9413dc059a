"""How many Cal.com calls a task costs, and the recent-list cache behind it (calbot/booking/context.py).

A list_meetings answer (GET /v2/bookings) is kept RECENT_LIST_SECONDS (time.monotonic) and serves the proposal that
follows: the booking look-up of a cancel or reschedule proposal, and the overlap warnings when the cached list has no
status filter, the same attendee scope and a window covering [start - 1 day, end + 1 day]. Confirm always fetches
the booking again, and any Confirm forgets every cached answer.

Every test runs on the sandbox calendar in process (tests/fakes/sandbox_calcom.py) and checks the exact requests in
`fake.requests`.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

import calbot.booking.context as context_module
from calbot.booking.account import load_account
from calbot.booking.context import RECENT_LIST_SECONDS
from calbot.booking.executor import Executor
from calbot.booking.proposals import OVERLAP_MARGIN
from calbot.booking.session import SessionState
from tests.fakes.sandbox_calcom import SandboxCalcom, at, open_sandbox
from testing.common import FIXED_NOW

NOW = FIXED_NOW  # Monday 08:00 UTC; the host works 09-17 Europe/London
TUE, WED = date(2026, 11, 24), date(2026, 11, 25)
USER = "ana@example.com"
HOST = "host@example.com"

LIST = ("GET", "/v2/bookings")
SLOTS = ("GET", "/v2/slots")
CREATE = ("POST", "/v2/bookings")


def get(uid: str) -> tuple[str, str]:
    return "GET", f"/v2/bookings/{uid}"


def cancel(uid: str) -> tuple[str, str]:
    return "POST", f"/v2/bookings/{uid}/cancel"


def reschedule(uid: str) -> tuple[str, str]:
    return "POST", f"/v2/bookings/{uid}/reschedule"


@pytest.fixture
def fake():
    yield from open_sandbox(NOW)


@pytest.fixture
def monotonic(monkeypatch) -> list[float]:
    """The recent lists' time.monotonic, moved by hand: `monotonic[0] += 61`."""
    now = [1000.0]

    class Time:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(context_module, "time", Time)
    return now


@pytest.fixture
async def executor(fake, monotonic):
    async with fake.client() as client:
        account = await load_account(client)
        fake.requests.clear()
        yield Executor(client, account, clock=lambda: NOW)


def session(executor: Executor, *, email: str | None = USER, name: str | None = "Ana Diaz",
            verified: bool | None = None) -> SessionState:
    return executor.new_session(email=email, name=name, time_zone="Europe/Berlin", email_verified=verified)


def calls(fake: SandboxCalcom, since: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in fake.requests[since:]]


def seed(fake: SandboxCalcom) -> dict[str, str]:
    return {
        "mine": fake.add_booking(at(TUE, 14), attendee_email=USER, attendee_name="Ana Diaz", title="Ana sync")["uid"],
        "mine_wed": fake.add_booking(at(WED, 10), attendee_email=USER, title="Ana wed")["uid"],
        "bobs": fake.add_booking(at(TUE, 15), attendee_email="bob@example.com", title="Bob sync")["uid"],
    }


async def list_at_three(executor: Executor, state: SessionState) -> dict:
    """"cancel my 3pm tomorrow": Ana sync, Tuesday 15:00 Berlin (14:00 London)."""
    found = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "15:00"})
    assert found["count"] == 1
    return found


# -- calls per task --------------------------------------------------------------------------------------------------
async def test_book_costs_three_calls(executor, fake):
    state = session(executor)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "budget"})
    assert proposal["status"] == "awaiting_confirmation"
    assert calls(fake) == [SLOTS, LIST]  # the free-slot check, the overlap look-up
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "booked"
    assert calls(fake) == [SLOTS, LIST, CREATE]


async def test_cancel_by_time_costs_three_calls(executor, fake):
    uids = seed(fake)
    state = session(executor)
    found = await list_at_three(executor, state)
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": found["meetings"][0]["uid"]})
    assert proposal["status"] == "awaiting_confirmation"
    assert calls(fake) == [LIST]  # the proposal came from the list answer
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "cancelled"
    assert calls(fake) == [LIST, get(uids["mine"]), cancel(uids["mine"])]  # Confirm fetched the booking first


async def test_reschedule_by_time_costs_four_calls(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    proposal = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"],
                                                                 "new_start": "2026-11-25T17:00"})
    assert proposal["status"] == "awaiting_confirmation" and "warnings" not in proposal
    assert calls(fake) == [LIST, SLOTS]  # booking and overlaps from the list answer
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "rescheduled"
    assert calls(fake) == [LIST, SLOTS, get(uids["mine"]), reschedule(uids["mine"])]


async def test_without_a_list_the_proposal_fetches_the_booking(executor, fake):
    uids = seed(fake)
    state = session(executor)
    state.remember_seen(uids["mine"])  # seen in an earlier chat turn, not listed in the last minute
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert proposal["status"] == "awaiting_confirmation"
    assert calls(fake) == [get(uids["mine"])]


async def test_an_undated_list_serves_the_booking_but_not_the_overlap_check(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {})  # "upcoming": a status filter and no window
    proposal = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"],
                                                                 "new_start": "2026-11-25T17:00"})
    assert proposal["status"] == "awaiting_confirmation"
    assert calls(fake) == [LIST, SLOTS, LIST]
    assert "status" not in fake.requests[-1].url.params  # the overlap look-up of its own


# -- which list answers serve the overlap check ----------------------------------------------------------------------
@pytest.mark.parametrize(("listed", "covered"), [
    ({"from_date": "2026-11-24"}, True),
    ({"from_date": "2026-11-18"}, True),  # window ends 2026-11-25 23:00Z, after 14:30Z + 1 day
    ({"from_date": "2026-11-17"}, False),  # window ends 2026-11-24 23:00Z, before 14:30Z + 1 day
    ({"from_date": "2026-12-01"}, False),  # window starts 2026-11-23 23:00Z, after 14:00Z - 1 day
    ({"from_date": "2026-11-24", "status": "cancelled"}, False),  # filtered by status: not every booking
    ({}, False),  # upcoming, no window
], ids=["same-day", "window-just-covers", "window-ends-too-early", "window-starts-too-late", "status-filter",
        "undated"])
async def test_the_overlap_check_uses_a_list_only_when_it_covers_the_margin(executor, fake, listed, covered):
    assert OVERLAP_MARGIN.days == 1
    state = session(executor)
    await executor.call(state, "list_meetings", listed)
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "budget"})
    assert proposal["status"] == "awaiting_confirmation"
    assert calls(fake, 1) == ([SLOTS] if covered else [SLOTS, LIST])


async def test_overlap_warnings_from_the_list_still_warn(executor, fake):
    # A meeting with another host of the account: the slot is free for this host, but the user is busy then.
    fake.add_booking(at(TUE, 13, 30), attendee_email=USER, title="Dentist", host_email="other-host@example.com")
    state = session(executor)
    listed = await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    assert [m["untrusted"]["title"] for m in listed["meetings"]] == ["Dentist"]
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:30", "reason": "budget"})
    assert proposal["warnings"] == ["The user already has a meeting at Tuesday 24 November 2026, 14:30–15:00 CET "
                                    "(Europe/Berlin), which overlaps."]
    clear = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00"})
    assert clear["status"] == "awaiting_confirmation" and "warnings" not in clear
    assert calls(fake) == [LIST, SLOTS, SLOTS]  # neither overlap check asked Cal.com


async def test_an_overlap_booked_after_the_list_is_missed_until_the_minute_is_over(executor, fake, monotonic):
    """The price of the cache, within its minute; after it the overlap is found again."""
    state = session(executor)
    await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    fake.add_booking(at(TUE, 13, 30), attendee_email=USER, title="Dentist", host_email="other-host@example.com")
    stale = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:30", "reason": "budget"})
    assert "warnings" not in stale
    monotonic[0] += RECENT_LIST_SECONDS + 1
    fresh = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:30", "reason": "budget"})
    assert [w.split(" at ")[0] for w in fresh["warnings"]] == ["The user already has a meeting"]
    assert calls(fake) == [LIST, SLOTS, SLOTS, LIST]


# -- expiry ----------------------------------------------------------------------------------------------------------
async def test_a_list_answer_serves_proposals_for_a_minute(executor, fake, monotonic):
    assert RECENT_LIST_SECONDS == 60
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    monotonic[0] += 59
    first = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert first["status"] == "awaiting_confirmation"
    assert calls(fake) == [LIST]
    monotonic[0] += 2  # 61 s after the list
    second = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"], "reason": "ill"})
    assert second["status"] == "awaiting_confirmation"
    assert calls(fake) == [LIST, get(uids["mine"])]  # fetched again


async def test_an_expired_list_no_longer_serves_the_overlap_check(executor, fake, monotonic):
    state = session(executor)
    await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    monotonic[0] += RECENT_LIST_SECONDS + 1
    await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "budget"})
    assert calls(fake) == [LIST, SLOTS, LIST]


async def test_the_newest_list_answer_wins(executor, fake, monotonic):
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    monotonic[0] += 10
    fake.edit(uids["mine"], lambda b: b.update(title="Ana sync (renamed)"))
    await list_at_three(executor, state)  # a newer answer, 10 s later; both are still fresh
    monotonic[0] += 10
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert proposal["status"] == "awaiting_confirmation" and state.proposal.title == "Ana sync (renamed)"
    assert calls(fake) == [LIST, LIST]


# -- staleness is caught at Confirm ----------------------------------------------------------------------------------
async def test_cancelled_in_the_calendar_after_the_list(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    fake.edit(uids["mine"], lambda b: b.update(status="cancelled"))  # cancelled on the Cal.com page meanwhile
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert proposal["status"] == "awaiting_confirmation"  # made from the list answer, as it was
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["ok"] is False and outcome["status"] == "already_cancelled"
    assert "already cancelled" in outcome["message"] and "Nothing was changed" in outcome["message"]
    assert calls(fake) == [LIST, get(uids["mine"])]  # no POST
    assert fake.writes() == []


async def test_handed_over_after_the_list_is_refused_at_confirm(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    fake.edit(uids["mine"], lambda b: b["attendees"][0].update(email="mallory@example.com"))
    proposal = await executor.call(state, "reschedule_meeting", {"booking_uid": uids["mine"],
                                                                 "new_start": "2026-11-25T17:00"})
    assert proposal["status"] == "awaiting_confirmation"
    outcome = await executor.confirm(state, proposal["proposal_id"])
    assert outcome["status"] == "not_allowed" and fake.writes() == []


# -- Confirm forgets -------------------------------------------------------------------------------------------------
async def test_a_confirm_forgets_every_list_answer(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "to_date": "2026-11-25"})
    first = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    await executor.confirm(state, first["proposal_id"])
    before = len(fake.requests)
    second = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine_wed"]})
    assert second["status"] == "awaiting_confirmation"
    book = await executor.call(state, "book_meeting", {"start": "2026-11-24T17:00", "reason": "budget"})
    assert book["status"] == "awaiting_confirmation"
    assert calls(fake, before) == [get(uids["mine_wed"]), SLOTS, LIST]


async def test_a_failed_confirm_forgets_too(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "to_date": "2026-11-25"})
    first = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    fake.fail_next("POST", "/cancel$", 500)
    outcome = await executor.confirm(state, first["proposal_id"])
    assert outcome["status"] == "failed"
    before = len(fake.requests)
    await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine_wed"]})
    assert calls(fake, before) == [get(uids["mine_wed"])]


async def test_a_list_answered_while_a_confirm_runs_is_forgotten(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await list_at_three(executor, state)
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    other_chat = session(executor)  # the same user in a second browser tab
    fake.write_latency = 0.2  # the cancel is in flight while the other tab lists

    async def list_meanwhile() -> dict:
        await asyncio.sleep(0.05)
        return await list_at_three(executor, other_chat)

    outcome, listed = await asyncio.gather(executor.confirm(state, proposal["proposal_id"]), list_meanwhile())
    assert outcome["status"] == "cancelled"
    assert listed["meetings"][0]["uid"] == uids["mine"]  # listed before the cancel took effect
    fake.write_latency = 0.0
    again = await executor.call(other_chat, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert again["status"] == "already_cancelled"  # not the stale answer: fetched after the Confirm
    assert calls(fake)[-1] == get(uids["mine"])


async def test_a_proposal_made_while_a_confirm_runs_does_not_use_older_answers(executor, fake):
    uids = seed(fake)
    state = session(executor)
    await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "to_date": "2026-11-25"})
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    other_chat = session(executor)
    other_chat.remember_seen(uids["mine_wed"])
    fake.write_latency = 0.2

    async def propose_meanwhile() -> dict:
        await asyncio.sleep(0.05)
        return await executor.call(other_chat, "cancel_meeting", {"booking_uid": uids["mine_wed"]})

    before = len(fake.requests)
    outcome, other = await asyncio.gather(executor.confirm(state, proposal["proposal_id"]), propose_meanwhile())
    assert outcome["status"] == "cancelled" and other["status"] == "awaiting_confirmation"
    assert get(uids["mine_wed"]) in calls(fake, before)  # the list from before the write was no longer used


async def test_a_cancelled_booking_in_the_list_raises_no_overlap_warning(executor, fake):
    fake.add_booking(at(TUE, 13, 30), attendee_email=USER, title="Called off", status="cancelled",
                     host_email="other-host@example.com")
    state = session(executor)
    listed = await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    assert listed["count"] == 0
    proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T14:30", "reason": "budget"})
    assert proposal["status"] == "awaiting_confirmation" and "warnings" not in proposal
    assert calls(fake) == [LIST, SLOTS]


# -- scope and ownership ---------------------------------------------------------------------------------------------
async def test_an_owners_list_is_not_used_for_a_users_overlap_check(executor, fake):
    seed(fake)
    owner = session(executor, email=HOST, name="Hana Host")
    assert executor.is_owner(owner)
    await executor.call(owner, "list_meetings", {"from_date": "2026-11-24"})
    assert "attendeeEmail" not in fake.requests[-1].url.params
    ana = session(executor)
    await executor.call(ana, "book_meeting", {"start": "2026-11-24T16:30", "reason": "budget"})
    assert calls(fake) == [LIST, SLOTS, LIST]
    assert fake.requests[-1].url.params["attendeeEmail"] == USER  # a fresh look-up in Ana's own scope


async def test_a_users_list_is_not_used_for_the_owners_overlap_check(executor, fake):
    seed(fake)
    ana = session(executor)
    await executor.call(ana, "list_meetings", {"from_date": "2026-11-24"})
    owner = session(executor, email=HOST, name="Hana Host")
    await executor.call(owner, "book_meeting", {"start": "2026-11-24T16:30", "reason": "budget"})
    assert calls(fake) == [LIST, SLOTS, LIST]
    assert "attendeeEmail" not in fake.requests[-1].url.params  # the whole calendar, not Ana's part of it


async def test_a_list_serves_another_chat_of_the_same_scope(executor, fake):
    seed(fake)
    owner = session(executor, email=HOST, name="Hana Host")
    await executor.call(owner, "list_meetings", {"from_date": "2026-11-24"})
    other_tab = session(executor, email=HOST, name="Hana Host")
    await executor.call(other_tab, "book_meeting", {"start": "2026-11-24T16:30", "reason": "budget"})
    assert calls(fake) == [LIST, SLOTS]


async def test_an_unverified_user_is_refused_a_cached_booking_not_made_in_this_chat(executor, fake):
    uids = seed(fake)
    state = session(executor, verified=False)  # typed the address in the chat
    listed = await executor.call(state, "list_meetings", {"from_date": "2026-11-24"})
    assert listed["meetings"] == []  # Ana's bookings are in the answer Cal.com gave, but not shown
    state.remember_seen(uids["mine"])  # the uid leaks anyway (pasted, or injected into a prompt)
    refused = await executor.call(state, "cancel_meeting", {"booking_uid": uids["mine"]})
    assert refused["status"] == "not_allowed" and "not verified" in refused["error"]
    assert state.proposal is None
    assert calls(fake) == [LIST]  # refused on the cached copy, nothing else asked, nothing written


async def test_the_owner_is_refused_a_cached_booking_of_another_host(executor, fake):
    other = fake.add_booking(at(TUE, 13), attendee_email=USER, title="Other host's", host_email="x@example.com")
    owner = session(executor, email=HOST, name="Hana Host")
    listed = await executor.call(owner, "list_meetings", {"from_date": "2026-11-24"})
    assert listed["meetings"] == []
    owner.remember_seen(other["uid"])
    refused = await executor.call(owner, "cancel_meeting", {"booking_uid": other["uid"]})
    assert refused["status"] == "not_allowed" and "not on this Cal.com account" in refused["error"]
    assert calls(fake) == [LIST]


async def test_someone_elses_booking_from_the_owners_list_is_still_refused(executor, fake):
    uids = seed(fake)
    owner = session(executor, email=HOST, name="Hana Host")
    await executor.call(owner, "list_meetings", {"from_date": "2026-11-24"})  # holds Bob's booking
    ana = session(executor)
    ana.remember_seen(uids["bobs"])
    refused = await executor.call(ana, "cancel_meeting", {"booking_uid": uids["bobs"]})
    assert refused["status"] == "not_allowed" and ana.proposal is None
    assert fake.writes() == []
    # and a uid Ana never saw is refused before any cache or Cal.com look-up
    before = len(fake.requests)
    unseen = await executor.call(ana, "reschedule_meeting", {"booking_uid": uids["mine_wed"],
                                                             "new_start": "2026-11-25T17:00"})
    assert unseen["status"] == "unknown_booking" and calls(fake, before) == []
