"""The kind of meeting follows the length asked for (issue 18): "book 60 minutes" books the account's 60-minute event
type, several that fit are asked about once, CAL_EVENT_TYPE_ID pins one. On the in-process sandbox (1001: 30 minutes,
the default; 1002: 60 minutes), every exchange checked against Cal.com's OpenAPI document."""

from __future__ import annotations

import pytest

from calbot.booking.account import load_account
from calbot.booking.executor import Executor
from calbot.sandbox import SandboxEventType
from tests.fakes.sandbox_calcom import open_sandbox
from testing.common import FIXED_NOW

NOW = FIXED_NOW  # Monday 23 November 2026, 08:00 UTC; the host works 09-17 Europe/London
USER = "ana@example.com"
# INTRO and CONSULT offer 45 minutes, only INTRO is made for it (its default length); CONSULT and WORKSHOP are both
# made for 90
INTRO = SandboxEventType(3101, "intro", "Intro call", 45, length_options=(30, 45), minimum_notice_minutes=0)
CONSULT = SandboxEventType(3102, "consult", "Consultation", 90, length_options=(45, 90), minimum_notice_minutes=0)
WORKSHOP = SandboxEventType(3103, "workshop", "Workshop", 90, length_options=(90, 120), minimum_notice_minutes=0)
SECRET = SandboxEventType(3104, "secret", "Hidden one", 15, hidden=True, minimum_notice_minutes=0)


@pytest.fixture
def fake():
    yield from open_sandbox(NOW)


async def executor_for(fake, event_type_id: int | None = None):
    client = fake.client()
    account = await load_account(client, event_type_id)
    fake.requests.clear()
    return client, Executor(client, account, clock=lambda: NOW)


def session(executor: Executor):
    return executor.new_session(email=USER, name="Ana Diaz", time_zone="Europe/Berlin")


async def test_booking_60_minutes_books_the_60_minute_event_type(fake):
    client, executor = await executor_for(fake)
    async with client:
        state = session(executor)
        proposal = await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "Planning",
                                                               "duration_minutes": 60})
        assert proposal["status"] == "awaiting_confirmation", proposal
        assert (state.proposal.event_type_id, state.proposal.duration_minutes) == (1002, 60)
        assert state.proposal.length_in_minutes is None  # one length only: Cal.com takes the event type's
        assert "60 Min Meeting" in state.proposal.summary
        slots = [r for r in fake.requests if r.url.path.endswith("/slots")]
        assert slots and all(r.url.params["eventTypeId"] == "1002" for r in slots)

        outcome = await executor.confirm(state, state.proposal.id)

        assert outcome["status"] == "booked", outcome
        [booking] = [b for b in fake.store.all() if b["status"] != "cancelled"]
        assert booking["eventTypeId"] == 1002
        assert booking["start"] == "2026-11-24T14:00:00.000Z" and booking["end"] == "2026-11-24T15:00:00.000Z"


async def test_free_times_for_60_minutes_are_the_60_minute_event_types(fake):
    client, executor = await executor_for(fake)
    async with client:
        result = await executor.call(session(executor), "check_availability",
                                     {"date": "2026-11-24", "duration_minutes": 60})
    assert result["ok"] and result["duration_minutes"] == 60 and result["event_type_id"] == 1002
    [request] = [r for r in fake.requests if r.url.path.endswith("/slots")]
    assert request.url.params["eventTypeId"] == "1002"


async def test_the_default_length_still_books_the_default_event_type(fake):
    client, executor = await executor_for(fake)
    async with client:
        state = session(executor)
        await executor.call(state, "book_meeting", {"start": "2026-11-24T15:00", "reason": "Sync"})
    assert (state.proposal.event_type_id, state.proposal.duration_minutes) == (1001, 30)


async def test_cal_event_type_id_pins_the_kind_of_meeting(fake):
    client, executor = await executor_for(fake, 1001)
    async with client:
        result = await executor.call(session(executor), "book_meeting",
                                     {"start": "2026-11-24T15:00", "reason": "Planning", "duration_minutes": 60})
    assert result["status"] == "invalid_duration"
    assert result["error"] == "60 minutes is not offered; the meetings calbot can book are 30 minutes long."
    assert not [r for r in fake.requests if r.method == "POST"]


async def test_a_length_no_kind_offers_names_the_lengths_there_are(fake):
    fake.add_event_type(SECRET)  # hidden: never offered
    client, executor = await executor_for(fake)
    async with client:
        result = await executor.call(session(executor), "book_meeting",
                                     {"start": "2026-11-24T15:00", "reason": "Planning", "duration_minutes": 15})
    assert result["status"] == "invalid_duration" and result["allowed_minutes"] == [30, 60]


async def test_the_kind_made_for_a_length_wins_over_one_that_merely_allows_it(fake):
    fake.add_event_type(INTRO)
    fake.add_event_type(CONSULT)
    client, executor = await executor_for(fake)
    async with client:
        state = session(executor)
        result = await executor.call(state, "book_meeting", {"start": "2026-11-24T10:45", "reason": "Hello",
                                                             "duration_minutes": 45})
    assert result["status"] == "awaiting_confirmation", result
    assert state.proposal.event_type_id == 3101
    assert state.proposal.length_in_minutes == 45  # several lengths: the chosen one is sent


async def test_several_kinds_that_fit_are_asked_about_once_then_the_choice_is_booked(fake):
    fake.add_event_type(CONSULT)
    fake.add_event_type(WORKSHOP)  # both made for 90 minutes
    client, executor = await executor_for(fake)
    async with client:
        state = session(executor)
        asked = await executor.call(state, "book_meeting", {"start": "2026-11-24T10:00", "reason": "Deep dive",
                                                            "duration_minutes": 90})
        assert asked["status"] == "choose_event_type", asked
        assert [k["event_type_id"] for k in asked["kinds"]] == [3102, 3103]
        assert state.proposal is None and not [r for r in fake.requests if r.url.path.endswith("/slots")]

        chosen = await executor.call(state, "book_meeting", {"start": "2026-11-24T10:00", "reason": "Deep dive",
                                                             "duration_minutes": 90, "event_type_id": 3103})
    assert chosen["status"] == "awaiting_confirmation", chosen
    assert (state.proposal.event_type_id, state.proposal.duration_minutes) == (3103, 90)


async def test_an_event_type_id_calbot_does_not_offer_is_refused(fake):
    fake.add_event_type(SECRET)
    client, executor = await executor_for(fake, None)
    async with client:
        for unknown in (3104, 999999):  # hidden, and not the account's
            result = await executor.call(session(executor), "book_meeting",
                                         {"start": "2026-11-24T15:00", "reason": "x", "event_type_id": unknown})
            assert result["status"] == "invalid_arguments", result
            assert [k["event_type_id"] for k in result["kinds"]] == [1001, 1002]
