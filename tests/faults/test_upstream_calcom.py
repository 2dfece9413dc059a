"""Upstream faults on the Cal.com side: 5xx, dropped connections, timeouts, 429s, a wrong key, a page that is not
Cal.com's API, and writes whose outcome is unknown. Reads are retried; a booking is never duplicated."""

from __future__ import annotations

import time
from datetime import date

import httpx
import stamina

from calbot.sandbox import FaultSpec
from tests.faults.conftest import (
    BOB,
    BOOK,
    CAL_SECRET,
    TOMORROW_3PM,
    Chat,
    assert_no_secrets,
    assert_state_intact,
    booked,
    list_meetings,
    propose_booking,
    relay,
)
from tests.fakes.sandbox_calcom import at
from testing.openai_fake import call, say

WED = date(2026, 11, 25)
BOOK_ARGS = {"start": TOMORROW_3PM, "reason": "budget review"}
SLOTS = r"^/v2/slots$"
LIST = r"^/v2/bookings$"
CREATE = r"^/v2/bookings$"
INTERNAL_ERROR_READ = "Cal.com had an internal error. Please try again in a minute."
UNKNOWN_BOOKING = ("Cal.com had an internal error, so I cannot tell whether the booking went through. List your "
                   "meetings to check before trying again.")


def slot_gets(cal) -> int:
    return sum(1 for r in cal.requests if r.method == "GET" and r.url.path == "/v2/slots")


def rate_limited(reset: float) -> httpx.Response:
    return httpx.Response(429, headers={"X-RateLimit-Limit-Default": "120", "X-RateLimit-Remaining-Default": "0",
                                        "X-RateLimit-Reset-Default": str(reset)},
                          json={"status": "error", "timestamp": "2026-11-23T08:00:00.000Z", "path": "/v2/slots",
                                "error": {"code": "ThrottlerException", "message": "CustomThrottlerGuard - Too many "
                                          "requests. Please try again later."}})


async def tuesday_free_times(chat: Chat, model) -> object:
    model.on_user("free tomorrow", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", lambda req: say(
        f"Free: {', '.join(req.last_tool_result['days'][0]['free_local'])}."),
        when=lambda result: result.get("ok"))
    relay(model, "check_availability")
    return await chat.send("when am I free tomorrow?")


# -- reads -----------------------------------------------------------------------------------------------------------
async def test_slots_500_twice_then_ok_is_retried_and_the_proposal_shown(make_chat, model, sandbox_cal):
    """GET /v2/slots answers 500 twice, then 200 (sandbox hook): retried, the proposal is shown, nothing written."""
    chat = make_chat(sandbox_cal)
    await chat.service.calendar()
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="GET", path=SLOTS, status=500, count=2))

    turn = await propose_booking(chat, model)

    [proposal] = turn.proposals
    assert proposal.summary.startswith("Book a 30-minute 30 Min Meeting on Tuesday 24 November 2026, 15:00")
    assert turn.told == [] and slot_gets(sandbox_cal) == 3
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS), proposal=proposal.id)
    assert sandbox_cal.writes() == [] and booked(sandbox_cal) == []


async def test_slots_502_on_every_attempt_is_one_plain_sentence(make_chat, model, sandbox_cal):
    """GET /v2/slots answers 502 on all 3 attempts: one plain sentence, no proposal, nothing written."""
    chat = make_chat(sandbox_cal)
    for _ in range(3):
        sandbox_cal.fail_next("GET", SLOTS, 502, "BAD_GATEWAY", "upstream exploded: RAW-GATEWAY-TEXT")
    model.on_user("book", call("book_meeting", **BOOK_ARGS))
    relay(model, "book_meeting")

    turn = await chat.send("book tomorrow 3pm about the budget review")

    assert turn.told == [INTERNAL_ERROR_READ] and turn.result.outcome == "answered"
    assert slot_gets(sandbox_cal) == 3 and "RAW-GATEWAY-TEXT" not in str(chat.state.history)
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS))
    assert sandbox_cal.writes() == [] and booked(sandbox_cal) == []


async def test_list_connection_dropped_once_is_retried(make_chat, model, sandbox_cal):
    """The sandbox drops GET /v2/bookings once: the read is repeated and the meetings are listed."""
    chat = make_chat(sandbox_cal)
    sandbox_cal.add_booking(at(WED, 10),
                            attendee_email=chat.state.user.email, attendee_name="Ana Diaz")
    await chat.service.calendar()
    sandbox_cal.fail_next("GET", LIST, exception=httpx.RemoteProtocolError("dropped"))

    turn = await list_meetings(chat, model)

    assert turn.told == ["You have 1 meeting(s)."]
    assert sum(1 for r in sandbox_cal.requests if r.method == "GET" and r.url.path == "/v2/bookings") == 2
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_slots_read_timeout_once_is_retried(make_chat, model, sandbox_cal):
    """GET /v2/slots times out once (ReadTimeout): repeated, the free times are told."""
    chat = make_chat(sandbox_cal)
    sandbox_cal.fail_next("GET", SLOTS, exception=httpx.ReadTimeout("slow"))

    turn = await tuesday_free_times(chat, model)

    assert turn.told == ["Free: 10:00-18:00."] and slot_gets(sandbox_cal) == 2
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_rate_limit_with_a_short_reset_is_waited_out(make_chat, model, sandbox_cal):
    """GET /v2/slots gets 429 with a 0.3 s X-RateLimit-Reset: calbot waits that long, then answers."""
    chat = make_chat(sandbox_cal)
    await chat.service.calendar()
    sandbox_cal.answer_next("GET", SLOTS, rate_limited(0.3))

    with stamina.set_testing(False):  # really sleep, to see the wait follow the header
        started = time.perf_counter()
        turn = await tuesday_free_times(chat, model)
        waited = time.perf_counter() - started

    assert turn.told == ["Free: 10:00-18:00."]
    assert slot_gets(sandbox_cal) == 2 and 0.3 <= waited < 2
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_rate_limit_with_a_long_reset_tells_when_to_try_again(make_chat, model, sandbox_cal):
    """The sandbox answers 429 with a 60 s reset: not waited out; told to try again in 60 seconds."""
    chat = make_chat(sandbox_cal)
    await chat.service.calendar()
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="GET", path=SLOTS, status=429))

    turn = await tuesday_free_times(chat, model)

    assert turn.told == ["Cal.com is limiting how often calbot may call it. Please try again in 60 seconds."]
    assert slot_gets(sandbox_cal) == 1
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_calcom_401_mid_chat_names_cal_api_key_and_never_the_key(make_chat, model, sandbox_cal):
    """GET /v2/slots answers 401 quoting the key: the sentence names CAL_API_KEY; the key is shown nowhere."""
    chat = make_chat(sandbox_cal)
    await chat.service.calendar()
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="GET", path=SLOTS, status=401,
                                                   message=f"Invalid API key: {CAL_SECRET}"))

    turn = await tuesday_free_times(chat, model)

    [sentence] = turn.told
    assert sentence.startswith("Cal.com rejected calbot's API key. Check CAL_API_KEY")
    assert slot_gets(sandbox_cal) == 1  # a 401 is not repeated
    assert_no_secrets(turn.told, turn.tool_results, [r.body for r in model.requests])
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_calcom_401_at_start_names_cal_api_key_and_asks_no_model(make_service, model, sandbox_cal):
    """GET /v2/me answers 401 (wrong CAL_API_KEY): a sentence naming CAL_API_KEY; the model is never asked."""
    wrong = "cal_live_wrongwrongwrong1234"
    chat = Chat(make_service(sandbox_cal, cal_api_key=wrong))

    turn = await chat.send("book me tomorrow at 3pm")

    assert turn.result.outcome == "failed" and model.calls_count == 0
    assert turn.told == ["Cal.com rejected CAL_API_KEY. Create a key in Cal.com > Settings > Developer > API keys "
                         "and set CAL_API_KEY to it."]
    assert wrong not in str(turn.events.all) and chat.state.history == []
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_calcom_answering_an_html_page_is_a_plain_sentence(make_chat, model, sandbox_cal):
    """GET /v2/slots answers 200 with an HTML page: not repeated; the sentence names CAL_API_BASE_URL."""
    chat = make_chat(sandbox_cal)
    sandbox_cal.answer_next("GET", SLOTS, httpx.Response(200, text="<html><body>Please log in</body></html>",
                                                        headers={"content-type": "text/html"}))

    turn = await tuesday_free_times(chat, model)

    [sentence] = turn.told
    assert "CAL_API_BASE_URL" in sentence and "nothing was changed" in sentence and "<html" not in sentence
    assert slot_gets(sandbox_cal) == 1
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []



async def test_create_answered_with_an_html_page_says_the_outcome_is_unknown(make_chat, model, sandbox_cal):
    """POST /v2/bookings answers 200 with an HTML page: told the outcome is unknown; not repeated."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.answer_next("POST", CREATE, httpx.Response(200, text="<html>Moved</html>",
                                                          headers={"content-type": "text/html"}))

    outcome = await chat.confirm()

    assert outcome["ok"] is False and outcome["status"] == "failed"
    assert outcome["message"].startswith("Cal.com answered in a form calbot does not understand, so I cannot tell "
                                         "whether the booking went through. List your meetings to check")
    assert "CAL_API_BASE_URL" in outcome["message"]
    assert sandbox_cal.writes() == [BOOK] and booked(sandbox_cal) == []
    assert_state_intact(chat.state, user=chat.user_before)

# -- writes whose outcome is unknown -----------------------------------------------------------------------------------
async def test_create_500_after_the_booking_was_made_is_found_not_repeated(make_chat, model, cal):
    """POST /v2/bookings books, then answers 500: found by its calbot_proposal marker; one POST, one booking."""
    chat = make_chat(cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    cal.fail_next("POST", CREATE, 500, after=True)

    outcome = await chat.confirm()

    assert outcome["ok"] and outcome["status"] == "booked"
    assert outcome["message"].startswith("Booked the meeting on Tuesday 24 November 2026, 15:00–15:30 CET "
                                         "(Europe/Berlin).")
    assert cal.writes() == [BOOK]
    [booking] = booked(cal)
    assert booking["metadata"]["calbot_proposal"] == proposal.id and booking["uid"] == outcome["booking"]["uid"]
    assert_state_intact(chat.state, user=chat.user_before)
    assert chat.state.made_booking_uids == [booking["uid"]]


async def test_create_connection_dropped_after_the_booking_was_made_is_not_repeated(make_chat, model, sandbox_cal):
    """The sandbox books, then drops the connection: the look-up finds it; one POST, one booking."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="POST", path=CREATE, drop=True, after=True))

    outcome = await chat.confirm()

    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [BOOK] and len(booked(sandbox_cal)) == 1
    assert_state_intact(chat.state, user=chat.user_before)


async def test_create_timeout_before_the_booking_was_made_is_repeated_once(make_chat, model, sandbox_cal):
    """POST /v2/bookings times out before booking: the look-up finds nothing, one repeat books it once."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.fail_next("POST", CREATE, exception=httpx.ReadTimeout("slow"))

    outcome = await chat.confirm()

    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [BOOK, BOOK]  # the first never took effect
    [booking] = booked(sandbox_cal)
    assert chat.state.made_booking_uids == [booking["uid"]]
    assert_state_intact(chat.state, user=chat.user_before)


async def test_create_failing_twice_says_it_may_not_have_gone_through(make_chat, model, sandbox_cal):
    """POST /v2/bookings fails, its repeat too: told it may not have gone through; no booking, no 3rd POST."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.fail_next("POST", CREATE, 500)
    sandbox_cal.fail_next("POST", CREATE, 500)

    outcome = await chat.confirm()

    assert outcome == {"ok": False, "status": "failed", "message": UNKNOWN_BOOKING}
    assert sandbox_cal.writes() == [BOOK, BOOK] and booked(sandbox_cal) == []
    assert_state_intact(chat.state, user=chat.user_before)
    assert (await chat.confirm(next(iter(chat.state.finished_proposals))))["repeated"] is True
    assert sandbox_cal.writes() == [BOOK, BOOK]


async def test_create_recovery_lookup_failing_keeps_the_unknown_outcome(make_chat, model, sandbox_cal):
    """POST books then answers 500 and the look-up fails: told the outcome is unknown; never repeated blindly."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    server = sandbox_cal.sandbox.server
    server.add_fault(FaultSpec(method="POST", path=CREATE, status=500, after=True))
    server.add_fault(FaultSpec(method="GET", path=LIST, status=503, count=3))

    outcome = await chat.confirm()

    assert outcome == {"ok": False, "status": "failed", "message": UNKNOWN_BOOKING}
    assert sandbox_cal.writes() == [BOOK] and len(booked(sandbox_cal)) == 1
    assert_state_intact(chat.state, user=chat.user_before)


async def test_create_429_with_a_short_reset_at_confirm_is_repeated_once(make_chat, model, sandbox_cal):
    """POST /v2/bookings refused with 429 and a 1 s reset (nothing done): repeated once, booked once."""
    chat = make_chat(sandbox_cal)
    await propose_booking(chat, model)
    sandbox_cal.answer_next("POST", CREATE, rate_limited(1))

    outcome = await chat.confirm()

    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [BOOK, BOOK] and len(booked(sandbox_cal)) == 1
    assert_state_intact(chat.state, user=chat.user_before)


async def test_reschedule_500_after_the_move_follows_rescheduled_to_uid(make_chat, model, cal):
    """POST .../reschedule moves, then answers 500: rescheduledToUid is followed; one move, no repeat."""
    chat = make_chat(cal)
    old = cal.add_booking(at(WED, 10), attendee_email=chat.state.user.email,
                          attendee_name="Ana Diaz")
    await list_meetings(chat, model)
    model.on_user("move it", call("reschedule_meeting", booking_uid=old["uid"], new_start="2026-11-25T15:00"))
    turn = await chat.send("move it to 3pm")
    assert turn.result.outcome == "proposal"
    cal.fail_next("POST", r"/reschedule$", 500, after=True)

    outcome = await chat.confirm()

    assert outcome["status"] == "rescheduled" and outcome["message"].startswith("Moved the meeting to ")
    assert "Wednesday 25 November 2026, 15:00–15:30 CET" in outcome["message"]
    assert cal.writes() == [("POST", f"/v2/bookings/{old['uid']}/reschedule")]
    [new] = booked(cal)
    assert new["uid"] == outcome["booking"]["uid"] != old["uid"]
    assert cal.booking(old["uid"])["status"] == "cancelled"
    assert cal.booking(old["uid"])["rescheduledToUid"] == new["uid"]
    assert new["uid"] in chat.state.seen_booking_uids
    assert_state_intact(chat.state, user=chat.user_before)


async def test_cancel_500_is_a_plain_sentence_and_the_meeting_stays(make_chat, model, sandbox_cal):
    """POST .../cancel answers 500: a plain sentence (outcome unknown), not repeated; the meeting stays booked."""
    chat = make_chat(sandbox_cal)
    meeting = sandbox_cal.add_booking(at(WED, 10),
                                    attendee_email=chat.state.user.email, attendee_name="Ana Diaz")
    await list_meetings(chat, model)
    model.on_user("cancel it", call("cancel_meeting", booking_uid=meeting["uid"]))
    assert (await chat.send("cancel it")).result.outcome == "proposal"
    sandbox_cal.fail_next("POST", r"/cancel$", 500)

    outcome = await chat.confirm()

    assert outcome["message"] == ("Cal.com had an internal error, so I cannot tell whether the cancellation went "
                                  "through. List your meetings to check before trying again.")
    assert sandbox_cal.writes() == [("POST", f"/v2/bookings/{meeting['uid']}/cancel")]
    assert [b["uid"] for b in booked(sandbox_cal)] == [meeting["uid"]]
    assert_state_intact(chat.state, user=chat.user_before)


async def test_slot_taken_before_confirm_offers_the_nearest_free_times(make_chat, model, sandbox_cal):
    """Someone books the slot before Confirm: Cal.com refuses, the user gets the nearest free times."""
    chat = make_chat(sandbox_cal)
    proposal = (await propose_booking(chat, model)).proposals[0]
    sandbox_cal.add_booking(proposal.start, attendee_email=BOB, attendee_name="Bob")

    outcome = await chat.confirm()

    assert outcome["status"] == "slot_unavailable"
    assert outcome["message"] == ("That time is not free on the calendar any more. Pick another of the free times. "
                                  "Nothing was changed.")
    assert [a["start"] for a in outcome["alternatives"]][:3] == ["2026-11-24T14:00", "2026-11-24T14:30",
                                                                 "2026-11-24T15:30"]
    assert sandbox_cal.writes() == [BOOK]  # refused by Cal.com
    assert [b["attendees"][0]["email"] for b in booked(sandbox_cal)] == [BOB]
    assert_state_intact(chat.state, user=chat.user_before)


async def test_booking_gone_before_confirm_of_cancel_changes_nothing(make_chat, model, sandbox_cal):
    """GET /v2/bookings/{uid} answers 404 at Confirm of a cancel: told it no longer exists; no cancel sent."""
    chat = make_chat(sandbox_cal)
    meeting = sandbox_cal.add_booking(at(WED, 10),
                                      attendee_email=chat.state.user.email, attendee_name="Ana Diaz")
    await list_meetings(chat, model)
    model.on_user("cancel it", call("cancel_meeting", booking_uid=meeting["uid"]))
    assert (await chat.send("cancel it")).result.outcome == "proposal"
    sandbox_cal.sandbox.server.add_fault(FaultSpec(method="GET", path=f"^/v2/bookings/{meeting['uid']}$",
                                                   status=404, message=f"Booking with uid={meeting['uid']} was "
                                                                          "not found"))

    outcome = await chat.confirm()

    assert outcome["message"] == "That meeting no longer exists in the calendar. Nothing was changed."
    assert sandbox_cal.writes() == [] and len(booked(sandbox_cal)) == 1
    assert_state_intact(chat.state, user=chat.user_before)

