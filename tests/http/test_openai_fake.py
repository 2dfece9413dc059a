"""The scripted OpenAI fake (testing/openai_fake.py) against the real openai SDK, in process and over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from testing.openai_fake import (ModelServer, Reply, ScriptedModel, ToolCall, broken_stream, call, calls, fail,
                                     hang, say)

USER = [{"role": "user", "content": "Please book Tuesday at 3"}]
TOOLS = [{"type": "function", "function": {"name": name, "description": f"{name} tool",
                                           "parameters": {"type": "object", "properties": {}}}}
         for name in ("book_meeting", "list_meetings", "cancel_meeting")]


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
async def client(model: ScriptedModel):
    async with model.client() as sdk:
        yield sdk


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ScriptedModel, ModelServer]]:
    shared = ScriptedModel()
    with ModelServer(shared) as server:
        yield shared, server


@pytest.fixture
async def http(served):
    """(model, AsyncOpenAI over real HTTP) on the module's server, rules and records reset for each test."""
    shared, server = served
    shared.reset()
    async with server.client() as sdk:
        yield shared, sdk


async def stream_chunks(sdk: openai.AsyncOpenAI, messages=USER, **kwargs) -> list:
    stream = await sdk.chat.completions.create(model="gpt-test", messages=messages, stream=True, **kwargs)
    return [chunk async for chunk in stream]


def content_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def tool_calls_of(chunks) -> dict[int, dict]:
    """Accumulate streamed tool calls by index, keeping each argument fragment."""
    merged: dict[int, dict] = {}
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = merged.setdefault(tc.index, {"id": None, "name": None, "fragments": []})
            if tc.id:
                entry["id"], entry["name"] = tc.id, tc.function.name
            if tc.function and tc.function.arguments:
                entry["fragments"].append(tc.function.arguments)
    return merged


def tool_exchange(*results: tuple[str, str, object]) -> list[dict]:
    """USER, an assistant message calling the tools, then one tool message per (call id, name, result)."""
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
        for call_id, name, _ in results]}
    return [*USER, assistant, *({"role": "tool", "tool_call_id": call_id,
                                 "content": result if isinstance(result, str) else json.dumps(result)}
                                for call_id, _, result in results)]


# -- streaming ---------------------------------------------------------------------------------------------------------
async def test_streamed_text_reassembles_from_several_chunks(model, client):
    text = "Tuesday at 15:00 is free. Shall I book it for you?"
    model.on_user(r"BOOK", say(text))

    chunks = await stream_chunks(client)

    assert content_of(chunks) == text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    first, last = chunks[0], chunks[-1]
    assert (first.choices[0].delta.role, first.choices[0].delta.content) == ("assistant", "")
    assert last.choices[0].finish_reason == "stop" and all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert {(c.object, c.model, c.id) for c in chunks} == {("chat.completion.chunk", "gpt-test", first.id)}
    assert first.id.startswith("chatcmpl-")


async def test_streamed_text_over_http_arrives_in_sse_frames(http):
    model, sdk = http
    model.on_user("book", say("One two three four five six seven."))

    chunks = await stream_chunks(sdk)
    assert content_of(chunks) == "One two three four five six seven."
    assert len(chunks) > 3

    async with httpx.AsyncClient() as raw:  # the wire itself: data frames, [DONE] last
        response = await raw.post(str(sdk.base_url) + "chat/completions", headers={"Authorization": "Bearer x"},
                                  json={"model": "m", "messages": USER, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    assert json.loads(frames[0].removeprefix("data: "))["choices"][0] == {
        "index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}


async def test_streamed_tool_call_arrives_in_argument_fragments(model, client):
    arguments = {"start": "2026-11-24T15:00", "reason": "weekly sync"}
    model.on_user("book", call("book_meeting", **arguments))

    chunks = await stream_chunks(client, tools=TOOLS)

    [(index, streamed)] = tool_calls_of(chunks).items()
    assert index == 0 and streamed["name"] == "book_meeting" and streamed["id"].startswith("call_")
    assert len(streamed["fragments"]) > 3
    assert json.loads("".join(streamed["fragments"])) == arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert content_of(chunks) == ""
    assert model.requests[0].reply.tool_calls[0].id == streamed["id"]


async def test_parallel_tool_calls_keep_their_indexes(model, client):
    model.on_user("book", calls(ToolCall("list_meetings", {"status": "upcoming"}),
                                ToolCall("book_meeting", {"start": "2026-11-24T15:00"}, id="call_fixed"),
                                text="Checking two things."))

    chunks = await stream_chunks(client, tools=TOOLS)

    merged = tool_calls_of(chunks)
    assert [merged[i]["name"] for i in sorted(merged)] == ["list_meetings", "book_meeting"]
    assert merged[1]["id"] == "call_fixed" and merged[0]["id"] != merged[1]["id"]
    assert json.loads("".join(merged[0]["fragments"])) == {"status": "upcoming"}
    assert json.loads("".join(merged[1]["fragments"])) == {"start": "2026-11-24T15:00"}
    assert content_of(chunks) == "Checking two things."


async def test_include_usage_adds_a_usage_chunk_before_done(model, client):
    model.on_user("book", say("Sure."))

    chunks = await stream_chunks(client, stream_options={"include_usage": True})

    assert chunks[-1].choices == [] and chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert usage.prompt_tokens == -(-model.requests[0].prompt_chars // 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert (await stream_chunks(client))[-1].usage is None  # not asked: no usage chunk


# -- non-streaming -----------------------------------------------------------------------------------------------------
async def test_non_streaming_tool_call_with_text(model, client):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="sync", text="Let me check."))

    completion = await client.chat.completions.create(model="gpt-test", messages=USER, tools=TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Let me check."
    [tool_call] = choice.message.tool_calls
    assert (tool_call.type, tool_call.function.name) == ("function", "book_meeting")
    assert json.loads(tool_call.function.arguments) == {"start": "2026-11-24T15:00", "reason": "sync"}
    assert tool_call.id == model.requests[0].reply.tool_calls[0].id
    assert completion.object == "chat.completion" and completion.model == "gpt-test"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


async def test_invalid_json_arguments_are_sent_verbatim(model, client):
    broken = '{"start": "2026-11-24T15:00", "reason": '
    model.on_user("book", calls(ToolCall("book_meeting", broken)))

    completion = await client.chat.completions.create(model="gpt-test", messages=USER, tools=TOOLS)
    assert completion.choices[0].message.tool_calls[0].function.arguments == broken
    assert "".join(tool_calls_of(await stream_chunks(client, tools=TOOLS))[0]["fragments"]) == broken


async def test_finish_reason_override_and_auto_ids(model, client):
    model.on_user("book", say("Tuesday at", finish_reason="length"), times=1)
    model.on_user("book", call("list_meetings"))

    truncated = await client.chat.completions.create(model="gpt-test", messages=USER)
    first = await client.chat.completions.create(model="gpt-test", messages=USER)
    second = await client.chat.completions.create(model="gpt-test", messages=USER)

    assert truncated.choices[0].finish_reason == "length"
    ids = [c.choices[0].message.tool_calls[0].id for c in (first, second)]
    assert ids[0] != ids[1] and all(i.startswith("call_") for i in ids)
    assert json.loads(first.choices[0].message.tool_calls[0].function.arguments) == {}


# -- matching ----------------------------------------------------------------------------------------------------------
async def test_defaults_when_nothing_matches(model, client):
    model.on_user("never", say("unused"))

    plain = await client.chat.completions.create(model="gpt-test", messages=USER)
    after_tool = await client.chat.completions.create(
        model="gpt-test", messages=tool_exchange(("call_a", "book_meeting", {"status": "accepted"})))

    assert plain.choices[0].message.content == "OK."
    assert after_tool.choices[0].message.content == "Done."


async def test_tool_result_rules_match_name_found_by_tool_call_id_and_when(model, client):
    model.on_tool_result("list_meetings", call("cancel_meeting", booking_uid="abc"),
                         when=lambda result: result.get("count") == 1)
    model.on_tool_result("list_meetings", say("Which one?"))
    model.on_tool_result("book_meeting", lambda req: say(f"got {req.last_tool_result['status']}"))
    model.on_user("book", say("never: the last message is a tool result"))

    async def answer(*results) -> openai.types.chat.ChatCompletionMessage:
        completion = await client.chat.completions.create(model="gpt-test", messages=tool_exchange(*results))
        return completion.choices[0].message

    assert (await answer(("c1", "list_meetings", {"count": 1}))).tool_calls[0].function.name == "cancel_meeting"
    assert (await answer(("c1", "list_meetings", {"count": 2}))).content == "Which one?"
    # parallel results: the last tool message decides, its name found through its own tool_call_id
    assert (await answer(("c1", "list_meetings", {"count": 1}),
                         ("c2", "book_meeting", {"status": "accepted"}))).content == "got accepted"
    record = model.requests[-1]
    assert record.last_tool_name == "book_meeting" and record.last_tool_result == {"status": "accepted"}
    assert record.tool_results == [("list_meetings", {"count": 1}), ("book_meeting", {"status": "accepted"})]


async def test_non_json_tool_result_is_the_raw_string(model, client):
    model.on_tool_result("book_meeting", say("plain text seen"), when=lambda result: result == "booked, uid abc")

    completion = await client.chat.completions.create(
        model="gpt-test", messages=tool_exchange(("c9", "book_meeting", "booked, uid abc")))
    assert completion.choices[0].message.content == "plain text seen"


async def test_times_falls_through_to_next_rule_then_default(model, client):
    first = model.on_user(lambda text: "book" in text.lower(), say("first"), times=1)
    model.on_user(r"tuesday", say("second"), times=1)

    answers = [(await client.chat.completions.create(model="gpt-test", messages=USER)).choices[0].message.content
               for _ in range(3)]

    assert answers == ["first", "second", "OK."]
    assert first.used == 1 and first.exhausted


async def test_on_request_rules_come_after_specific_rules(model, client):
    model.on_request(lambda req: req.stream, "streamed answer")  # a str reply is say(str)
    model.on_request(lambda req: "cancel_meeting" in req.tool_names, lambda req: f"{len(req.tools)} tools")
    model.on_user("book", say("user rule wins"), times=1)

    async def text(**kwargs) -> str:
        completion = await client.chat.completions.create(model="gpt-test", messages=USER, **kwargs)
        return completion.choices[0].message.content

    assert await text(tools=TOOLS) == "user rule wins"
    assert await text(tools=TOOLS) == "3 tools"
    assert content_of(await stream_chunks(client)) == "streamed answer"


async def test_latest_user_text_reads_list_content_and_skips_later_messages(model, client):
    model.on_user("cancel", say("cancelling"))
    messages = [{"role": "user", "content": [{"type": "text", "text": "Please"}, {"type": "text", "text": "CANCEL"}]},
                {"role": "assistant", "content": "Hmm?"},
                {"role": "system", "content": "book everything"}]

    completion = await client.chat.completions.create(model="gpt-test", messages=messages)
    assert completion.choices[0].message.content == "cancelling"
    assert model.requests[0].latest_user_text == "Please\nCANCEL"


async def test_a_broken_rule_is_answered_with_500_and_kept(model, client):
    model.on_user("book", lambda req: say(req.last_tool_result["status"]))  # no tool result: TypeError

    with pytest.raises(openai.InternalServerError, match="a rule raised TypeError"):
        await client.chat.completions.create(model="gpt-test", messages=USER)
    assert [type(e) for e in model.errors] == [TypeError]


# -- records -----------------------------------------------------------------------------------------------------------
async def test_requests_are_recorded(model, client):
    messages = [*USER, {"role": "assistant", "content": "Für wen?"}, {"role": "user", "content": "Für Zoë"}]

    await client.chat.completions.create(model="gpt-test", messages=messages, tools=TOOLS)
    await stream_chunks(client)

    first, second = model.requests
    assert first.messages == messages and first.body["messages"] == messages
    assert (first.tool_names, first.model, first.stream, first.latest_user_text) == (
        ["book_meeting", "list_meetings", "cancel_meeting"], "gpt-test", False, "Für Zoë")
    assert first.prompt_chars == (len(json.dumps(messages, ensure_ascii=False))
                                  + len(json.dumps(TOOLS, ensure_ascii=False)))
    assert (second.stream, second.tools, second.tool_names, second.reply) == (True, [], [], say("OK."))
    assert second.prompt_chars == len(json.dumps(USER)) + len("[]")
    assert model.prompt_chars == [first.prompt_chars, second.prompt_chars] and model.calls_count == 2

    model.reset()
    assert (model.requests, model.rules, model.calls_count) == ([], [], 0)


async def test_delay_is_slept_before_every_answer(model, client):
    model.delay = 0.2
    started = time.monotonic()
    await client.chat.completions.create(model="gpt-test", messages=USER)
    assert time.monotonic() - started >= 0.2


# -- errors ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("reply", "error", "status"), [
    (fail(401, "Incorrect API key provided: sk-test.", code="invalid_api_key"), openai.AuthenticationError, 401),
    (fail(429, "Rate limit reached for requests", code="rate_limit_exceeded", headers={"retry-after": "7"}),
     openai.RateLimitError, 429),
    (fail(500, "The server had an error while processing your request."), openai.InternalServerError, 500),
])
async def test_fail_maps_to_the_sdk_errors(model, client, reply: Reply, error: type, status: int):
    model.on_user("book", reply)

    for stream in (False, True):
        with pytest.raises(error) as raised:
            await client.chat.completions.create(model="gpt-test", messages=USER, stream=stream)
        assert raised.value.status_code == status
        assert reply.error.message in str(raised.value)
        assert raised.value.code == reply.error.code
        assert raised.value.body["param"] is None and raised.value.body["type"]
    if status == 429:
        assert raised.value.response.headers["retry-after"] == "7"


async def test_hang_trips_the_client_timeout_over_http(http):
    model, sdk = http
    model.on_user("book", hang(5))

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await sdk.chat.completions.create(model="gpt-test", messages=USER, timeout=0.3)
    assert time.monotonic() - started < 2
    assert (await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}],
                                              timeout=2)).choices[0].message.content == "OK."


async def test_broken_stream_over_http_raises_while_iterating(http):
    model, sdk = http
    model.on_user("book", broken_stream("Tuesday at 15:00 is free, shall I book it?", 17))

    received = []
    stream = await sdk.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    with pytest.raises(openai.APIConnectionError) as raised:
        async for chunk in stream:
            received.append(chunk)
    cause = raised.value.__cause__  # the SDK's own transport (httpx2) saw the socket close mid-body
    assert type(cause).__name__ == "RemoteProtocolError" and "incomplete chunked read" in str(cause)
    assert content_of(received) == "Tuesday at 15:00 "
    assert all(c.choices[0].finish_reason is None for c in received)


async def test_broken_stream_in_process_raises_from_create(model, client):
    model.on_user("book", broken_stream("Tuesday at 15:00 is free.", 5))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    with pytest.raises(openai.APIConnectionError):  # non-streaming: dropped before any answer
        await client.chat.completions.create(model="gpt-test", messages=USER)


async def test_missing_authorization_is_401_and_other_routes_answer(model):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=model.app), base_url="http://model.test") as raw:
        missing = await raw.post("/v1/chat/completions", json={"model": "m", "messages": USER})
        unprefixed = await raw.post("/chat/completions", json={"model": "m", "messages": USER},
                                    headers={"Authorization": "Bearer anything"})
        models = await raw.get("/v1/models")
        unknown = await raw.post("/v1/embeddings", json={})

    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "API key" in missing.json()["error"]["message"]
    assert unprefixed.json()["choices"][0]["message"]["content"] == "OK."
    assert [m["id"] for m in models.json()["data"]] == ["scripted"]
    assert unknown.status_code == 404 and "Invalid URL" in unknown.json()["error"]["message"]
    assert model.calls_count == 1 and model.requests[0].path == "/chat/completions"


async def test_model_list_through_the_sdk(client):
    assert [m.id async for m in client.models.list()] == ["scripted"]


# -- the server --------------------------------------------------------------------------------------------------------
async def test_server_restarts_and_serves_another_model(model):
    model.on_user("book", say("from a fresh server"))
    server = ModelServer(model)
    for _ in range(2):
        with server:
            assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
            async with server.client() as sdk:
                completion = await sdk.chat.completions.create(model="gpt-test", messages=USER)
            assert completion.choices[0].message.content == "from a fresh server"
    assert model.calls_count == 2
    assert model.wait_for_requests(2, timeout=0.1)[1].path == "/v1/chat/completions"
    with pytest.raises(TimeoutError):
        model.wait_for_requests(3, timeout=0.05)
