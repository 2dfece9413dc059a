"""Concurrency: double clicks, several chats at once on one ChatService, buttons pressed while a write runs, a
cache made stale by another chat, and Stop in the middle of a tool call or of a Confirm. A slow calendar (the
fakes' `latency` / `write_latency`, or a sandbox delay fault) makes the calls really interleave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date

import pytest

from calbot.agent.loop import STOPPED_NOTE, CodeReply, ProposalReady, ProposalWithdrawn, TextDone
from calbot.sandbox import FaultSpec
from tests.faults.conftest import (
    BOB,
    BOOK,
    HOST,
    TOMORROW_3PM,
    USER,
    Chat,
    Events,
    assert_state_intact,
    booked,
    list_meetings,
    propose_booking,
)
from tests.fakes.sandbox_calcom import at
from testing.openai_fake import call, say

WED = date(2026, 11, 25)
BOOK_ARGS = {"start": TOMORROW_3PM, "reason": "budget review"}


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


def confirm_notes(chat: Chat) -> list[str]:
    return [m["content"] for m in chat.state.history if str(m.get("content")).startswith("[The user pressed")]


async def propose_cancel(chat: Chat, model, uid: str) -> str:
    await list_meetings(chat, model)
    model.on_user(f"^cancel {uid}$", call("cancel_meeting", booking_uid=uid))
    turn = await chat.send(f"cancel {uid}")
    assert turn.result.outcome == "proposal", turn.told
    return turn.proposals[0].id


# -- the same chat -----------------------------------------------------------------------------------------------------
async def test_double_click_on_confirm_writes_once(make_chat, model, cal):
    """Two Confirm clicks at once on a slow calendar: one booking; 'already being made', then the first outcome."""
    chat = make_chat(cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    cal.write_latency = 0.05

    first, second = await asyncio.gather(chat.confirm(proposal.id), chat.confirm(proposal.id))
    third = await chat.confirm(proposal.id)

    assert first["status"] == "booked" and first["message"].startswith("Booked ")
    assert second == {"ok": False, "status": "in_progress", "message": "That change is already being made."}
    assert third["repeated"] is True and third["status"] == "booked"
    assert len(confirm_notes(chat)) == 1
    assert_state_intact(chat.state, user=chat.user_before)
    assert cal.writes() == [BOOK] and len(booked(cal)) == 1


async def test_discard_while_confirm_runs_is_refused_and_the_write_completes(make_chat, model, sandbox_cal):
    """Discard pressed while Confirm's POST is on its way: 'already being made'; the booking completes once."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.write_latency = 0.1
    confirming = asyncio.create_task(chat.confirm())
    await wait_until(lambda: sandbox_cal.writes() == [BOOK])

    discarded = chat.discard(chat.state.proposal.id)
    outcome = await confirming

    assert discarded == {"ok": False, "status": "in_progress", "message": "That change is already being made."}
    assert outcome["status"] == "booked"
    assert confirm_notes(chat) == [f"[The user pressed Confirm] {outcome['message']} "
                                   f"(uid {outcome['booking']['uid']})"]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [BOOK] and len(booked(sandbox_cal)) == 1


async def test_a_new_message_while_confirm_runs_does_not_withdraw_the_proposal(make_chat, model, sandbox_cal):
    """A message typed while Confirm is being written: the proposal is not withdrawn; both finish cleanly."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.write_latency = 0.1
    model.on_user("thanks", say("You're welcome."))
    confirming = asyncio.create_task(chat.confirm())
    await wait_until(lambda: sandbox_cal.writes() == [BOOK])

    turn = await chat.send("thanks!")
    outcome = await confirming

    assert turn.told == ["You're welcome."] and turn.events.of(ProposalWithdrawn) == []
    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert len(confirm_notes(chat)) == 1
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [BOOK] and len(booked(sandbox_cal)) == 1


async def test_stop_during_a_tool_call_writes_nothing_and_keeps_the_history_valid(make_chat, model, sandbox_cal):
    """Stop during a slow slot check: no proposal left open, a short note in the history, nothing written."""
    chat = make_chat(sandbox_cal)
    await chat.service.calendar()
    sandbox_cal.latency = 0.5
    model.on_user("book", call("book_meeting", **BOOK_ARGS))
    model.on_user("hello", say("Hello again."))
    events = Events()
    task = asyncio.create_task(chat.service.handle_message(chat.state, "book tomorrow 3pm about the budget review",
                                                           events))
    await wait_until(lambda: any(r.url.path == "/v2/slots" for r in sandbox_cal.requests))

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert events.of(CodeReply) == [] and events.of(TextDone) == [] and events.of(ProposalReady) == []
    assert chat.state.history == [{"role": "user", "content": "book tomorrow 3pm about the budget review"},
                                  {"role": "assistant", "content": STOPPED_NOTE}]
    sandbox_cal.latency = 0
    again = await chat.send("hello")
    assert again.told == ["Hello again."]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [] and booked(sandbox_cal) == []


async def test_stop_during_confirm_does_not_leave_the_proposal_executing(make_chat, model, sandbox_cal):
    """Stop while Confirm waits for Cal.com: not stuck 'executing'; told it may have gone through."""
    chat = make_chat(sandbox_cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="POST", path="^/v2/bookings$", delay=2, after=True))
    confirming = asyncio.create_task(chat.confirm())
    await wait_until(lambda: len(booked(sandbox_cal)) == 1)

    confirming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await confirming

    again = await chat.confirm(proposal.id)
    assert again["repeated"] is True and again["ok"] is False
    assert again["message"] == ("Stopped before Cal.com answered, so I cannot tell whether the booking went through. "
                                "List your meetings to check before trying again.")
    assert chat.discard(proposal.id)["status"] == "no_proposal"
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [BOOK] and len(booked(sandbox_cal)) == 1


# -- several chats -----------------------------------------------------------------------------------------------------
async def test_two_chats_confirming_the_same_slot_make_one_booking(make_service, model, sandbox_cal):
    """Ana and Bob confirm the same slot at once: one booking; the other is told it is gone, with alternatives."""
    service = make_service(sandbox_cal)
    ana, bob = Chat(service), Chat(service, email=BOB, name="Bob", zone="Europe/Berlin")
    await propose_booking(ana, model)
    await propose_booking(bob, model)
    sandbox_cal.write_latency = 0.05

    results = await asyncio.gather(ana.confirm(), bob.confirm())

    won = [r for r in results if r["status"] == "booked"]
    lost = [r for r in results if r["status"] == "slot_unavailable"]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0]["message"] == ("That time is not free on the calendar any more. Pick another of the free times. "
                                  "Nothing was changed.")
    assert lost[0]["alternatives"] and all(a["start"] != "2026-11-24T15:00" for a in lost[0]["alternatives"])
    for chat in (ana, bob):
        assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [BOOK, BOOK]  # both sent, Cal.com refused the second
    [booking] = booked(sandbox_cal)
    winner = ana if results[0]["status"] == "booked" else bob
    assert winner.state.made_booking_uids == [booking["uid"]]
    assert (bob if winner is ana else ana).state.made_booking_uids == []


async def test_ten_chats_booking_different_slots_at_once_make_ten_bookings(make_service, model, sandbox_cal):
    """Ten chats book ten different slots at once on a slow calendar: ten bookings, each its own user's."""
    sandbox_cal.latency = 0.005
    service = make_service(sandbox_cal)
    chats = [Chat(service, email=f"user{i}@example.com", name=f"User {i}") for i in range(10)]
    for i in range(10):
        start = f"2026-11-24T{10 + i // 2:02d}:{30 * (i % 2):02d}"
        model.on_user(f"^user{i} books$", call("book_meeting", start=start, reason=f"topic {i}"))

    turns = await asyncio.gather(*(chat.send(f"user{i} books") for i, chat in enumerate(chats)))
    outcomes = await asyncio.gather(*(chat.confirm() for chat in chats))

    assert [t.result.outcome for t in turns] == ["proposal"] * 10
    assert [o["status"] for o in outcomes] == ["booked"] * 10
    assert all(o["message"].startswith("Booked the meeting on Tuesday 24 November 2026") for o in outcomes)
    assert all(o["booking"]["untrusted"]["title"].startswith("30 Min Meeting between Hana Host and User ")
               for o in outcomes)
    by_uid = {b["uid"]: b for b in booked(sandbox_cal)}
    assert len(by_uid) == 10
    for i, (chat, outcome) in enumerate(zip(chats, outcomes)):
        mine = by_uid[outcome["booking"]["uid"]]
        assert mine["attendees"][0]["email"] == f"user{i}@example.com"
        assert mine["bookingFieldsResponses"]["notes"] == f"topic {i}"
        assert chat.state.made_booking_uids == [mine["uid"]]
        assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [BOOK] * 10


async def test_five_chats_listing_at_once_on_a_slow_calendar_see_only_their_own(make_service, model, sandbox_cal):
    """Five chats list at once on a slow calendar: each sees only its own meeting."""
    sandbox_cal.latency = 0.02
    service = make_service(sandbox_cal)
    chats = [Chat(service, email=f"user{i}@example.com", name=f"User {i}") for i in range(5)]
    mine = [sandbox_cal.add_booking(at(WED, 9 + i), attendee_email=f"user{i}@example.com",
                                    attendee_name=f"User {i}") for i in range(5)]

    turns = await asyncio.gather(*(list_meetings(chat, model) for chat in chats))

    for i, (chat, turn) in enumerate(zip(chats, turns)):
        assert turn.told == ["You have 1 meeting(s)."]
        assert [m["uid"] for m in turn.result_of("list_meetings")["meetings"]] == [mine[i]["uid"]]
        assert chat.state.seen_booking_uids == [mine[i]["uid"]]
        assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_two_owner_chats_confirming_the_same_cancel_cancel_it_once(make_service, model, sandbox_cal):
    """The owner confirms one cancellation in two chats at once: cancelled once; the other told already."""
    service = make_service(sandbox_cal, cal_user_email=HOST, cal_user_name="Hana Host")
    first, second = Chat(service), Chat(service)
    meeting = sandbox_cal.add_booking(at(WED, 10), attendee_email=BOB, attendee_name="Bob")
    await propose_cancel(first, model, meeting["uid"])
    await propose_cancel(second, model, meeting["uid"])
    sandbox_cal.latency = 0.05

    results = await asyncio.gather(first.confirm(), second.confirm())

    [won] = [r for r in results if r["status"] == "cancelled"]
    [lost] = [r for r in results if r is not won]
    assert won["message"].startswith("Cancelled the meeting on ")
    assert won["booking"]["untrusted"]["title"] == "30 Min Meeting between Hana Host and Bob"
    for chat in (first, second):
        assert_state_intact(chat.state, user=chat.user_before)
    cancel = ("POST", f"/v2/bookings/{meeting['uid']}/cancel")
    if lost["status"] == "failed":  # both fetched it before either cancelled: Cal.com refused the second cancel
        assert lost["message"] == "That meeting was already cancelled; nothing more to do."
        assert sandbox_cal.writes() == [cancel, cancel]
    else:  # the second fetched it after the first cancel: refused by calbot, no second POST
        assert lost == {"ok": False, "status": "already_cancelled",
                        "message": "That meeting is already cancelled. Nothing was changed."}
        assert sandbox_cal.writes() == [cancel]
    assert sandbox_cal.booking(meeting["uid"])["status"] == "cancelled"


async def test_a_cancel_after_another_chat_cancelled_the_meeting_is_refused(make_service, model, sandbox_cal):
    """Chat B cancels a meeting chat A listed: A's cancel is refused as already cancelled; A sends no write."""
    service = make_service(sandbox_cal)
    a, b = Chat(service), Chat(service)
    meeting = sandbox_cal.add_booking(at(WED, 10), attendee_email=USER, attendee_name="Ana Diaz")
    await list_meetings(a, model)
    await propose_cancel(b, model, meeting["uid"])
    assert (await b.confirm())["status"] == "cancelled"
    model.on_user("^drop it$", call("cancel_meeting", booking_uid=meeting["uid"]))
    model.on_tool_result("cancel_meeting", lambda req: say(req.last_tool_result["error"]))

    turn = await a.send("drop it")

    assert turn.told == ["That meeting is already cancelled."] and turn.proposals == []
    assert_state_intact(a.state, user=a.user_before, pending=("cancel_meeting", {"booking_uid": meeting["uid"]}))
    assert_state_intact(b.state, user=b.user_before)
    assert sandbox_cal.writes() == [("POST", f"/v2/bookings/{meeting['uid']}/cancel")]  # B's only


async def test_confirm_rechecks_a_meeting_cancelled_outside_calbot(make_chat, model, sandbox_cal):
    """A meeting cancelled on Cal.com after this chat's list: proposed from the cache, refused at Confirm."""
    chat = make_chat(sandbox_cal)
    meeting = sandbox_cal.add_booking(at(WED, 10), attendee_email=USER, attendee_name="Ana Diaz")
    proposal_id = await propose_cancel(chat, model, meeting["uid"])
    sandbox_cal.edit(meeting["uid"], lambda b: b.update(status="cancelled"))

    outcome = await chat.confirm(proposal_id)

    assert outcome == {"ok": False, "status": "already_cancelled",
                       "message": "That meeting is already cancelled. Nothing was changed."}
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
