"""The bounded history (calbot/agent/history.py) wired into the loop (Agent(..., bound_history=True), the default):
a long chat with the scripted model and the sandbox calendar.

What is checked on the requests the model really receives: only the last PROMPT_TURNS turns (plus the current
message) are sent; a uid listed nine turns ago is still there, in the short form of its turn (its tool call and
result are not sent verbatim); the prompt at turn 32 stays within 1.3x the prompt at turn 5 (a structural check of
the bound, not a timing); every request is a conversation an OpenAI server accepts. On the stored side:
state.history keeps at most STORED_TURNS whole turns, round-trips through to_json, and still answers "did the user
type this email?" for a few turns back even when the model no longer sees that message.
Agent(..., bound_history=False) sends everything and trims nothing.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calbot.agent.history import (
    FULL_RESULT_TURNS,
    PROMPT_TURNS,
    SHORT_FORM_NOTE,
    STORED_TURNS,
    split_turns,
    summarise_result,
)
from calbot.agent.loop import Agent
from calbot.agent.prompt import calendar_instructions
from calbot.booking.session import SessionState
from tests.agent.conftest import USER, Events, assert_history_valid, bookings_in, parsed, seed_booking
from testing.openai_fake import RecordedRequest, ScriptedModel, call, say

BERLIN = ZoneInfo("Europe/Berlin")
DAYS = [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]  # Tue-Fri
TURNS = 32
MARK = re.compile(r"\[u(\d+)\]")


def slot(i: int) -> datetime:
    """Booking i (1-based) of the long chat: four days, eight hourly meetings a day, 10:00-17:00 Berlin."""
    day, hour = DAYS[(i - 1) // 8], 10 + (i - 1) % 8
    return datetime.combine(day, clock_time(hour), tzinfo=BERLIN).astimezone(UTC)


def user_text(i: int) -> str:
    start = slot(i).astimezone(BERLIN)
    return f"[u{i:02d}] what do I have on {start:%Y-%m-%d} at {start:%H:%M}?"


def answer_text(i: int) -> str:
    return f"[a{i:02d}] You have one meeting then."  # the answer never repeats the uid


def script_listing(model: ScriptedModel) -> None:
    """"[uNN] ..." -> list_meetings at booking NN's day and time -> a short answer without the uid."""
    def list_call(req: RecordedRequest):
        i = int(MARK.search(req.latest_user_text).group(1))
        start = slot(i).astimezone(BERLIN)
        return call("list_meetings", from_date=f"{start:%Y-%m-%d}", at_time=f"{start:%H:%M}")

    def answer(req: RecordedRequest):
        return say(answer_text(int(MARK.search(req.latest_user_text).group(1))))

    model.on_user(MARK, list_call)
    model.on_tool_result("list_meetings", answer)


def seed_meetings(sandbox, count: int = TURNS) -> list[str]:
    return [seed_booking(sandbox, slot(i))["uid"] for i in range(1, count + 1)]


async def run_chat(agent: Agent, state: SessionState, model: ScriptedModel, turns: range) -> dict[int, list]:
    """Run the listing turns; return turn number -> the requests the model received in that turn."""
    sent: dict[int, list[RecordedRequest]] = {}
    for i in turns:
        before = model.calls_count
        result = await agent.run(state, user_text(i))
        assert result.outcome == "answered" and result.model_calls == 2, (i, result)
        sent[i] = model.requests[before:]
    return sent


def markers(request: RecordedRequest) -> set[int]:
    return {int(m) for m in re.findall(r"\[u(\d+)\]", json.dumps(request.messages))}


def tool_message_for(messages: list[dict[str, Any]], uid: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("role") == "tool" and uid in m["content"]]


def assert_request_valid(request: RecordedRequest) -> None:
    """What the model got is a valid conversation once it answers (system prompt first)."""
    assert request.messages[0]["role"] == "system"
    assert_history_valid(request.messages[1:] + [{"role": "assistant", "content": "(the model's answer)"}])


@pytest.fixture
async def long_chat(service, model, sandbox):
    uids = seed_meetings(sandbox)
    script_listing(model)
    agent = await service.agent()
    state = service.new_state()
    sent = await run_chat(agent, state, model, range(1, TURNS + 1))
    return agent, state, sent, uids


# -- what the model receives ----------------------------------------------------------------------------------------
async def test_the_default_agent_is_bounded(service):
    agent = await service.agent()
    assert agent.bound_history is True


async def test_the_last_turn_sends_the_last_ten_turns_and_no_older_one(long_chat):
    agent, state, sent, uids = long_chat
    first, second = sent[TURNS]
    for request in (first, second):
        shown = markers(request)
        assert shown == set(range(TURNS - PROMPT_TURNS, TURNS + 1))  # ten earlier turns and the current one
        assert request.messages[1] == {"role": "user", "content": user_text(TURNS - PROMPT_TURNS)}
        text = json.dumps(request.messages)
        for i in range(1, TURNS - PROMPT_TURNS):
            assert f"[u{i:02d}]" not in text and f"[a{i:02d}]" not in text
            assert uids[i - 1] not in text  # nor the meetings only those turns listed
    assert first.latest_user_text == user_text(TURNS)


async def test_every_request_is_a_valid_conversation(long_chat):
    agent, state, sent, uids = long_chat
    for requests in sent.values():
        for request in requests:
            assert_request_valid(request)
    assert_history_valid(state.history)


async def test_a_uid_listed_nine_turns_ago_is_still_sent_in_a_summary(long_chat):
    agent, state, sent, uids = long_chat
    listed_at = TURNS - 9
    uid = uids[listed_at - 1]
    request = sent[TURNS][0]
    [stored] = tool_message_for(state.history, uid)
    full = parsed(stored)["meetings"][0]
    text = json.dumps(request.messages)
    assert tool_message_for(request.messages, uid) == [] and stored["tool_call_id"] not in text  # not verbatim
    [short] = [m for m in request.messages if m["role"] == "assistant" and uid in (m.get("content") or "")]
    assert short["content"].startswith(SHORT_FORM_NOTE) and "tool_calls" not in short
    assert summarise_result(stored["content"]) in short["content"]
    assert f"{uid} {full['start_local']}" in short["content"]
    assert full["untrusted"]["title"] not in short["content"]  # other people's text stays in tool results
    assert full["start_utc"] not in short["content"] and full["when"] not in short["content"]
    assert short["content"].endswith(answer_text(listed_at))
    # the session still knows the uid, so a later cancel may use it
    assert uid in state.seen_booking_uids


async def test_only_the_last_turn_is_sent_verbatim(long_chat):
    agent, state, sent, uids = long_chat
    request = sent[TURNS][0]
    assert FULL_RESULT_TURNS == 1
    [last] = tool_message_for(state.history, uids[TURNS - 2])
    assert tool_message_for(request.messages, uids[TURNS - 2]) == [last]  # the previous turn, as it happened
    previous = split_turns(state.history)[-2]  # state.history now holds this turn too
    assert request.messages[-len(previous) - 1:-1] == previous
    for turn in range(TURNS - PROMPT_TURNS, TURNS - 1):
        assert tool_message_for(request.messages, uids[turn - 1]) == []
    assert [m["role"] for m in request.messages].count("tool") == 1
    # this turn's own result is verbatim too (the second request of the turn)
    this_turn = sent[TURNS][1]
    assert this_turn.messages[-1] == next(m for m in reversed(state.history) if m["role"] == "tool")


async def test_the_prompt_stays_bounded(long_chat):
    """Structural, not timing: the request grows while the window fills (turn 5 carries 4 earlier turns, turn 11 on
    carry 10, all but the last in short form), then stays flat however long the chat gets."""
    agent, state, sent, uids = long_chat
    size = {turn: [r.prompt_chars for r in requests] for turn, requests in sent.items()}
    for turn in range(5, TURNS + 1):
        for position in (0, 1):  # the request with the user's message, the one with the tool result
            assert size[turn][position] <= 1.3 * size[5][position], (turn, position, size[turn], size[5])
    full = PROMPT_TURNS + 1  # the first turn whose request carries a full window
    for turn in range(full, TURNS + 1):
        for position in (0, 1):
            assert abs(size[turn][position] - size[full][position]) <= 0.02 * size[full][position], (turn, size)
    # an unbounded chat grows by the full size of every turn
    verbatim_turn = sum(len(json.dumps(m, ensure_ascii=False)) + 2 for m in split_turns(state.history)[-1])
    assert size[TURNS][0] < size[5][0] + (TURNS - 5) * verbatim_turn / 4


async def test_the_stored_history_round_trips_through_json(long_chat, model):
    agent, state, sent, uids = long_chat
    restored = SessionState.from_json(state.to_json())
    assert restored == state
    assert agent.messages(restored, []) == agent.messages(state, [])
    # the restored chat goes on exactly as the original would
    result = await agent.run(restored, user_text(1))
    assert result.outcome == "answered"
    assert markers(model.requests[-2]) == set(range(TURNS + 1 - PROMPT_TURNS, TURNS + 1)) | {1}
    assert_history_valid(restored.history)


# -- the stored history --------------------------------------------------------------------------------------------
def seed_history(state: SessionState, turns: int) -> None:
    """`turns` earlier complete turns with a tool call each, as a long-running chat would have stored them."""
    for n in range(turns):
        call_id = f"call_old_{n}"
        state.history += [
            {"role": "user", "content": f"[old{n:03d}] earlier question"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "list_meetings", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": call_id,
             "content": json.dumps({"ok": True, "count": 0, "meetings": [], "note": "x" * 300})},
            {"role": "assistant", "content": f"[oldanswer{n:03d}]"},
        ]


async def test_the_stored_history_keeps_at_most_sixty_whole_turns(service, model):
    model.on_user("hello", say("Hi."))
    agent = await service.agent()
    state = service.new_state()
    seed_history(state, 75)

    result = await agent.run(state, "hello again")

    assert result.outcome == "answered"
    turns = split_turns(state.history)
    assert len(turns) == STORED_TURNS
    assert state.history[0] == {"role": "user", "content": "[old016] earlier question"}  # whole turns dropped
    assert state.history[-2:] == [{"role": "user", "content": "hello again"}, {"role": "assistant", "content": "Hi."}]
    assert_history_valid(state.history)
    # the request carried ten earlier turns, and summarised the old results
    sent = model.requests[-1].messages
    assert sum(m["role"] == "user" for m in sent) == PROMPT_TURNS + 1
    assert sent[1]["content"] == "[old065] earlier question"
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["call_old_74"]  # the last turn as it was
    short = [m["content"] for m in sent if m["role"] == "assistant" and (m.get("content") or "").startswith(
        SHORT_FORM_NOTE)]
    assert len(short) == PROMPT_TURNS - FULL_RESULT_TURNS
    assert short[0] == f"{SHORT_FORM_NOTE}list_meetings() -> 0 meeting(s))\n[oldanswer065]"


async def test_an_email_typed_a_few_turns_ago_still_counts_as_typed(make_service, model, sandbox):
    service = make_service(cal_user_email=None, cal_user_name=None)
    model.on_user("I'm Ana", say("Nice to meet you, Ana."))
    model.on_user(r"^filler", say("Noted."))
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review",
                               attendee_email=USER, attendee_name="Ana Diaz"))
    agent = await service.agent()
    state = service.new_state()
    assert state.user.email is None

    await agent.run(state, f"I'm Ana Diaz, my email is {USER}")
    for n in range(PROMPT_TURNS + 3):
        assert (await agent.run(state, f"filler {n}")).outcome == "answered"
    result = await agent.run(state, "book tomorrow at 3pm about the budget review")

    assert USER not in json.dumps(model.requests[-1].messages[1:])  # the model no longer sees that message ...
    assert result.outcome == "proposal", result  # ... but the stored history still knows the user typed it
    assert state.user.email == USER and state.user.email_verified is False
    assert result.proposal.attendee_email == USER and result.proposal.attendee_name == "Ana Diaz"
    assert_history_valid(state.history)


async def test_an_email_typed_before_the_stored_window_no_longer_counts(make_service, model):
    service = make_service(cal_user_email=None, cal_user_name=None)
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review",
                               attendee_email=USER, attendee_name="Ana Diaz"))
    model.on_tool_result("book_meeting", lambda req: say(f"Refused: {req.last_tool_result['status']}"))
    agent = await service.agent()
    state = service.new_state()
    state.history += [{"role": "user", "content": f"I'm Ana Diaz, my email is {USER}"},
                      {"role": "assistant", "content": "Nice to meet you."}]
    seed_history(state, STORED_TURNS)  # the typed email is now the 61st turn back
    assert state.user_typed(USER)

    await agent.run(state, "hello")  # any turn trims the stored history
    assert not state.user_typed(USER)
    result = await agent.run(state, "book tomorrow at 3pm about the budget review")

    assert result.outcome == "answered" and state.history[-1]["content"] == "Refused: not_allowed"
    assert state.user.email is None


async def test_an_old_uid_stays_usable_after_its_turn_left_the_window(service, model, sandbox):
    script_listing(model)
    uids = seed_meetings(sandbox, 12)
    model.on_user("cancel the first", lambda req: call("cancel_meeting", booking_uid=uids[0]))
    agent = await service.agent()
    state = service.new_state()
    await run_chat(agent, state, model, range(1, 13))
    assert uids[0] not in json.dumps(agent.messages(state, []))

    result = await agent.run(state, "cancel the first meeting you showed me")

    assert result.outcome == "proposal" and result.proposal.booking_uid == uids[0]
    assert len(bookings_in(sandbox, "accepted")) == 12  # only proposed


# -- bound_history=False -------------------------------------------------------------------------------------------
async def test_unbounded_agent_sends_the_whole_history_verbatim(service, model, sandbox):
    uids = seed_meetings(sandbox, 14)
    script_listing(model)
    executor = (await service.calendar()).executor
    agent = Agent(model.client(), "gpt-4.1-mini", executor, instructions=calendar_instructions(executor),
                  bound_history=False)
    state = service.new_state()

    sent = await run_chat(agent, state, model, range(1, 15))

    first = sent[14][0]
    assert markers(first) == set(range(1, 15))
    assert first.messages[1:] == state.history[:-4] + [{"role": "user", "content": user_text(14)}]
    for uid in uids[:13]:
        [shown] = tool_message_for(first.messages, uid)
        assert shown in state.history  # verbatim
    assert first.prompt_chars > 1.3 * sent[5][0].prompt_chars
    assert_request_valid(first)


async def test_unbounded_agent_does_not_trim_the_stored_history(service, model):
    model.on_user("hello", say("Hi."))
    executor = (await service.calendar()).executor
    agent = Agent(model.client(), "gpt-4.1-mini", executor, instructions=calendar_instructions(executor),
                  bound_history=False)
    state = service.new_state()
    seed_history(state, 75)

    await agent.run(state, "hello again")

    assert len(split_turns(state.history)) == 76
    assert sum(m["role"] == "user" for m in model.requests[-1].messages) == 76


async def test_bounded_and_unbounded_agree_on_a_short_chat(service, model, sandbox):
    """Within the window nothing is cut: the two send the same turns; only the older ones are in short form."""
    seed_meetings(sandbox, 4)
    script_listing(model)
    executor = (await service.calendar()).executor
    bounded = Agent(model.client(), "gpt-4.1-mini", executor, instructions=calendar_instructions(executor))
    unbounded = Agent(model.client(), "gpt-4.1-mini", executor, instructions=calendar_instructions(executor),
                      bound_history=False)
    state = service.new_state()
    await run_chat(bounded, state, model, range(1, 5))

    short, full = bounded.messages(state, []), unbounded.messages(state, [])
    assert short[0] == full[0]  # the same system prompt
    assert [m["content"] for m in short if m["role"] == "user"] == [m["content"] for m in full if m["role"] == "user"]
    last = split_turns(state.history)[-1]
    assert short[-len(last):] == full[-len(last):] == last
    assert len(short) == 1 + 2 * 3 + len(last) and len(full) == 1 + len(state.history)


# -- proposals and Confirm in older turns ----------------------------------------------------------------------------
async def test_a_confirmed_booking_is_remembered_by_its_confirm_note(service, model, sandbox):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review"))
    model.on_user("hello", say("Hi."))
    state = service.new_state()
    first = await service.handle_message(state, "book tomorrow at 3pm about the budget review", Events())
    outcome = await service.confirm(state, first.proposal.id)
    uid = outcome["booking"]["uid"]
    stored_note = state.history[-1]["content"]
    assert stored_note.startswith("[The user pressed Confirm] Booked") and f"(uid {uid})" in stored_note

    await service.handle_message(state, "hello", Events())
    await service.handle_message(state, "hello again", Events())

    sent = model.requests[-1].messages
    [short] = [m for m in sent if uid in (m.get("content") or "")]
    assert short["role"] == "assistant" and short["content"].startswith(SHORT_FORM_NOTE)
    assert (f"book_meeting(start=2026-11-24T15:00, reason=budget review) -> proposed {first.proposal.id})"
            in short["content"])
    assert "[The user pressed Confirm] Booked" in short["content"] and f"(uid {uid})" in short["content"]
    assert "Proposed, waiting" not in json.dumps(sent)  # the Confirm note says what happened
    assert "http" not in stored_note  # the meeting link (other people's text) is not in assistant notes
    assert_history_valid(state.history)


async def test_a_withdrawn_proposal_is_remembered_as_proposed(service, model, sandbox):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review"))
    model.on_user("hello", say("Hi."))
    state = service.new_state()
    first = await service.handle_message(state, "book tomorrow at 3pm about the budget review", Events())
    await service.handle_message(state, "hello", Events())  # typed instead of pressing a button
    await service.handle_message(state, "hello again", Events())

    sent = json.dumps(model.requests[-1].messages, ensure_ascii=False)
    assert f"Proposed, waiting for the user's Confirm or Discard: {first.proposal.summary}" in sent
