"""Faults of the model endpoint: rate limits, 5xx, timeouts, a wrong key or model, an unreachable server, a stream
cut off, and a model that misbehaves (malformed tool calls, unknown tools, empty answers, loops, two writes).

The SDK retries within a bound (small max_retries and server-directed waits keep the suite fast), then the user gets
one plain sentence; the history stays one the server accepts and the next message works."""

from __future__ import annotations

import socket
import time

import openai
import pytest

from calbot.agent.loop import (
    EMPTY_REPLY,
    INVALID_CALLS_REPLY,
    MAX_TOOL_ROUNDS,
    ONE_CHANGE,
    REPEAT_REPLY,
    ROUND_CAP_REPLY,
    TextDelta,
)
from calbot.chat import new_model_client
from tests.faults.conftest import (
    OPENAI_SECRET,
    TOMORROW_3PM,
    Chat,
    assert_no_secrets,
    assert_state_intact,
    booked,
)
from testing.openai_fake import ToolCall, broken_stream, call, calls, fail, hang, say

BOOK_ARGS = {"start": TOMORROW_3PM, "reason": "budget review"}
FAST_RETRY = {"retry-after-ms": "10"}  # server-directed wait the SDK honours: its retries stay fast here
LEAKY = f"Incorrect API key provided: {OPENAI_SECRET}. RAW-PROVIDER-TEXT"


async def next_message_works(chat: Chat, model) -> None:
    """After the fault the chat carries on: the next message is answered and the history stays valid."""
    model.on_user("^thanks, go on$", say("Anything else?"))
    turn = await chat.send("thanks, go on")
    assert turn.result.outcome == "answered" and turn.told == ["Anything else?"]
    sent = model.requests[-1].messages
    assert sent[0]["role"] == "system" and sent[1:] == chat.state.history[:-1]
    assert_state_intact(chat.state, user=chat.user_before, pending=(chat.state.pending_function,
                                                                    chat.state.pending_arguments),
                        proposal=chat.state.proposal.id if chat.state.proposal else None)


def failed_turn_history(text: str, sentence: str) -> list[dict]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": f"(No answer: {sentence})"}]


@pytest.fixture(params=["app-client", "sdk-default-client"])
def http_client(request):
    """make(base_url, **options) -> a model client over real HTTP: the one calbot makes from its settings (the SDK
    on its aiohttp transport) and the SDK's default one, so the HTTP-level faults hold for both."""
    def make(base_url: str, **options) -> openai.AsyncOpenAI:
        if request.param == "app-client":
            return new_model_client(options.pop("api_key"), base_url, **options)
        return openai.AsyncOpenAI(base_url=base_url, **options)
    return make


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the endpoint fails ----------------------------------------------------------------------------------------------
async def test_model_429_then_success_is_retried_by_the_sdk_over_http(make_service, served, sandbox_cal, http_client):
    """The model answers 429 (retry-after-ms 10) once over HTTP: the SDK retries and the answer arrives."""
    model, server = served
    model.on_user("hello", fail(429, "Rate limit reached", code="rate_limit_exceeded", headers=FAST_RETRY),
                  times=1)
    model.on_user("hello", say("Hi Ana, how can I help?"))
    chat = Chat(make_service(sandbox_cal, model_client=http_client(server.base_url, api_key=OPENAI_SECRET,
                                                                   max_retries=2, timeout=5)))

    turn = await chat.send("hello")

    assert turn.result.outcome == "answered" and turn.told == ["Hi Ana, how can I help?"]
    assert model.calls_count == 2  # the 429 and the retry, both through the SDK
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_500_on_every_attempt_is_one_sentence(make_service, model, sandbox_cal):
    """The model answers 500 to the call and both SDK retries: one sentence saying to try again."""
    model.on_user("hello", fail(500, f"The server had an error. {LEAKY}", headers=FAST_RETRY), times=3)
    chat = Chat(make_service(sandbox_cal, model_client=model.client(api_key=OPENAI_SECRET, max_retries=2)))

    turn = await chat.send("hello")

    sentence = "The model service had an internal error. Please try again in a minute."
    assert turn.result.outcome == "model_error" and turn.told == [sentence]
    assert model.calls_count == 3
    assert chat.state.history == failed_turn_history("hello", sentence)
    assert_no_secrets(turn.told, chat.state.history)
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_timeout_is_one_sentence_after_one_retry(make_service, served, sandbox_cal, http_client):
    """The model hangs past a 0.25 s client timeout twice over HTTP: one sentence, within 2.5 s."""
    model, server = served
    model.on_user("hello", hang(3), times=2)
    chat = Chat(make_service(sandbox_cal, model_client=http_client(server.base_url, api_key=OPENAI_SECRET,
                                                                   max_retries=1, timeout=0.25)))
    await chat.service.calendar()

    started = time.monotonic()
    turn = await chat.send("hello")

    assert time.monotonic() - started < 2.5
    assert turn.result.outcome == "model_error"
    assert turn.told == ["The model did not answer in time. Please try again in a moment."]
    assert model.calls_count == 2
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_401_names_openai_api_key_and_never_the_key(make_chat, model, sandbox_cal):
    """The model server answers 401 quoting the key: a sentence naming OPENAI_API_KEY, no key, no raw text."""
    model.on_user("hello", fail(401, LEAKY, code="invalid_api_key"), times=1)
    chat = make_chat(sandbox_cal)

    turn = await chat.send("hello")

    assert turn.told == ["The model server rejected OPENAI_API_KEY. Set OPENAI_API_KEY to a valid key and restart "
                         "calbot."]
    assert model.calls_count == 1  # a 401 is not retried
    assert "RAW-PROVIDER-TEXT" not in str(turn.events.all) + str(chat.state.history)
    assert_no_secrets(turn.told, chat.state.history)
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_404_names_openai_model(make_chat, model, sandbox_cal):
    """The model server answers 404 model_not_found: a sentence naming OPENAI_MODEL."""
    model.on_user("hello", fail(404, "The model `gpt-4.1-mini` does not exist", code="model_not_found"), times=1)
    chat = make_chat(sandbox_cal)

    turn = await chat.send("hello")

    assert turn.told == ["The model server does not offer the model 'gpt-4.1-mini'. Set OPENAI_MODEL to a model it "
                         "serves (and check OPENAI_BASE_URL)."]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_server_unreachable_names_openai_base_url(make_service, sandbox_cal, http_client):
    """Connection refused at OPENAI_BASE_URL (127.0.0.1): a sentence naming OPENAI_BASE_URL, every time."""
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = http_client(url, api_key=OPENAI_SECRET, max_retries=0, timeout=2)
    chat = Chat(make_service(sandbox_cal, model_client=client, openai_base_url=url))

    turn = await chat.send("hello")

    sentence = (f"calbot could not reach the model server at {url}. Check OPENAI_BASE_URL and that the server is "
                "running, then try again.")
    assert turn.result.outcome == "model_error" and turn.told == [sentence]
    assert chat.state.history == failed_turn_history("hello", sentence)
    again = await chat.send("hello again")  # still a sentence, never a crash
    assert again.told == [sentence]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []


async def test_model_stream_cut_off_mid_answer(make_service, served, sandbox_cal, http_client):
    """The stream breaks after 20 characters over HTTP: 'cut off'; the partial text is not kept."""
    model, server = served
    model.on_user("hello", broken_stream("Tuesday at 15:00 is free, shall I book it?", 20), times=1)
    chat = Chat(make_service(sandbox_cal, model_client=http_client(server.base_url, api_key=OPENAI_SECRET, timeout=5)))

    turn = await chat.send("hello")

    assert turn.result.outcome == "model_error"
    assert turn.told == ["The model's answer was cut off. Please try again."]
    streamed = "".join(e.text for e in turn.events.of(TextDelta))
    assert streamed and "Tuesday at 15:00 is free".startswith(streamed)
    assert "Tuesday" not in str(chat.state.history)
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_context_length_exceeded_asks_for_a_new_chat(make_chat, model, sandbox_cal):
    """The model server answers 400 context_length_exceeded: the user is told to start a new chat."""
    model.on_user("hello", fail(400, "This model's maximum context length is 128000 tokens.",
                                code="context_length_exceeded"), times=1)
    chat = make_chat(sandbox_cal)

    turn = await chat.send("hello")

    assert turn.told == ["This chat has grown too long for the model. Please start a new chat."]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_model_failing_after_a_tool_round_leaves_no_dangling_tool_call(make_service, model, sandbox_cal):
    """The model answers 503 after a tool round: one sentence; no tool_calls left in the history."""
    model.on_user("free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", fail(503, "overloaded"))
    chat = Chat(make_service(sandbox_cal, model_client=model.client(api_key=OPENAI_SECRET, max_retries=0)))

    turn = await chat.send("when am I free tomorrow?")

    sentence = "The model service had an internal error. Please try again in a minute."
    assert turn.result.outcome == "model_error" and turn.told == [sentence]
    assert [name for name, _ in turn.tool_results] == ["check_availability"]
    assert chat.state.history == failed_turn_history("when am I free tomorrow?", sentence)
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


# -- the model misbehaves ----------------------------------------------------------------------------------------------
async def test_bad_json_arguments_once_are_corrected_by_the_model(make_chat, model, sandbox_cal):
    """book_meeting arguments that are not JSON, once: the error goes back, the corrected call is proposed."""
    model.on_user("book", calls(ToolCall("book_meeting", '{"start": "2026-11-24T15:00", "reason": ')))
    model.on_tool_result("book_meeting", call("book_meeting", **BOOK_ARGS),
                         when=lambda result: result["status"] == "invalid_arguments")
    chat = make_chat(sandbox_cal)

    turn = await chat.send("book tomorrow 3pm about the budget review")

    assert turn.result.outcome == "proposal" and model.calls_count == 2
    [proposal] = turn.proposals
    assert proposal.summary.startswith("Book a 30-minute 30 Min Meeting on Tuesday 24 November 2026, 15:00")
    first = model.requests[1].last_tool_result
    assert first["status"] == "invalid_arguments" and "not valid JSON" in first["error"]
    assert turn.told == []
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS), proposal=proposal.id)
    assert sandbox_cal.writes() == []


async def test_bad_json_twice_ends_the_turn_politely(make_chat, model, sandbox_cal):
    """Two malformed calls in one turn: INVALID_CALLS_REPLY, no third model call, nothing pending or written."""
    model.on_user("book", calls(ToolCall("book_meeting", "{start: 15:00")))
    model.on_tool_result("book_meeting", calls(ToolCall("book_meeting", "not json at all")))
    chat = make_chat(sandbox_cal)

    turn = await chat.send("book tomorrow 3pm about the budget review")

    assert turn.result.outcome == "invalid_calls" and turn.told == [INVALID_CALLS_REPLY]
    assert model.calls_count == 2
    assert chat.state.history[-1] == {"role": "assistant", "content": INVALID_CALLS_REPLY}
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == [] and booked(sandbox_cal) == []
    await next_message_works(chat, model)


async def test_wrong_argument_types_go_back_to_the_model(make_chat, model, sandbox_cal):
    """duration_minutes="thirty": a correctable error names the field; the model fixes it, it is proposed."""
    model.on_user("book", call("book_meeting", duration_minutes="thirty", **BOOK_ARGS))
    model.on_tool_result("book_meeting", call("book_meeting", duration_minutes=30, **BOOK_ARGS),
                         when=lambda result: result["status"] == "invalid_arguments")
    chat = make_chat(sandbox_cal)

    turn = await chat.send("book 30 minutes tomorrow 3pm about the budget review")

    assert turn.result.outcome == "proposal" and model.calls_count == 2
    error = model.requests[1].last_tool_result["error"]
    assert error.startswith("book_meeting: duration_minutes: ") and "integer" in error
    assert turn.told == []
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", {**BOOK_ARGS,
                                                                                     "duration_minutes": 30}),
                        proposal=turn.proposals[0].id)
    assert sandbox_cal.writes() == []


async def test_unknown_tool_goes_back_to_the_model(make_chat, model, sandbox_cal):
    """A call to delete_all_bookings (no such tool): told the real tools, the model answers in words."""
    model.on_user("delete", call("delete_all_bookings", owner="everyone"))
    model.on_tool_result("delete_all_bookings", lambda req: say(
        "I can't do that. I can book, list, cancel or move your meetings, one at a time."))
    chat = make_chat(sandbox_cal)

    turn = await chat.send("delete all bookings")

    assert turn.told == ["I can't do that. I can book, list, cancel or move your meetings, one at a time."]
    result = turn.result_of("delete_all_bookings")
    assert result["status"] == "invalid_arguments" and "There is no tool called 'delete_all_bookings'" in \
        result["error"]
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    assert [r.url.path for r in sandbox_cal.requests] == ["/v2/me", "/v2/event-types"]  # the account, no booking
    await next_message_works(chat, model)


async def test_empty_model_answer_is_replaced_by_a_sentence(make_chat, model, sandbox_cal):
    """The model answers with no text and no tool call: calbot says EMPTY_REPLY instead of nothing."""
    model.on_user("hello", say(""), times=1)
    chat = make_chat(sandbox_cal)

    turn = await chat.send("hello")

    assert turn.result.outcome == "answered" and turn.told == [EMPTY_REPLY]
    assert chat.state.history[-1] == {"role": "assistant", "content": EMPTY_REPLY}
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_the_same_call_repeated_ends_the_turn(make_chat, model, sandbox_cal):
    """The model repeats list_meetings with the same arguments: not run again; the turn ends with REPEAT_REPLY."""
    model.on_user("meetings", call("list_meetings"))
    model.on_tool_result("list_meetings", call("list_meetings"))
    chat = make_chat(sandbox_cal)

    turn = await chat.send("what meetings do I have?")

    assert turn.result.outcome == "repeat" and turn.told == [REPEAT_REPLY]
    assert len(turn.tool_results) == 1  # the repeat never ran
    assert sum(1 for r in sandbox_cal.requests if r.url.path == "/v2/bookings") == 1
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_a_model_calling_tools_forever_is_stopped_after_the_round_cap(make_chat, model, sandbox_cal):
    """The model calls a tool after every result: stopped after MAX_TOOL_ROUNDS with ROUND_CAP_REPLY."""
    days = iter(range(24, 40))
    model.on_user("free", lambda req: call("check_availability", date=f"2026-11-{next(days):02d}"))
    model.on_tool_result("check_availability", lambda req: call("check_availability",
                                                                date=f"2026-11-{next(days):02d}"))
    chat = make_chat(sandbox_cal)

    turn = await chat.send("when am I free?")

    assert turn.result.outcome == "round_cap" and turn.told == [ROUND_CAP_REPLY]
    assert model.calls_count == MAX_TOOL_ROUNDS + 1 and len(turn.tool_results) == MAX_TOOL_ROUNDS
    assert_state_intact(chat.state, user=chat.user_before)
    assert sandbox_cal.writes() == []
    await next_message_works(chat, model)


async def test_two_writes_in_one_reply_make_one_proposal(make_chat, model, sandbox_cal):
    """Two book_meeting calls in one reply: one proposal, the other 'one change at a time'; Confirm books once."""
    model.on_user("two", calls(ToolCall("book_meeting", BOOK_ARGS),
                               ToolCall("book_meeting", {"start": "2026-11-24T16:00", "reason": "second"})))
    chat = make_chat(sandbox_cal)

    turn = await chat.send("book two meetings tomorrow")

    [proposal] = turn.proposals
    assert turn.result.outcome == "proposal" and proposal.reason == "budget review" and turn.told == []
    second = [m for m in chat.state.history if m.get("role") == "tool"][1]
    assert ONE_CHANGE in second["content"]
    assert_state_intact(chat.state, user=chat.user_before, pending=("book_meeting", BOOK_ARGS), proposal=proposal.id)
    assert sandbox_cal.writes() == []
    outcome = await chat.confirm()
    assert outcome["status"] == "booked" and outcome["message"].startswith("Booked ")
    assert sandbox_cal.writes() == [("POST", "/v2/bookings")] and len(booked(sandbox_cal)) == 1

