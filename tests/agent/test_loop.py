"""The tool-calling loop (calbot/agent/loop.py) against the scripted OpenAI-compatible server, with the sandbox
calendar behind the executor (embedded, or reached as Cal.com with a key).

What is checked: streaming reaches `emit`, tool calls are reassembled and answered, the guards (round cap, repeated
call, one change at a time) end turns cleanly, failures and Stop leave a history an OpenAI server accepts, pending
arguments survive between turns, malformed tool calls go back to the model once and a second one in the same turn
ends it politely, and the system prompt says what is true now.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, time as clock_time
from zoneinfo import ZoneInfo

import pytest

from calbot.booking.executor import Executor
from calbot.agent.loop import (
    INVALID_CALLS_REPLY,
    MAX_INVALID_CALLS,
    MAX_TOOL_ROUNDS,
    ONE_CHANGE,
    REPEAT_REPLY,
    ROUND_CAP_REPLY,
    STOPPED_NOTE,
    ProposalReady,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
)
from tests.agent.conftest import (
    TOOL_NAMES,
    USER,
    Events,
    assert_history_valid,
    bookings_in,
    calendar_requests,
    parsed,
    seed_booking,
    tool_messages,
)
from calbot.chat import ChatService
from tests.fakes.sandbox_calcom import SandboxCalcom, open_sandbox
from testing.common import FIXED_NOW
from testing.openai_fake import ScriptedModel, ToolCall, broken_stream, call, calls, fail, hang, say

TUE, WED = date(2026, 11, 24), date(2026, 11, 25)
RAW = "Incorrect API key provided: sk-proj-AB12***wxyz. RAW-PROVIDER-TEXT"


def london(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hh, mm), tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def slot_requests(sandbox) -> list[dict]:
    return calendar_requests(sandbox, "GET", "/v2/slots")


def writes(sandbox) -> list[dict]:
    return [r for r in sandbox.server.requests if r["method"] != "GET"]


# -- streaming -------------------------------------------------------------------------------------------------------
async def test_streamed_text_reaches_emit_as_several_deltas(service, model, events):
    text = "Hello Ana! I can book, list, cancel or move your meetings. What would you like to do?"
    model.on_user("hello", say(text))
    state = service.new_state()

    result = await service.handle_message(state, "hello there", events)

    assert result.outcome == "answered" and result.model_calls == 1 and result.tools_called == []
    deltas = events.of(TextDelta)
    assert len(deltas) >= 5  # streamed in pieces, not as one block
    assert "".join(d.text for d in deltas) == text
    assert events.done_texts() == [text]
    assert state.history == [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": text}]
    # the deltas come before TextDone
    kinds = [type(e) for e in events.all if isinstance(e, (TextDelta, TextDone))]
    assert kinds[-1] is TextDone and TextDone not in kinds[:-1]


async def test_tool_call_arguments_streamed_in_fragments_are_reassembled(service, model, events):
    arguments = {"start": "2026-11-24T15:00", "reason": "budget review with the finance team"}
    model.on_user("book", call("book_meeting", **arguments))
    state = service.new_state()  # Europe/Berlin

    result = await service.handle_message(state, "book me tomorrow 3pm about the budget", events)

    # the fake sends the arguments in 7-character fragments; the executor got them whole
    sent = model.requests[0].reply.tool_calls[0].arguments_json
    assert len(sent) > 3 * 7
    [started] = events.of(ToolStarted)
    assert started.name == "book_meeting" and started.arguments == arguments
    assert result.outcome == "proposal"
    assert result.proposal.start == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 15:00 Berlin
    assert result.proposal.reason == "budget review with the finance team"
    assert json.loads(state.history[1]["tool_calls"][0]["function"]["arguments"]) == arguments


async def test_two_parallel_tool_calls_both_run_and_are_answered_in_order(service, model, sandbox, events):
    seed_booking(sandbox, london(WED, 10))
    model.on_user("overview", calls(ToolCall("check_availability", {"date": "2026-11-24"}, id="call_free"),
                                    ToolCall("list_meetings", {}, id="call_list")))
    model.on_tool_result("list_meetings", say("Here is your week."))
    state = service.new_state()

    result = await service.handle_message(state, "give me an overview", events)

    assert result.outcome == "answered" and result.model_calls == 2
    assert result.tools_called == ["check_availability", "list_meetings"]
    assert [(e.call_id, e.name) for e in events.of(ToolStarted)] == [("call_free", "check_availability"),
                                                                     ("call_list", "list_meetings")]
    assert [(e.call_id, e.result["ok"]) for e in events.of(ToolFinished)] == [("call_free", True),
                                                                             ("call_list", True)]
    assert_history_valid(state.history)
    assert [m["role"] for m in state.history] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [c["id"] for c in state.history[1]["tool_calls"]] == ["call_free", "call_list"]
    assert [m["tool_call_id"] for m in state.history[2:4]] == ["call_free", "call_list"]
    free, listed = parsed(state.history[2]), parsed(state.history[3])
    assert free["days"][0]["date"] == "2026-11-24" and listed["count"] == 1
    # the second request carries both results, matched to their calls
    assert [name for name, _ in model.requests[1].tool_results] == ["check_availability", "list_meetings"]
    assert len(slot_requests(sandbox)) == 1 and len(calendar_requests(sandbox, "GET", "/v2/bookings")) == 1


# -- several rounds --------------------------------------------------------------------------------------------------
def script_list_then_cancel(model: ScriptedModel) -> None:
    model.on_user("cancel", call("list_meetings", from_date="2026-11-25", at_time="11:00"))
    model.on_tool_result("list_meetings",
                         lambda req: call("cancel_meeting", booking_uid=req.last_tool_result["meetings"][0]["uid"],
                                          reason="clash"))
    model.on_tool_result("cancel_meeting", say("SHOULD NOT BE ASKED"))


async def test_list_then_cancel_with_the_uid_from_the_result(service, model, sandbox, events):
    booking = seed_booking(sandbox, london(WED, 10))  # 11:00 in Berlin
    script_list_then_cancel(model)
    state = service.new_state()

    result = await service.handle_message(state, "cancel my wednesday 11am meeting", events)

    assert result.outcome == "proposal" and result.model_calls == 2
    assert result.tools_called == ["list_meetings", "cancel_meeting"]
    assert result.proposal.action == "cancel" and result.proposal.booking_uid == booking["uid"]
    second = model.requests[1]
    assert second.last_tool_name == "list_meetings"
    assert second.last_tool_result["meetings"][0]["uid"] == booking["uid"]
    assert any(m["role"] == "tool" and booking["uid"] in m["content"] for m in second.messages)
    assert_history_valid(state.history)
    assert writes(sandbox) == []  # only proposed

    outcome = await service.confirm(state, result.proposal.id)
    assert outcome["status"] == "cancelled"
    assert [b["status"] for b in bookings_in(sandbox)] == ["cancelled"]
    assert len(calendar_requests(sandbox, "POST", f"/v2/bookings/{booking['uid']}/cancel")) == 1


@pytest.fixture
def keyed_cal():
    """The sandbox calendar in process, reached the way Cal.com is: with CAL_API_KEY set (not the embedded mode)."""
    yield from open_sandbox(FIXED_NOW)


@pytest.fixture
async def keyed_service(keyed_cal: SandboxCalcom, make_settings, model, clock):  # noqa: ANN001
    service = ChatService(make_settings(cal_api_key=keyed_cal.api_key, cal_api_base_url=keyed_cal.base_url),
                          model_client=model.client(), cal_transport=keyed_cal.transport(), clock=clock)
    yield service
    await service.aclose()


async def test_list_then_cancel_with_a_cal_com_key(keyed_service, keyed_cal, model, events):
    fake, service = keyed_cal, keyed_service
    booking = fake.add_booking(london(WED, 10), attendee_email=USER, attendee_name="Ana Diaz")
    script_list_then_cancel(model)
    state = service.new_state()

    result = await service.handle_message(state, "cancel my wednesday 11am meeting", events)

    assert result.outcome == "proposal" and result.model_calls == 2
    assert result.proposal.booking_uid == booking["uid"]
    assert fake.writes() == []
    outcome = await service.confirm(state, result.proposal.id)
    assert outcome["ok"] and outcome["status"] == "cancelled"
    assert fake.writes() == [("POST", f"/v2/bookings/{booking['uid']}/cancel")]
    assert_history_valid(state.history)


async def test_calendar_error_becomes_a_tool_result_and_the_model_answers(keyed_service, keyed_cal, model, events):
    fake, service = keyed_cal, keyed_service
    for _ in range(3):  # every attempt of the read fails
        fake.fail_next("GET", r"/slots$", 500, message="Prisma exploded: RAW-CALCOM-TEXT")
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", lambda req: say(f"Cal.com trouble: {req.last_tool_result['status']}"))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free tomorrow?", events)

    assert result.outcome == "answered" and result.model_calls == 2
    assert state.history[-1]["content"] == "Cal.com trouble: calendar_error"
    [tool] = tool_messages(state.history)
    assert "RAW-CALCOM-TEXT" not in tool["content"] and "internal error" in parsed(tool)["error"]
    assert events.codes("error") == []


async def test_a_complete_book_request_is_one_model_call_then_a_proposal(service, model, sandbox, events):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review"))
    model.on_tool_result("book_meeting", say("SHOULD NOT BE ASKED"))
    state = service.new_state()

    result = await service.handle_message(state, "book me tomorrow at 3pm about the budget review", events)

    assert result.outcome == "proposal" and result.model_calls == 1 and model.calls_count == 1
    [ready] = events.of(ProposalReady)
    assert ready.proposal == result.proposal == state.proposal and state.proposal.status == "open"
    assert [m["role"] for m in state.history] == ["user", "assistant", "tool", "assistant"]
    assert state.history[1]["tool_calls"][0]["function"]["name"] == "book_meeting"
    assert parsed(state.history[2])["status"] == "awaiting_confirmation"
    assert state.history[3]["content"].startswith("Proposed, waiting for the user's Confirm or Discard: Book a ")
    assert result.proposal.summary in state.history[3]["content"]
    assert events.done_texts() == []  # the page shows the proposal itself; the model said nothing
    assert_history_valid(state.history)
    assert calendar_requests(sandbox, "POST") == []


# -- guards ----------------------------------------------------------------------------------------------------------
def script_endless_availability(model: ScriptedModel) -> None:
    days = itertools.count(24)

    def next_day(_req) -> object:
        return call("check_availability", date=f"2026-11-{next(days):02d}")
    model.on_user("free", next_day)
    model.on_tool_result("check_availability", next_day)


async def test_round_cap_stops_after_max_rounds(service, model, sandbox, events):
    script_endless_availability(model)
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert result.outcome == "round_cap"
    assert result.model_calls == MAX_TOOL_ROUNDS + 1 == model.calls_count
    assert len(slot_requests(sandbox)) == MAX_TOOL_ROUNDS  # the last round's call never ran
    assert len(result.tools_called) == MAX_TOOL_ROUNDS
    assert [c.text for c in events.codes("guard")] == [ROUND_CAP_REPLY] and events.codes("error") == []
    assert_history_valid(state.history)
    assert state.history[-1] == {"role": "assistant", "content": ROUND_CAP_REPLY}
    called_ids = [c["id"] for m in state.history for c in m.get("tool_calls") or []]
    assert len(called_ids) == MAX_TOOL_ROUNDS
    unexecuted = model.requests[-1].reply.tool_calls[0].id
    assert unexecuted not in called_ids
    assert not any(m.get("tool_call_id") == unexecuted for m in state.history)


async def test_round_cap_follows_the_agents_max_rounds(service, model, sandbox, events):
    script_endless_availability(model)
    agent = await service.agent()
    agent.max_rounds = 2
    state = service.new_state()

    result = await agent.run(state, "when am I free?", events)

    assert result.outcome == "round_cap" and result.model_calls == 3 and len(slot_requests(sandbox)) == 2
    assert_history_valid(state.history)


async def test_the_same_call_in_a_later_round_ends_the_turn(service, model, sandbox, events):
    model.on_user("free", call("check_availability", date="2026-11-24", end_date="2026-11-25"))
    # same arguments, other key order and spacing
    model.on_tool_result("check_availability", calls(ToolCall(
        "check_availability", '{ "end_date": "2026-11-25",  "date": "2026-11-24" }')))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert result.outcome == "repeat" and result.model_calls == 2
    assert len(slot_requests(sandbox)) == 1  # the second call was not executed
    assert result.tools_called == ["check_availability"]
    assert [c.text for c in events.codes("guard")] == [REPEAT_REPLY] and events.codes("error") == []
    assert len(events.of(ToolStarted)) == 1
    assert_history_valid(state.history)
    assert [parsed(m).get("status") for m in tool_messages(state.history)] == [None, "repeated"]
    assert state.history[-1] == {"role": "assistant", "content": REPEAT_REPLY}


async def test_the_same_call_twice_in_one_reply_ends_the_turn(service, model, sandbox, events):
    model.on_user("free", calls(ToolCall("check_availability", {"date": "2026-11-24"}),
                                ToolCall("check_availability", {"date": "2026-11-24"})))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert result.outcome == "repeat" and result.model_calls == 1
    assert len(slot_requests(sandbox)) == 1
    assert_history_valid(state.history)
    first, second = tool_messages(state.history)
    assert parsed(first)["ok"] is True and parsed(second)["status"] == "repeated"
    assert [m["tool_call_id"] for m in (first, second)] == [c["id"] for c in state.history[1]["tool_calls"]]


async def test_different_arguments_are_not_a_repeat(service, model, sandbox, events):
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", call("check_availability", date="2026-11-25"), times=1)
    model.on_tool_result("check_availability", say("Both days checked."))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert result.outcome == "answered" and len(slot_requests(sandbox)) == 2


async def test_two_writes_in_one_reply_make_one_proposal(service, model, sandbox, events):
    model.on_user("book", calls(
        ToolCall("book_meeting", {"start": "2026-11-24T15:00", "reason": "first"}),
        ToolCall("book_meeting", {"start": "2026-11-24T16:00", "reason": "second"})))
    state = service.new_state()

    result = await service.handle_message(state, "book two meetings tomorrow", events)

    assert result.outcome == "proposal" and result.model_calls == 1
    assert len(events.of(ProposalReady)) == 1
    assert result.proposal.reason == "first" and result.proposal.start == datetime(2026, 11, 24, 14, tzinfo=UTC)
    assert result.tools_called == ["book_meeting"]
    first, second = tool_messages(state.history)
    assert parsed(first)["status"] == "awaiting_confirmation"
    assert parsed(second) == {"ok": False, "status": "one_change_at_a_time", "error": ONE_CHANGE}
    assert_history_valid(state.history)
    assert calendar_requests(sandbox, "POST") == [] and bookings_in(sandbox) == []


# -- malformed tool calls --------------------------------------------------------------------------------------------
BAD_JSON = '{"start": "2026-11-24T15:00", "reason": '  # cut off mid-object
OTHER_BAD_JSON = "{start: 2026-11-24T15:00, reason: budget}"  # not JSON either, and not the same text


def invalid(result) -> bool:
    return isinstance(result, dict) and result.get("status") == "invalid_arguments"


def statuses(history) -> list:
    return [parsed(m).get("status") for m in tool_messages(history)]


def assert_guarded(result, events, state, model_calls: int) -> None:
    """The turn ended by the malformed-call guard: one code sentence, a complete history, no further model call."""
    assert result.outcome == "invalid_calls" and result.model_calls == model_calls, result
    assert result.proposal is None and state.proposal is None
    assert [(c.text, c.kind) for c in events.codes() if c.kind != "notice"] == [(INVALID_CALLS_REPLY, "guard")]
    assert events.codes("error") == []
    assert state.history[-1] == {"role": "assistant", "content": INVALID_CALLS_REPLY}
    assert_history_valid(state.history)


def test_one_malformed_call_per_turn_is_forgiven():
    assert MAX_INVALID_CALLS == 1


async def test_bad_json_then_a_good_call_makes_the_proposal(service, model, sandbox, events):
    model.on_user("book", calls(ToolCall("book_meeting", BAD_JSON)))
    model.on_tool_result("book_meeting", call("book_meeting", start="2026-11-24T15:00", reason="budget"), when=invalid)
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm about the budget", events)

    assert result.outcome == "proposal" and result.model_calls == 2 == model.calls_count
    assert result.tools_called == ["book_meeting", "book_meeting"]
    assert statuses(state.history) == ["invalid_arguments", "awaiting_confirmation"]
    assert "not valid JSON" in model.requests[1].last_tool_result["error"]  # the model was told what was wrong
    first = events.of(ToolStarted)[0]
    assert first.arguments == BAD_JSON  # shown as the raw text
    assert events.codes("guard") == [] and events.codes("error") == []
    assert len(events.of(ProposalReady)) == 1 and result.proposal.reason == "budget"
    assert_history_valid(state.history)
    assert calendar_requests(sandbox, "POST") == []


async def test_bad_json_twice_ends_the_turn_with_a_code_reply(service, model, sandbox, events):
    model.on_user("book", calls(ToolCall("book_meeting", BAD_JSON)))
    model.on_tool_result("book_meeting", calls(ToolCall("book_meeting", OTHER_BAD_JSON)), when=invalid, times=1)
    model.on_tool_result("book_meeting", say("SHOULD NOT BE ASKED"))
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm about the budget", events)

    assert_guarded(result, events, state, model_calls=2)
    assert model.calls_count == 2  # no third call
    assert result.tools_called == ["book_meeting", "book_meeting"]
    assert [m["role"] for m in state.history] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert statuses(state.history) == ["invalid_arguments", "invalid_arguments"]
    assert [c["function"]["arguments"] for m in state.history for c in m.get("tool_calls") or []] == \
        [BAD_JSON, OTHER_BAD_JSON]
    assert events.text() == "" and "SHOULD NOT BE ASKED" not in json.dumps(state.history)
    assert calendar_requests(sandbox, "GET", "/v2/slots") == [] and calendar_requests(sandbox, "POST") == []


async def test_an_unknown_tool_then_wrong_types_ends_the_turn(service, model, sandbox, events):
    model.on_user("book", call("delete_everything", everything=True))
    model.on_tool_result("delete_everything", call("book_meeting", start=20261124, reason=["budget"]))
    model.on_tool_result("book_meeting", say("SHOULD NOT BE ASKED"))
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm about the budget", events)

    assert_guarded(result, events, state, model_calls=2)
    first, second = (parsed(m) for m in tool_messages(state.history))
    assert first["status"] == second["status"] == "invalid_arguments"
    assert "no tool called 'delete_everything'" in first["error"]
    assert "start" in second["error"] and "reason" in second["error"]
    assert [e.name for e in events.of(ToolFinished)] == ["delete_everything", "book_meeting"]
    assert calendar_requests(sandbox, "GET", "/v2/slots") == []


async def test_two_malformed_calls_in_one_round_end_the_turn_after_that_round(service, model, sandbox, events):
    model.on_user("free", calls(ToolCall("book_meeting", BAD_JSON, id="call_a"),
                                ToolCall("check_availability", {"date": "24/11/2026"}, id="call_b")))
    model.on_tool_result(None, say("SHOULD NOT BE ASKED"))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free tomorrow? and book 3pm", events)

    assert_guarded(result, events, state, model_calls=1)
    assert model.calls_count == 1
    assert [m["role"] for m in state.history] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [m["tool_call_id"] for m in tool_messages(state.history)] == ["call_a", "call_b"]
    assert statuses(state.history) == ["invalid_arguments", "invalid_arguments"]
    assert calendar_requests(sandbox, "GET", "/v2/slots") == []


async def test_malformed_calls_in_different_rounds_of_one_turn_add_up(service, model, sandbox, events):
    model.on_user("free", calls(ToolCall("check_availability", '{"date": 2026-11-24}')))
    model.on_tool_result("check_availability", call("check_availability", date="2026-11-24"), when=invalid, times=1)
    model.on_tool_result("check_availability", call("list_meetings", status="done"),
                         when=lambda r: r.get("ok") is True)
    model.on_tool_result("list_meetings", say("SHOULD NOT BE ASKED"))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free tomorrow?", events)

    assert_guarded(result, events, state, model_calls=3)
    assert statuses(state.history) == ["invalid_arguments", None, "invalid_arguments"]
    assert len(calendar_requests(sandbox, "GET", "/v2/slots")) == 1  # the good call in between ran


async def test_a_correctable_error_then_an_answer_is_a_normal_answer(service, model, sandbox, events):
    model.on_user("free", call("check_availability", date="2026-11-24", end_date="2026-12-24"))
    model.on_tool_result("check_availability", lambda req: say(f"Too long a range: {req.last_tool_result['error']}"),
                         when=invalid)
    state = service.new_state()

    result = await service.handle_message(state, "when am I free this month?", events)

    assert result.outcome == "answered" and result.model_calls == 2
    assert statuses(state.history) == ["invalid_arguments"]
    assert state.history[-1]["content"].startswith("Too long a range: Ask for at most 14 days")
    assert events.codes("guard") == [] and events.codes("error") == []
    assert_history_valid(state.history)


async def test_the_malformed_call_count_starts_again_each_turn(service, model, events):
    model.on_user("free", calls(ToolCall("check_availability", '{"date": 2026-11-24}')))
    model.on_user("again", calls(ToolCall("check_availability", '{"date": 2026-11-25}')))
    model.on_tool_result("check_availability", say("Please give the day as YYYY-MM-DD."), when=invalid)
    state = service.new_state()

    first = await service.handle_message(state, "when am I free tomorrow?", events)
    second = await service.handle_message(state, "and again for wednesday?", events)

    assert first.outcome == second.outcome == "answered"
    assert events.codes("guard") == []
    assert statuses(state.history) == ["invalid_arguments", "invalid_arguments"]
    assert_history_valid(state.history)


async def test_the_same_malformed_call_twice_is_a_repeat(service, model, events):
    model.on_user("book", calls(ToolCall("book_meeting", BAD_JSON)))
    model.on_tool_result("book_meeting", calls(ToolCall("book_meeting", BAD_JSON)))
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm", events)

    assert result.outcome == "repeat" and result.model_calls == 2
    assert statuses(state.history) == ["invalid_arguments", "repeated"]
    assert [c.text for c in events.codes("guard")] == [REPEAT_REPLY]
    assert_history_valid(state.history)


async def test_a_second_malformed_call_beside_a_repeated_one_ends_as_malformed(service, model, events):
    model.on_user("book", calls(ToolCall("book_meeting", BAD_JSON)))
    model.on_tool_result("book_meeting", calls(ToolCall("book_meeting", OTHER_BAD_JSON),
                                               ToolCall("book_meeting", BAD_JSON)), times=1)
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm", events)

    assert_guarded(result, events, state, model_calls=2)
    assert statuses(state.history) == ["invalid_arguments", "invalid_arguments", "repeated"]


async def test_a_proposal_made_in_the_same_round_is_still_shown(service, model, sandbox, events):
    model.on_user("book", calls(ToolCall("book_meeting", BAD_JSON),
                                ToolCall("set_time_zone", {"time_zone": 42}),
                                ToolCall("book_meeting", {"start": "2026-11-24T15:00", "reason": "budget"})))
    state = service.new_state()

    result = await service.handle_message(state, "book tomorrow at 3pm about the budget", events)

    assert result.outcome == "proposal" and result.model_calls == 1
    assert statuses(state.history) == ["invalid_arguments", "invalid_arguments", "awaiting_confirmation"]
    assert events.codes("guard") == [] and len(events.of(ProposalReady)) == 1
    assert state.proposal is not None and state.proposal.id == result.proposal.id
    assert_history_valid(state.history)


async def test_malformed_calls_leave_the_pending_arguments_alone(service, model, sandbox, events):
    model.on_user("about the budget", call("book_meeting", reason="budget review"))
    model.on_tool_result("book_meeting", say("When should it be?"),
                         when=lambda result: result["status"] == "needs_details")
    model.on_user("tomorrow", calls(ToolCall("book_meeting", '{"start": "2026-11-24T15:00"')))
    model.on_tool_result("book_meeting", calls(ToolCall("book_meeting", {"start": 1500, "attendee": "bob"})),
                         when=invalid, times=1)
    model.on_user("3pm", call("book_meeting", start="2026-11-24T15:00"))
    state = service.new_state()

    first = await service.handle_message(state, "book a meeting about the budget", events)
    assert first.outcome == "answered"
    pending = (state.pending_function, dict(state.pending_arguments))
    assert pending == ("book_meeting", {"reason": "budget review"})

    guarded = await service.handle_message(state, "tomorrow at 3pm", events)

    assert guarded.outcome == "invalid_calls" and guarded.model_calls == 2
    assert (state.pending_function, state.pending_arguments) == pending
    assert state.proposal is None
    assert_history_valid(state.history)

    third = await service.handle_message(state, "3pm it is", events)
    assert third.outcome == "proposal" and third.proposal.reason == "budget review"
    assert third.proposal.start == datetime(2026, 11, 24, 14, tzinfo=UTC)
    assert calendar_requests(sandbox, "POST") == []


# -- failures of the model endpoint -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("reply", "says"), [
    (fail(401, RAW, code="invalid_api_key"), "rejected OPENAI_API_KEY"),
    (fail(429, f"Rate limit reached. {RAW}", code="rate_limit_exceeded"), "limiting requests"),
    (fail(429, f"You exceeded your current quota. {RAW}", code="insufficient_quota"), "run out of credit"),
    (fail(500, f"The server had an error. {RAW}"), "internal error"),
    (fail(404, f"The model does not exist. {RAW}", code="model_not_found"),
     "does not offer the model 'gpt-4.1-mini'"),
    # in process the fake's broken stream fails before any chunk arrives (see openai_fake); over HTTP, below
    (broken_stream(f"Tuesday at 15:00 is free. {RAW}", 12), "could not reach the model server"),
], ids=["401", "429", "429-quota", "500", "404", "broken-stream"])
async def test_model_errors_become_one_sentence_and_leave_a_valid_history(service, model, events, reply, says):
    model.on_user("hello", reply)
    model.on_user("next", say("All good now."))
    state = service.new_state()

    result = await service.handle_message(state, "hello", events)

    assert result.outcome == "model_error" and result.model_calls == 0
    [error] = events.codes("error")
    assert error.text == result.error and says in error.text
    if reply.error is not None and reply.error.status == 401:
        assert "OPENAI_API_KEY" in error.text
    everything = json.dumps([e.text for e in events.codes()] + [state.history], default=str)
    assert "RAW-PROVIDER-TEXT" not in everything and "sk-proj" not in everything
    assert state.history == [{"role": "user", "content": "hello"},
                             {"role": "assistant", "content": f"(No answer: {error.text})"}]
    assert_history_valid(state.history)

    events.clear()
    again = await service.handle_message(state, "next try", events)
    assert again.outcome == "answered" and events.codes("error") == []
    sent = model.requests[-1].messages
    assert sent[0]["role"] == "system"
    assert_history_valid(sent[1:] + [{"role": "assistant", "content": "All good now."}])
    assert sent[1:] == state.history[:3]


async def test_a_hanging_model_times_out_over_http(make_service, served, events):
    model, server = served
    model.on_user("hello", hang(5))
    model.on_user("next", say("Back again."))
    service = make_service(model_client=server.client(timeout=0.5))
    state = service.new_state()

    started = time.monotonic()
    result = await service.handle_message(state, "hello", events)

    assert time.monotonic() - started < 3
    assert result.outcome == "model_error"
    [error] = events.codes("error")
    assert "did not answer in time" in error.text
    assert_history_valid(state.history)
    assert (await service.handle_message(state, "next please", events)).outcome == "answered"
    assert_history_valid(state.history)


async def test_a_stream_broken_mid_answer_over_http(make_service, served, events):
    model, server = served
    model.on_user("hello", broken_stream("Tuesday at 15:00 is free, shall I book it for you?", 20))
    service = make_service(model_client=server.client(timeout=5))
    state = service.new_state()

    result = await service.handle_message(state, "hello", events)

    assert result.outcome == "model_error"
    assert events.text() and events.text() in "Tuesday at 15:00 is free"  # part of it was streamed
    [error] = events.codes("error")
    assert "cut off" in error.text
    assert_history_valid(state.history)
    assert "Tuesday" not in json.dumps(state.history)  # the partial text is not kept


async def test_a_failure_in_round_two_leaves_no_tool_calls_in_the_history(service, model, sandbox, events):
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", fail(500, RAW))
    model.on_user("thanks", say("You're welcome."))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert result.outcome == "model_error" and result.model_calls == 1
    assert len(slot_requests(sandbox)) == 1  # round 1 ran
    assert len(events.of(ToolFinished)) == 1
    assert not any(m.get("tool_calls") or m["role"] == "tool" for m in state.history)
    assert [m["role"] for m in state.history] == ["user", "assistant"]
    assert_history_valid(state.history)

    again = await service.handle_message(state, "thanks", events)
    assert again.outcome == "answered"
    sent = model.requests[-1].messages[1:]
    assert not any(m.get("tool_calls") or m["role"] == "tool" for m in sent)
    assert_history_valid(sent + [{"role": "assistant", "content": "x"}])


async def test_an_exception_in_the_executor_becomes_an_internal_error_result(service, model, monkeypatch, events):
    original = Executor.call
    raised: list[str] = []

    async def flaky(self, state, name, arguments):
        if not raised:
            raised.append(name)
            raise RuntimeError("boom in a tool: SECRET-DETAIL")
        return await original(self, state, name, arguments)

    monkeypatch.setattr(Executor, "call", flaky)
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", lambda req: say(
        "Free times found." if req.last_tool_result.get("ok") else f"Sorry ({req.last_tool_result['status']})."))
    state = service.new_state()

    result = await service.handle_message(state, "when am I free?", events)

    assert raised == ["check_availability"]
    assert result.outcome == "answered" and result.model_calls == 2
    [finished] = events.of(ToolFinished)
    assert finished.result["status"] == "internal_error"
    assert state.history[-1]["content"] == "Sorry (internal_error)."
    assert "SECRET-DETAIL" not in json.dumps(state.history)
    assert_history_valid(state.history)

    again = await service.handle_message(state, "free again?", events)
    assert again.outcome == "answered" and state.history[-1]["content"] == "Free times found."


# -- Stop ------------------------------------------------------------------------------------------------------------
async def test_stop_while_waiting_for_the_model(service, model, events):
    model.on_user("slow", say("Too late."))
    model.on_user("hello", say("Hi again."))
    state = service.new_state()
    await service.calendar()  # connect first, so the model's delay is what the task waits on
    model.delay = 5

    task = asyncio.create_task(service.handle_message(state, "slow answer please", events))
    await wait_until(lambda: model.calls_count == 1)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started < 1
    assert state.history == [{"role": "user", "content": "slow answer please"},
                             {"role": "assistant", "content": STOPPED_NOTE}]
    assert_history_valid(state.history)
    assert events.of(TextDelta) == []

    model.delay = 0
    result = await service.handle_message(state, "hello", events)
    assert result.outcome == "answered" and state.history[-1]["content"] == "Hi again."
    assert model.requests[-1].messages[1:3] == state.history[:2]
    assert_history_valid(state.history)


async def test_stop_over_http_while_the_model_is_thinking(make_service, served, events):
    model, server = served
    model.on_user("slow", hang(5))
    service = make_service(model_client=server.client(timeout=10))
    state = service.new_state()
    await service.calendar()

    task = asyncio.create_task(service.handle_message(state, "slow answer please", events))
    await asyncio.to_thread(model.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state.history[-1] == {"role": "assistant", "content": STOPPED_NOTE}
    assert_history_valid(state.history)


async def test_stop_while_text_streams(service, model):
    model.on_user("hello", say("One two three four five six seven eight nine ten."))
    state = service.new_state()
    seen: list[object] = []

    async def emit(event):
        seen.append(event)
        if isinstance(event, TextDelta):
            asyncio.current_task().cancel()
            await asyncio.sleep(0)

    with pytest.raises(asyncio.CancelledError):
        await service.handle_message(state, "hello", emit)

    assert state.history == [{"role": "user", "content": "hello"}, {"role": "assistant", "content": STOPPED_NOTE}]
    assert not any(isinstance(e, TextDone) for e in seen)


async def test_a_proposal_made_in_a_stopped_turn_is_not_left_open(service, model, sandbox):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget"))
    model.on_user("hello", say("Hi."))
    state = service.new_state()
    seen: list[object] = []

    async def emit(event):  # Stop pressed right after the tool ran, before the proposal is shown
        seen.append(event)
        if isinstance(event, ToolFinished):
            assert event.result["status"] == "awaiting_confirmation" and state.proposal is not None
            asyncio.current_task().cancel()
            await asyncio.sleep(0)

    with pytest.raises(asyncio.CancelledError):
        await service.handle_message(state, "book tomorrow 3pm", emit)

    assert state.proposal is None
    assert not any(isinstance(e, ProposalReady) for e in seen)
    assert state.history == [{"role": "user", "content": "book tomorrow 3pm"},
                             {"role": "assistant", "content": STOPPED_NOTE}]
    proposal_id = next(e for e in seen if isinstance(e, ToolFinished)).result["proposal_id"]
    assert (await service.confirm(state, proposal_id))["status"] == "no_proposal"
    assert calendar_requests(sandbox, "POST") == [] and bookings_in(sandbox) == []
    assert_history_valid(state.history)

    events = Events()
    assert (await service.handle_message(state, "hello", events)).outcome == "answered"
    assert_history_valid(state.history)


async def test_a_stopped_turn_keeps_the_proposal_that_was_open_before(service, model):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget"))
    model.on_user("slow", say("Too late."))
    agent = await service.agent()
    state = service.new_state()
    first = await agent.run(state, "book tomorrow 3pm")
    assert first.outcome == "proposal"

    model.delay = 5
    task = asyncio.create_task(agent.run(state, "slow question"))
    await wait_until(lambda: model.calls_count == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert state.proposal is not None and state.proposal.id == first.proposal.id
    assert_history_valid(state.history)


# -- pending arguments between turns ---------------------------------------------------------------------------------
async def test_pending_arguments_carry_over_to_the_next_turn(service, model, sandbox, events):
    model.on_user("about the budget", call("book_meeting", reason="budget review"))
    model.on_tool_result("book_meeting", say("When should it be?"),
                         when=lambda result: result["status"] == "needs_details")
    model.on_user("tomorrow", call("book_meeting", start="2026-11-24T15:00"))
    state = service.new_state()

    first = await service.handle_message(state, "book a meeting about the budget", events)

    assert first.outcome == "answered" and first.model_calls == 2 and first.proposal is None
    assert state.proposal is None and events.of(ProposalReady) == []
    [tool] = tool_messages(state.history)
    assert parsed(tool)["status"] == "needs_details" and parsed(tool)["missing"] == ["start"]
    assert state.history[-1] == {"role": "assistant", "content": "When should it be?"}
    assert state.pending_function == "book_meeting"

    second = await service.handle_message(state, "tomorrow at 3pm", events)

    assert second.outcome == "proposal" and second.model_calls == 1
    assert second.proposal.reason == "budget review"
    assert second.proposal.start == datetime(2026, 11, 24, 14, tzinfo=UTC)
    prompt = model.requests[2].messages[0]["content"]
    assert 'book_meeting is waiting for details; it already has {"reason":"budget review"}' in prompt
    assert "book_meeting is waiting" not in model.requests[0].messages[0]["content"]
    assert_history_valid(state.history)
    assert calendar_requests(sandbox, "POST") == []


# -- the system prompt -----------------------------------------------------------------------------------------------
async def test_the_system_prompt_names_today_the_next_days_and_the_user(service, model, events):
    await service.handle_message(service.new_state(), "hello", events)

    prompt = model.requests[0].messages[0]["content"]
    assert model.requests[0].messages[0]["role"] == "system"
    assert "Now: Monday 23 November 2026, 09:00 CET (Europe/Berlin)." in prompt
    assert "Mon 2026-11-23 (today); Tue 2026-11-24 (tomorrow); Wed 2026-11-25;" in prompt
    assert "Mon 2026-12-07." in prompt and "2026-12-08" not in prompt  # today and the next 14 days
    assert "User's time zone: Europe/Berlin." in prompt
    assert f"Ana Diaz <{USER}>" in prompt
    assert "Pending:" not in prompt


@pytest.mark.parametrize(("now", "zone", "today", "tomorrow", "now_text"), [
    (datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "Asia/Tokyo", "Tue 2026-11-24", "Wed 2026-11-25",
     "Tuesday 24 November 2026, 08:30 JST (Asia/Tokyo)"),
    (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), "America/Los_Angeles", "Sun 2026-11-22", "Mon 2026-11-23",
     "Sunday 22 November 2026, 19:00 PST (America/Los_Angeles)"),
])
async def test_today_and_tomorrow_are_the_users_local_dates(make_service, model, clock, events, now, zone, today,
                                                           tomorrow, now_text):
    clock.now = now
    service = make_service(calbot_timezone=zone)

    await service.handle_message(service.new_state(), "hello", events)

    prompt = model.requests[0].messages[0]["content"]
    assert f"{today} (today); {tomorrow} (tomorrow);" in prompt
    assert f"Now: {now_text}." in prompt


async def test_the_system_prompt_carries_the_open_proposal(service, model):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget"))
    agent = await service.agent()  # Agent.run directly: ChatService would withdraw the proposal first
    state = service.new_state()
    first = await agent.run(state, "book tomorrow 3pm")

    await agent.run(state, "is that right?")

    prompt = model.requests[1].messages[0]["content"]
    assert f"Pending: A proposal is waiting for the user's Confirm or Discard: {first.proposal.summary}." in prompt
    assert "Pending:" not in model.requests[0].messages[0]["content"]


async def test_every_request_offers_the_six_tools_and_streams(service, model, sandbox, events):
    seed_booking(sandbox, london(WED, 10))
    script_list_then_cancel(model)
    model.on_user("hello", say("Hi."))
    state = service.new_state()
    await service.handle_message(state, "hello", events)
    await service.handle_message(state, "cancel my wednesday meeting", events)

    assert len(model.requests) == 3
    for request in model.requests:
        assert request.tool_names == TOOL_NAMES
        assert request.stream is True and request.model == "gpt-4.1-mini"
        assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object"
                   for t in request.tools)
