"""A scripted OpenAI-compatible chat-completions server for tests.

Rules say what the "model" answers; everything it receives is recorded. It speaks the real wire format (a
`chat.completion` object, or `chat.completion.chunk` Server-Sent Events ending in `data: [DONE]`), so the real
`openai` SDK, or any other OpenAI client, talks to it unchanged.

    model = ScriptedModel()
    model.on_user(r"book", call("book_meeting", start="2026-11-24T15:00", reason="sync"))
    model.on_tool_result("book_meeting", lambda req: say(f"Booked: {req.last_tool_result['status']}."))

    client = model.client()                       # in process, through httpx.ASGITransport
    stream = await client.chat.completions.create(model="gpt-test", messages=[...], tools=[...], stream=True)

    with ModelServer(model) as server:            # real HTTP, for another process: OPENAI_BASE_URL=server.base_url
        ...
    assert model.requests[0].tool_names == [...]

Matching: for each request the LAST message decides. A tool result (role "tool") is tried against the
`on_tool_result` rules (tool name, found through the preceding assistant message's tool_calls, then `when(result)`),
anything else against the `on_user` rules (the latest user message's text); then the `on_request` rules. The first
matching rule in registration order wins; a rule whose `times` is used up is skipped. No match: "Done." after a tool
result, "OK." otherwise. A reply is a `Reply` (see `say`, `call`, `calls`, `fail`, `hang`, `broken_stream`), a plain
string (same as `say`), or a callable taking the `RecordedRequest` and returning one of those.

Every chat request gets an answer and is recorded in `model.requests` (only a request without an Authorization
header, answered 401, or without a JSON body with a "messages" list, answered 400, is not). A rule predicate or reply callable that raises is answered with a 500 (type
"fake_error", the exception in the message) and the exception is kept in `model.errors`.

In process (`model.client()`), httpx.ASGITransport runs the app to completion before the SDK sees anything: no
client timeout applies (`hang` + timeout needs `ModelServer`), and a `broken_stream` raises
openai.APIConnectionError from `create()` itself. Over `ModelServer` the stream really arrives chunk by chunk and a
broken stream raises openai.APIConnectionError while iterating.

This module is the one to import; the code lives in two, split by job, and everything is re-exported from here:
openai_script.py, the script (replies and say/call/calls/fail/hang/broken_stream, RecordedRequest, Rule, and the
rule matching, in ScriptedModel's base class Script), and openai_server.py, the wire format and HTTP (ScriptedModel
with its ASGI app and in-process client, the chat.completion JSON and SSE chunks, errors, BrokenStream, ModelServer).
"""

from __future__ import annotations

# Re-exported beyond __all__ (noqa: F401): MODEL_ID, NO_KEY_MESSAGE, _completion and _sse are what
# bench/model_server.py imports (it writes the same wire format); the others are this module's names as before.
from testing.openai_script import (
    MODEL_ID,  # noqa: F401
    ApiError,
    RecordedRequest,
    Reply,
    ReplySource,  # noqa: F401
    Rule,
    Script,  # noqa: F401
    ToolCall,
    broken_stream,
    call,
    calls,
    fail,
    hang,
    say,
)
from testing.openai_server import (
    ARGUMENT_FRAGMENT_CHARS,  # noqa: F401
    NO_KEY_MESSAGE,  # noqa: F401
    WORDS_PER_PIECE,  # noqa: F401
    BrokenStream,
    ModelServer,
    ScriptedModel,
    _completion,  # noqa: F401
    _sse,  # noqa: F401
)

__all__ = ["ScriptedModel", "ModelServer", "RecordedRequest", "Reply", "ToolCall", "ApiError", "Rule", "BrokenStream",
           "say", "call", "calls", "fail", "hang", "broken_stream"]
