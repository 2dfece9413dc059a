"""ChatService (calbot/chat.py): what a front door gets without Chainlit: notices, input guards, the missing key,
withdrawn proposals, Confirm and Discard, the browser's zone against the one given in chat, and a calendar that
cannot be opened."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest

from calbot.agent.loop import ProposalWithdrawn, TextDelta, ToolFinished
from calbot.chat import EMPTY_MESSAGE_REPLY, MAX_MESSAGE_CHARS, ChatService
from calbot.config import SANDBOX_NOTICE
from calbot.sandbox import FaultSpec
from tests.agent.conftest import (
    assert_history_valid,
    bookings_in,
    calendar_requests,
    parsed,
    tool_messages,
)
from testing.openai_fake import call, say

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")


def bookings_posted(sandbox) -> list[dict]:
    return calendar_requests(sandbox, "POST", "/v2/bookings")


async def propose(service: ChatService, model, state, events):
    model.on_user("book", BOOK)
    result = await service.handle_message(state, "book me tomorrow at 3pm about the budget review", events)
    assert result.outcome == "proposal"
    return result.proposal


# -- notices ---------------------------------------------------------------------------------------------------------
async def test_the_first_reply_carries_the_notices_once(make_service, model, events):
    service = make_service(calbot_timezone="Mars/Olympus")
    problems = service.settings.problems
    assert any("CALBOT_TIMEZONE" in p for p in problems)
    model.on_user("hello", say("Hi there, how can I help?"))
    state = service.new_state()

    await service.handle_message(state, "hello", events)

    notices = events.codes("notice")
    assert [n.text for n in notices] == [*problems, SANDBOX_NOTICE]
    first_text = next(i for i, e in enumerate(events.all) if isinstance(e, TextDelta))
    assert all(events.all.index(n) < first_text for n in notices)  # shown before the answer
    assert state.notices_shown

    events.clear()
    await service.handle_message(state, "hello again", events)
    assert events.codes("notice") == [] and events.text() == "Hi there, how can I help?"

    other_chat = service.new_state()  # every chat gets them once
    events.clear()
    await service.handle_message(other_chat, "hello", events)
    assert len(events.codes("notice")) == len(problems) + 1


async def test_no_sandbox_notice_with_a_cal_com_key(make_service, model):
    service = make_service(sandbox_=None, cal_api_key="cal_live_abc")
    assert SANDBOX_NOTICE not in service.notices()


# -- input guards ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "\n\t  \n"])
async def test_an_empty_message_is_answered_by_code(service, model, events, text):
    state = service.new_state()

    result = await service.handle_message(state, text, events)

    assert result.outcome == "refused" and result.model_calls == 0
    assert [c.text for c in events.codes("guard")] == [EMPTY_MESSAGE_REPLY]
    assert model.calls_count == 0 and state.history == []


async def test_a_message_over_the_limit_is_refused_with_the_limit_stated(service, model, events):
    state = service.new_state()

    result = await service.handle_message(state, "x" * (MAX_MESSAGE_CHARS + 1), events)

    assert result.outcome == "refused" and model.calls_count == 0 and state.history == []
    [guard] = events.codes("guard")
    assert guard.text == result.error
    assert f"{MAX_MESSAGE_CHARS:,}" in guard.text and f"{MAX_MESSAGE_CHARS + 1:,}" in guard.text
    assert "Nothing was sent" in guard.text


async def test_a_message_at_the_limit_goes_through(service, model, events):
    state = service.new_state()
    text = "x" * MAX_MESSAGE_CHARS

    result = await service.handle_message(state, f"  {text}\n", events)  # surrounding blanks do not count

    assert result.outcome == "answered" and model.calls_count == 1
    assert model.requests[0].latest_user_text == text


async def test_without_openai_api_key_a_plain_sentence_names_it(make_service, model, events):
    service = make_service(model_client=None, openai_api_key=None)
    assert service.model_client() is None
    state = service.new_state()

    result = await service.handle_message(state, "book me tomorrow at 3pm", events)

    assert result.outcome == "failed" and "OPENAI_API_KEY is not set" in result.error
    # Said once in the first reply (the notice), not a second time as an error right under it.
    assert events.codes("error") == []
    assert [n.text for n in events.codes("notice")].count(next(
        n.text for n in events.codes("notice") if "OPENAI_API_KEY is not set" in n.text)) == 1
    assert model.calls_count == 0 and state.history == []
    # and again: still a sentence, no crash
    events.clear()
    assert (await service.handle_message(state, "hello?", events)).outcome == "failed"
    [error] = events.codes("error")  # later messages: the error each time
    assert "OPENAI_API_KEY is not set" in error.text and error.text == result.error


async def test_with_a_key_the_service_makes_its_own_client(make_settings):
    service = ChatService(make_settings(openai_api_key="sk-real", openai_base_url="http://localhost:9/v1"))
    try:
        client = service.model_client()
        assert client is not None and client is service.model_client()
        assert client.api_key == "sk-real" and str(client.base_url).startswith("http://localhost:9/v1")
        assert client.max_retries == 2
        assert isinstance(client._client, openai.DefaultAioHttpClient)  # the SDK's aiohttp transport (bench/)
    finally:
        await service.aclose()


# -- proposals: withdraw, confirm, discard ---------------------------------------------------------------------------
async def test_typing_withdraws_the_open_proposal_and_its_confirm_writes_nothing(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    model.on_user("hold on", say("Sure, take your time."))
    model.on_user("4pm", call("book_meeting", start="2026-11-24T16:00"))
    events.clear()

    result = await service.handle_message(state, "hold on, is 3pm right?", events)  # not a plain yes or no

    assert isinstance(events.all[0], ProposalWithdrawn) and events.all[0].proposal.id == proposal.id
    assert result.outcome == "answered" and state.proposal is None
    assert "A proposal is waiting" not in model.requests[-1].messages[0]["content"]

    outcome = await service.confirm(state, proposal.id)
    assert outcome["ok"] is False and outcome["status"] == "withdrawn" and outcome["repeated"] is True
    assert bookings_posted(sandbox) == [] and bookings_in(sandbox) == []
    assert not any("[The user pressed Confirm]" in str(m.get("content")) for m in state.history)

    # the withdrawn proposal's details are still pending: "make it 4pm" needs only the new time
    again = await service.handle_message(state, "make it 4pm instead", events)
    assert again.outcome == "proposal" and again.proposal.reason == "budget review"
    assert again.proposal.id != proposal.id
    assert_history_valid(state.history)


async def test_confirm_books_once_even_when_pressed_twice_at_once(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    # the booking takes a moment, so the second click arrives while the first is being made
    sandbox.server.add_fault(FaultSpec(method="POST", path="^/v2/bookings$", delay=0.05))

    first, second = await asyncio.gather(service.confirm(state, proposal.id), service.confirm(state, proposal.id))

    assert first["ok"] is True and first["status"] == "booked"
    assert second["ok"] is False and second["status"] == "in_progress"
    assert len(bookings_posted(sandbox)) == 1
    [booking] = bookings_in(sandbox)
    assert booking["uid"] == first["booking"]["uid"] and booking["start"] == "2026-11-24T14:00:00.000Z"
    notes = [m["content"] for m in state.history if str(m.get("content")).startswith("[The user pressed Confirm]")]
    assert notes == [f"[The user pressed Confirm] {first['message']} (uid {booking['uid']})"]
    assert state.proposal is None

    third = await service.confirm(state, proposal.id)  # a late click gets the first outcome, writes nothing
    assert third["repeated"] is True and third["status"] == "booked"
    assert len(bookings_posted(sandbox)) == 1 and len(notes) == 1
    assert_history_valid(state.history)


async def test_two_quick_confirms_without_latency_book_once(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)

    results = await asyncio.gather(*(service.confirm(state, proposal.id) for _ in range(3)))

    assert [r["status"] for r in results].count("booked") == 3 - sum(r["status"] == "in_progress" for r in results)
    assert sum(not r.get("repeated") and r["status"] == "booked" for r in results) == 1
    assert len(bookings_posted(sandbox)) == 1 and len(bookings_in(sandbox)) == 1
    assert sum("[The user pressed Confirm]" in str(m.get("content")) for m in state.history) == 1


async def test_the_confirm_note_reaches_the_model_next_turn(service, model, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    outcome = await service.confirm(state, proposal.id)
    model.on_user("thanks", say("You're welcome."))

    await service.handle_message(state, "thanks", events)

    uid = outcome["booking"]["uid"]
    sent = model.requests[-1].messages
    assert any(m["role"] == "assistant" and f"(uid {uid})" in (m.get("content") or "") for m in sent)


async def test_discard_writes_nothing_and_asks_no_model(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    calls_before = model.calls_count

    outcome = service.discard(state, proposal.id)

    assert outcome["ok"] is True and outcome["status"] == "discarded"
    assert model.calls_count == calls_before
    assert state.proposal is None and state.pending_function is None
    assert state.history[-1] == {"role": "assistant",
                                 "content": "[The user pressed Discard] Discarded: nothing was changed."}
    later = await service.confirm(state, proposal.id)
    assert later["status"] == "discarded" and later["repeated"] is True
    assert bookings_posted(sandbox) == [] and bookings_in(sandbox) == []
    assert service.discard(state, proposal.id)["status"] == "no_proposal"
    notes = len(state.history)
    assert (await service.confirm(state, "not-a-proposal"))["status"] == "no_proposal"
    assert len(state.history) == notes  # a stale or forged Confirm leaves no note in the history
    assert_history_valid(state.history)


async def test_discard_before_any_calendar_is_open(service):
    state = service.new_state()
    assert service.discard(state, "abc123")["status"] == "no_proposal"
    assert state.history == []


# -- time zones ------------------------------------------------------------------------------------------------------
async def test_zone_order_setting_then_browser(make_service):
    service = make_service()  # CALBOT_TIMEZONE=Europe/Berlin
    state = service.new_state()
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "setting")
    with_browser = service.new_state(time_zone="Asia/Tokyo")
    assert (with_browser.user.time_zone, with_browser.user.time_zone_source) == ("Asia/Tokyo", "browser")
    assert ChatService.set_browser_zone(state, "Not/AZone") is False and state.user.time_zone == "Europe/Berlin"


async def test_without_a_zone_the_hosts_zone_is_used(make_service, model, events):
    service = make_service(calbot_timezone=None)
    state = service.new_state()
    assert (state.user.time_zone, state.user.time_zone_source) == ("UTC", "default")

    await service.handle_message(state, "hello", events)

    assert state.user.time_zone == "Europe/London"  # the sandbox host's
    assert "User's time zone: Europe/London." in model.requests[0].messages[0]["content"]


async def test_a_zone_given_in_chat_beats_the_browser(service, model, sandbox, events):
    state = service.new_state()
    assert ChatService.set_browser_zone(state, "America/New_York") is True
    assert state.user.time_zone == "America/New_York"
    model.on_user("book", call("book_meeting", start="2026-11-24T09:00", reason="standup"))  # 14:00 UTC
    proposal = (await service.handle_message(state, "book tomorrow 9am for the standup", events)).proposal
    assert proposal.start.isoformat() == "2026-11-24T14:00:00+00:00"
    await service.confirm(state, proposal.id)

    model.on_user("Berlin", call("set_time_zone", time_zone="Berlin"))
    model.on_tool_result("set_time_zone", say("Got it, Berlin time from now on."))
    result = await service.handle_message(state, "I'm in Berlin this week", events)

    assert result.outcome == "answered" and result.tools_called == ["set_time_zone"]
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "chat")
    assert parsed(tool_messages(state.history)[-1])["time_zone"] == "Europe/Berlin"
    # a later browser report (page reload) does not override it
    assert ChatService.set_browser_zone(state, "America/New_York") is False
    assert state.user.time_zone == "Europe/Berlin"

    model.on_user("meetings", call("list_meetings"))
    model.on_tool_result("list_meetings", say("That's your week."))
    events.clear()
    await service.handle_message(state, "what meetings do I have?", events)

    [listed] = [e.result for e in events.of(ToolFinished) if e.name == "list_meetings"]
    assert listed["time_zone"] == "Europe/Berlin"
    [meeting] = listed["meetings"]
    assert meeting["start_local"] == "2026-11-24T15:00" and "CET (Europe/Berlin)" in meeting["when"]
    assert "User's time zone: Europe/Berlin." in model.requests[-1].messages[0]["content"]


async def test_an_unknown_zone_in_chat_changes_nothing(service, model, events):
    state = service.new_state()
    model.on_user("Atlantis", call("set_time_zone", time_zone="Atlantis"))
    model.on_tool_result("set_time_zone", lambda req: say(f"Hmm: {req.last_tool_result['status']}"))

    result = await service.handle_message(state, "I'm in Atlantis now", events)

    assert result.outcome == "answered" and state.history[-1]["content"] == "Hmm: invalid_time"
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "setting")
    assert "'Atlantis' is not a time zone" in parsed(tool_messages(state.history)[-1])["error"]


# -- off-topic -------------------------------------------------------------------------------------------------------
async def test_off_topic_the_models_reply_is_passed_through(service, model, events):
    refusal = "Sorry, I can only help with your meetings."
    model.on_user("weather", say(refusal))
    state = service.new_state()

    result = await service.handle_message(state, "what's the weather in Paris?", events)

    assert result.outcome == "answered" and events.text() == refusal
    assert state.history[-1] == {"role": "assistant", "content": refusal}
    prompt = model.requests[0].messages[0]["content"]
    assert "You only help with this calendar" in prompt
    assert "answer in one short sentence that you can only help with meetings" in prompt


# -- a calendar that cannot be opened --------------------------------------------------------------------------------
async def test_an_unusable_sandbox_file_is_a_sentence_and_the_next_message_retries(make_service, model,
                                                                                  tmp_path: Path, events):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    service = make_service(sandbox_=None, calbot_sandbox_db=str(blocker / "sandbox.db"))
    model.on_user("hello", say("Hello!"))
    state = service.new_state()

    result = await service.handle_message(state, "hello", events)

    assert result.outcome == "failed"
    [error] = events.codes("error")
    assert "CALBOT_SANDBOX_DB" in error.text and str(blocker / "sandbox.db") in error.text
    assert error.text == result.error
    assert model.calls_count == 0 and state.history == []

    blocker.unlink()  # the problem is fixed: no restart needed
    events.clear()
    again = await service.handle_message(state, "hello", events)

    assert again.outcome == "answered" and events.codes("error") == []
    assert (blocker / "sandbox.db").is_file()
    assert_history_valid(state.history)
