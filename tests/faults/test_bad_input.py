"""Bad input, from the user or passed on by the model: each gets a plain answer and changes nothing on the calendar
(and nothing in the chat beyond the conversation itself)."""

from __future__ import annotations

from datetime import date

import pytest

from calbot.chat import EMPTY_MESSAGE_REPLY, MAX_MESSAGE_CHARS
from calbot.channels.markdown import proposal_markdown
from tests.faults.conftest import (
    BOOK,
    NO_PENDING,
    USER,
    TOMORROW_3PM,
    Chat,
    assert_state_intact,
    booked,
    list_meetings,
    propose_booking,
    relay,
)
from tests.fakes.sandbox_calcom import at
from testing.openai_fake import call, say

BOOK_ARGS = {"start": TOMORROW_3PM, "reason": "budget review"}


def slot_gets(cal) -> int:
    return sum(1 for r in cal.requests if r.method == "GET" and r.url.path == "/v2/slots")


async def refused_booking(chat: Chat, model, **arguments) -> object:
    """The model passes `arguments` to book_meeting and tells the user what the tool result says."""
    model.on_user("^book it$", call("book_meeting", **arguments))
    relay(model, "book_meeting")
    turn = await chat.send("book it")
    assert turn.result.outcome == "answered" and turn.proposals == []
    return turn


# -- the message itself ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "\n\t\u3000\u00a0"], ids=["empty", "spaces", "unicode-blanks"])
async def test_an_empty_or_blank_message_asks_no_model_and_keeps_the_proposal(make_chat, model, sandbox_cal, text):
    """An empty or blank message, a proposal open: a sentence from code, no model call, the proposal stays."""
    chat = make_chat(sandbox_cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    history, calls = list(chat.state.history), model.calls_count

    turn = await chat.send(text)

    assert turn.result.outcome == "refused" and turn.told == [EMPTY_MESSAGE_REPLY]
    assert model.calls_count == calls and chat.state.history == history
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS), proposal=proposal.id)
    assert sandbox_cal.writes() == []
    assert (await chat.confirm())["status"] == "booked"  # still confirmable
    assert sandbox_cal.writes() == [BOOK]


async def test_a_message_over_the_limit_is_refused_with_the_limit_stated(make_chat, model, sandbox_cal):
    """A 4,001-character message: the limit is stated, nothing sent or truncated, the open proposal stays."""
    chat = make_chat(sandbox_cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    history, calls = list(chat.state.history), model.calls_count

    turn = await chat.send("a" * (MAX_MESSAGE_CHARS + 1))

    assert turn.result.outcome == "refused"
    assert turn.told == [f"Your message is {MAX_MESSAGE_CHARS + 1:,} characters long; I can read up to "
                         f"{MAX_MESSAGE_CHARS:,}. Nothing was sent. Please shorten it and send it again."]
    assert model.calls_count == calls and chat.state.history == history
    assert not any("a" * 100 in str(r.body) for r in model.requests)
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS), proposal=proposal.id)
    assert sandbox_cal.writes() == []


async def test_control_characters_in_a_message_and_a_reason_are_dropped(make_chat, model, sandbox_cal):
    """NUL, ESC and BEL in the message and the reason: dropped before the model, the page or Cal.com see them."""
    chat = make_chat(sandbox_cal)
    model.on_user("book", call("book_meeting", start=TOMORROW_3PM, reason="budget\x00 review\x1b[31m!"))

    turn = await chat.send("book\x00 tomorrow 3pm\x1b[2J about the budget review\x07")

    assert model.requests[0].latest_user_text == "book tomorrow 3pm[2J about the budget review"
    [proposal] = turn.proposals
    assert proposal.reason == "budget review[31m!"
    assert "\x00" not in proposal_markdown(proposal) and "\x1b" not in proposal_markdown(proposal)
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": TOMORROW_3PM, "reason": "budget review[31m!"}),
                        proposal=proposal.id)
    outcome = await chat.confirm()
    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [BOOK]
    [booking] = booked(sandbox_cal)
    assert booking["bookingFieldsResponses"]["notes"] == "budget review[31m!"


async def test_emoji_and_non_english_text_round_trip_into_the_booking(make_chat, model, sandbox_cal):
    """A reason in French, Chinese and emoji: kept exactly in the proposal, the booking and the later list."""
    reason = "réunion 会议 🗓️ über Straße"
    chat = make_chat(sandbox_cal)
    model.on_user("réunion", call("book_meeting", start=TOMORROW_3PM, reason=reason))

    turn = await chat.send(f"réserve demain 15h: {reason}")

    assert model.requests[0].latest_user_text == f"réserve demain 15h: {reason}"
    [proposal] = turn.proposals
    assert proposal.reason == reason and proposal.summary.endswith(f"about: {reason}")
    outcome = await chat.confirm()
    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [BOOK]
    [booking] = booked(sandbox_cal)
    assert booking["bookingFieldsResponses"]["notes"] == reason
    listed = (await list_meetings(chat, model)).result_of("list_meetings")
    assert listed["meetings"][0]["untrusted"]["reason"] == reason
    assert_state_intact(chat.state, user=chat.user_before)


# -- identity ----------------------------------------------------------------------------------------------------------
async def test_an_invalid_email_typed_by_the_user_is_refused(make_service, model, sandbox_cal):
    """An unknown user types ana@@example: refused as not an email, nothing stored; the correction is accepted."""
    chat = Chat(make_service(sandbox_cal, cal_user_email=None, cal_user_name=None))
    model.on_user("ana@@example", call("book_meeting", attendee_email="ana@@example", attendee_name="Ana",
                                       **BOOK_ARGS))
    relay(model, "book_meeting")

    turn = await chat.send("I'm Ana, ana@@example, book tomorrow 3pm about the budget review")

    [sentence] = turn.told
    assert sentence.startswith("book_meeting: attendee_email: 'ana@@example' is not a valid email address")
    assert chat.state.user.email is None and chat.state.user.name is None
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0
    # corrected in the next message: the address typed in that very message counts, stored unverified
    model.on_user("sorry", call("book_meeting", attendee_email=USER, attendee_name="Ana", **BOOK_ARGS))
    fixed = await chat.send(f"sorry, it is {USER}")
    assert fixed.result.outcome == "proposal" and fixed.proposals[0].attendee_email == USER
    assert (chat.state.user.email, chat.state.user.email_verified) == (USER, False)


async def test_an_invalid_guest_email_is_refused(make_chat, model, sandbox_cal):
    """guests=["not-an-email"]: refused as not an email before any Cal.com call."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, guests=["not-an-email"], **BOOK_ARGS)

    [sentence] = turn.told
    assert sentence.startswith("book_meeting: guests: 'not-an-email' is not a valid email address")
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


# -- times, zones, lengths ---------------------------------------------------------------------------------------------
async def test_an_unknown_time_zone_changes_nothing(make_chat, model, sandbox_cal):
    """'Set my zone to Mars/Olympus': a sentence; the zone stays Europe/Berlin."""
    chat = make_chat(sandbox_cal)
    model.on_user("Mars", call("set_time_zone", time_zone="Mars/Olympus"))
    relay(model, "set_time_zone")

    turn = await chat.send("set my zone to Mars/Olympus")

    [sentence] = turn.told
    assert sentence.startswith("'Mars/Olympus' is not a time zone")
    assert chat.state.user.time_zone == "Europe/Berlin"
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_february_30_is_refused_plainly(make_chat, model, sandbox_cal):
    """start=2027-02-30T10:00: told the time does not exist; Cal.com is not asked."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, start="2027-02-30T10:00", reason="budget review")

    [sentence] = turn.told
    assert sentence == "The time '2027-02-30T10:00' does not exist in the calendar."
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": "2027-02-30T10:00", "reason": "budget review"}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_a_past_time_is_refused(make_chat, model, sandbox_cal):
    """A start an hour ago: told it is in the past and what time it is now; Cal.com is not asked."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, start="2026-11-23T08:00", reason="budget review")

    assert turn.told == ["Monday 23 November 2026, 08:00 CET (Europe/Berlin) is in the past (it is now Monday 23 "
                         "November 2026, 09:00 CET (Europe/Berlin)). Ask for a time that is still ahead."]
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": "2026-11-23T08:00", "reason": "budget review"}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_a_time_three_years_ahead_is_refused(make_chat, model, sandbox_cal):
    """A start three years ahead: told it is too far ahead, that calbot books one year ahead, and until when."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, start="2029-11-26T10:00", reason="budget review")

    [sentence] = turn.told
    assert sentence == ("Monday 26 November 2029, 10:00 CET (Europe/Berlin) is too far ahead: calbot books at most one "
                        "year ahead (Cal.com lists free times no further), until Tuesday 23 November 2027, 09:00 CET "
                        "(Europe/Berlin).")
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": "2029-11-26T10:00", "reason": "budget review"}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_a_time_skipped_by_the_spring_forward_change_is_refused(make_chat, model, sandbox_cal):
    """02:30 on the spring-forward night in Berlin (it does not exist): refused with a sentence."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, start="2027-03-28T02:30", reason="budget review")

    [sentence] = turn.told
    assert "02:30" in sentence and "does not exist" in sentence
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": "2027-03-28T02:30", "reason": "budget review"}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_a_time_repeated_by_the_fall_back_change_is_reported(make_chat, model, sandbox_cal):
    """02:30 on the fall-back night in Berlin (it happens twice): the user is asked which, both offsets named."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, start="2027-10-31T02:30", reason="budget review")

    [sentence] = turn.told
    assert sentence.startswith("02:30 on Sunday 31 October 2027 happens twice in Europe/Berlin")
    assert "CEST (UTC+2), then at CET (UTC+1)" in sentence
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {"start": "2027-10-31T02:30", "reason": "budget review"}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_a_duration_the_event_type_does_not_offer_is_refused(make_chat, model, sandbox_cal):
    """duration_minutes=45 on a 30-minute event type: told the allowed lengths; Cal.com is not asked."""
    chat = make_chat(sandbox_cal)

    turn = await refused_booking(chat, model, duration_minutes=45, **BOOK_ARGS)

    assert turn.told == ["45 minutes is not offered; the meetings calbot can book are 30 or 60 minutes long."]
    assert_state_intact(chat.state, user=chat.user_before,
                        pending=("book_meeting", {**BOOK_ARGS, "duration_minutes": 45}))
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


async def test_an_availability_range_over_14_days_is_refused(make_chat, model, sandbox_cal):
    """Free times for a whole month: told to ask for at most 14 days; Cal.com is not asked."""
    chat = make_chat(sandbox_cal)
    model.on_user("month", call("check_availability", date="2026-11-24", end_date="2026-12-24"))
    relay(model, "check_availability")

    turn = await chat.send("when am I free this month?")

    assert turn.told == ["Ask for at most 14 days at once."]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [] and slot_gets(sandbox_cal) == 0


# -- uids --------------------------------------------------------------------------------------------------------------
async def test_a_uid_the_model_invented_is_refused_without_asking_calcom(make_chat, model, sandbox_cal):
    """cancel_meeting with a uid never shown in this chat: refused by code; Cal.com gets no GET, no write."""
    chat = make_chat(sandbox_cal)
    real = sandbox_cal.add_booking(at(date(2026, 11, 25), 10), attendee_email=USER, attendee_name="Ana Diaz")
    model.on_user("cancel", call("cancel_meeting", booking_uid=real["uid"]))  # right uid, but guessed
    relay(model, "cancel_meeting")

    turn = await chat.send("cancel my wednesday meeting")

    [sentence] = turn.told
    assert sentence.startswith(f"No meeting with uid {real['uid']!r} has been shown in this chat.")
    assert not any(r.url.path.startswith("/v2/bookings") for r in sandbox_cal.requests)
    assert_state_intact(chat.state, user=chat.user_before, pending=("cancel_meeting", {"booking_uid": real["uid"]}))
    assert sandbox_cal.writes() == [] and len(booked(sandbox_cal)) == 1


async def test_a_uid_with_path_characters_is_refused_as_malformed(make_chat, model, sandbox_cal):
    """booking_uid="../../me": refused by the argument format, never put in a URL."""
    chat = make_chat(sandbox_cal)
    model.on_user("move", call("reschedule_meeting", booking_uid="../../me", new_start="2026-11-25T15:00"))
    model.on_tool_result("reschedule_meeting", say("I could not find that meeting. Which one do you mean?"))

    turn = await chat.send("move my meeting to wednesday 3pm")

    assert turn.told == ["I could not find that meeting. Which one do you mean?"]
    error = turn.result_of("reschedule_meeting")["error"]
    assert error.startswith("reschedule_meeting: booking_uid: has the wrong format")
    assert not any(r.url.path.startswith("/v2/bookings") for r in sandbox_cal.requests)
    assert_state_intact(chat.state, user=chat.user_before, pending=NO_PENDING)
    assert sandbox_cal.writes() == []

