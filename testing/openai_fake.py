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
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import openai
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ScriptedModel", "ModelServer", "RecordedRequest", "Reply", "ToolCall", "ApiError", "Rule", "BrokenStream",
           "say", "call", "calls", "fail", "hang", "broken_stream"]

MODEL_ID = "scripted"
NO_KEY_MESSAGE = ("You didn't provide an API key. You need to provide your API key in an Authorization header using "
                  "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
ARGUMENT_FRAGMENT_CHARS = 7
WORDS_PER_PIECE = (1, 2, 3)  # text chunks cycle through these sizes


# -- replies ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ToolCall:
    """One function call. `arguments` as a str is sent verbatim (so it may be invalid JSON)."""
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ApiError:
    status: int
    message: str
    code: str | None = None
    type: str | None = None
    headers: Mapping[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type or _error_type(self.status), "param": None,
                          "code": self.code}}


@dataclass(frozen=True)
class Reply:
    """What the model answers. Build one with say/call/calls/fail/hang/broken_stream."""
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # None: "tool_calls" if there are tool calls, else "stop"
    error: ApiError | None = None  # answer this HTTP error instead
    hang: float = 0.0  # extra seconds to wait before answering
    break_after_chars: int | None = None  # stream only text[:n], then drop the connection

    @property
    def resolved_finish_reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


def say(text: str, *, finish_reason: str | None = None) -> Reply:
    """A plain text answer."""
    return Reply(text=text, finish_reason=finish_reason)


def call(name: str, /, id: str | None = None, *, text: str | None = None, finish_reason: str | None = None,
         **arguments: Any) -> Reply:
    """One tool call with keyword `arguments` (and `text` as content alongside it). `id` defaults to "call_<n>".
    A tool argument named id/text/finish_reason needs `calls(ToolCall(name, {...}))`."""
    return Reply(text=text, tool_calls=(ToolCall(name, arguments, id),), finish_reason=finish_reason)


def calls(*tool_calls: ToolCall, text: str | None = None, finish_reason: str | None = None) -> Reply:
    """Parallel tool calls in one answer, indexes in the given order."""
    return Reply(text=text, tool_calls=tuple(tool_calls), finish_reason=finish_reason)


def fail(status: int, message: str, code: str | None = None, type: str | None = None,
         headers: Mapping[str, str] | None = None) -> Reply:
    """An OpenAI-style error answer: {"error": {"message", "type", "param": null, "code"}} with HTTP `status`.
    `type` defaults from the status (401 invalid_request_error, 429 requests, 5xx server_error, ...)."""
    return Reply(error=ApiError(status, message, code, type, headers))


def hang(seconds: float, text: str = "OK.") -> Reply:
    """Wait `seconds` before answering `text` (to trip a client timeout; the wait ends early if the client leaves)."""
    return Reply(text=text, hang=seconds)


def broken_stream(text: str, after_chars: int) -> Reply:
    """Stream text[:after_chars], then drop the connection: no finish_reason, no [DONE]. Non-streaming requests
    get the connection dropped before any answer."""
    return Reply(text=text, break_after_chars=after_chars)


def _error_type(status: int) -> str:
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


class BrokenStream(httpx.RemoteProtocolError):
    """Raised inside the streaming body to drop the connection. Under uvicorn the socket closes mid-answer (the
    client gets a RemoteProtocolError reading the body); through httpx.ASGITransport this exception itself reaches
    the client, the same transport error type."""


# -- recorded requests -------------------------------------------------------------------------------------------------

@dataclass
class RecordedRequest:
    body: dict[str, Any]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_names: list[str]
    model: str
    stream: bool
    latest_user_text: str
    last_tool_name: str | None  # set when the last message is a tool result
    last_tool_result: Any  # its content, parsed as JSON when it is JSON
    tool_results: list[tuple[str | None, Any]]  # all tool results after the last assistant message, in order
    prompt_chars: int
    path: str = "/v1/chat/completions"
    headers: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None  # the answer chosen (tool call ids filled in)

    @property
    def is_tool_result(self) -> bool:
        return bool(self.messages) and self.messages[-1].get("role") == "tool"

    @classmethod
    def from_body(cls, body: dict[str, Any], path: str = "/v1/chat/completions",
                  headers: Mapping[str, str] | None = None) -> RecordedRequest:
        messages = body.get("messages") or []
        tools = body.get("tools") or []
        tool_results = _trailing_tool_results(messages)
        last_name, last_result = tool_results[-1] if tool_results else (None, None)
        return cls(
            body=body, messages=messages, tools=tools,
            tool_names=[tool.get("function", {}).get("name") for tool in tools if isinstance(tool, dict)],
            model=str(body.get("model") or MODEL_ID), stream=bool(body.get("stream")),
            latest_user_text=next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""),
            last_tool_name=last_name, last_tool_result=last_result, tool_results=tool_results,
            prompt_chars=len(json.dumps(messages, ensure_ascii=False)) + len(json.dumps(tools, ensure_ascii=False)),
            path=path, headers=dict(headers or {}))


def _text(content: Any) -> str:
    """A message's text: string content, or the text parts of list content joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict)
                         and part.get("type") == "text")
    return ""


def _parse_result(content: Any) -> Any:
    text = _text(content)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _trailing_tool_results(messages: list[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    """(tool name, parsed content) for the tool messages at the end of the conversation; the name comes from the
    nearest earlier assistant message whose tool_calls have the message's tool_call_id."""
    results: list[tuple[str | None, Any]] = []
    index = len(messages)
    while index > 0 and messages[index - 1].get("role") == "tool":
        index -= 1
    for message in messages[index:]:
        call_id = message.get("tool_call_id")
        name = None
        for earlier in reversed(messages[:index]):
            found = [c for c in earlier.get("tool_calls") or [] if isinstance(c, dict) and c.get("id") == call_id]
            if earlier.get("role") == "assistant" and found:
                name = found[0].get("function", {}).get("name")
                break
        results.append((name, _parse_result(message.get("content"))))
    return results


# -- rules -------------------------------------------------------------------------------------------------------------

ReplySource = Reply | str | Callable[[RecordedRequest], "Reply | str"]


@dataclass
class Rule:
    """A registered rule; `used` counts the requests it answered."""
    kind: Literal["user", "tool", "request"]
    matches: Callable[[RecordedRequest], bool]
    reply: ReplySource
    times: int | None = None
    used: int = 0
    description: str = ""

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times


class ScriptedModel:
    """The scripted model: rules, the ASGI app answering with them, and the record of requests."""

    def __init__(self) -> None:
        self.delay: float = 0.0  # seconds slept before answering every request
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rules: list[Rule] = []
        self._requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised by rule predicates or reply callables
        self._call_ids = itertools.count(1)
        self.app = self._build_app()

    # -- scripting ---------------------------------------------------------------------------------------------------
    def on_user(self, pattern: str | re.Pattern[str] | Callable[[str], bool], reply: ReplySource, *,
                times: int | None = None) -> Rule:
        """Answer `reply` when the latest user message's text matches `pattern` (a regex searched with re.I) or
        `pattern(text)` is true. Only tried when the last message is not a tool result."""
        if callable(pattern) and not isinstance(pattern, re.Pattern):
            predicate = pattern
        else:
            regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.I)
            predicate = lambda text: regex.search(text) is not None  # noqa: E731
        return self._add(Rule("user", lambda req: bool(predicate(req.latest_user_text)), reply, times,
                              description=f"on_user({pattern!r})"))

    def on_tool_result(self, name: str | None, reply: ReplySource, *, when: Callable[[Any], bool] | None = None,
                       times: int | None = None) -> Rule:
        """Answer `reply` when the last message is the result of tool `name` (None: any tool) and `when(result)`
        is true (the result parsed as JSON, or the raw string)."""
        def matches(req: RecordedRequest) -> bool:
            return (name is None or req.last_tool_name == name) and (when is None or bool(when(req.last_tool_result)))
        return self._add(Rule("tool", matches, reply, times, description=f"on_tool_result({name!r})"))

    def on_request(self, predicate: Callable[[RecordedRequest], bool], reply: ReplySource, *,
                   times: int | None = None) -> Rule:
        """The most general rule, tried after the on_user / on_tool_result ones."""
        return self._add(Rule("request", predicate, reply, times, description="on_request"))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def reset(self) -> None:
        """Forget rules, requests and errors; delay back to 0."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()
            self.errors.clear()
            self.delay = 0.0

    # -- records -----------------------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every chat request received, in order (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def prompt_chars(self) -> list[int]:
        return [request.prompt_chars for request in self.requests]

    @property
    def calls_count(self) -> int:
        return len(self.requests)

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived (for a server in another thread); TimeoutError if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} request(s) after {timeout} s, wanted {count}")
            return list(self._requests)

    # -- clients -----------------------------------------------------------------------------------------------------
    def client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An AsyncOpenAI talking to the app in process (no sockets). kwargs go to AsyncOpenAI."""
        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("base_url", "http://model.test/v1")
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("http_client", httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                                            base_url="http://model.test"))
        return openai.AsyncOpenAI(**kwargs)

    # -- answering ---------------------------------------------------------------------------------------------------
    def choose(self, record: RecordedRequest) -> Reply:
        """Pick the reply for `record`, record it and count the rule. Errors in rules become a 500 reply."""
        with self._lock:
            try:
                reply = self._select(record)
            except Exception as exc:  # a test's predicate or callable is broken: answer, and keep the error
                self.errors.append(exc)
                logging.getLogger(__name__).exception("ScriptedModel rule raised")
                reply = fail(500, f"ScriptedModel: a rule raised {type(exc).__name__}: {exc}", type="fake_error")
            reply = dataclasses.replace(reply, tool_calls=tuple(
                tc if tc.id else dataclasses.replace(tc, id=f"call_{next(self._call_ids)}") for tc in reply.tool_calls))
            record.reply = reply
            self._requests.append(record)
            self._changed.notify_all()
            return reply

    def _select(self, record: RecordedRequest) -> Reply:
        kinds = ("tool", "request") if record.is_tool_result else ("user", "request")
        for kind in kinds:
            for rule in self._rules:
                if rule.kind == kind and not rule.exhausted and rule.matches(record):
                    rule.used += 1
                    return _as_reply(rule.reply(record) if callable(rule.reply) else rule.reply)
        return say("Done." if record.is_tool_result else "OK.")

    def _build_app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/models", _models, methods=["GET"]),
            Route("/models", _models, methods=["GET"]),
            Route("/{path:path}", _not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    async def _chat(self, request: Request) -> Response:
        if not request.headers.get("authorization"):
            return _error_response(ApiError(401, NO_KEY_MESSAGE))
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error_response(ApiError(400, "We could not parse the JSON body of your request, or it has no "
                                                 "'messages' list."))
        record = RecordedRequest.from_body(body, request.url.path, request.headers)
        reply = self.choose(record)
        await _sleep_unless_disconnected(request, self.delay + reply.hang)
        if reply.error is not None:
            return _error_response(reply.error)
        if record.stream:
            return StreamingResponse(_sse(record, reply), media_type="text/event-stream",
                                     headers={"cache-control": "no-cache"})
        if reply.break_after_chars is not None:
            return _DroppedAnswer()
        return JSONResponse(_completion(record, reply))


def _as_reply(value: Reply | str) -> Reply:
    if isinstance(value, str):
        return say(value)
    if not isinstance(value, Reply):
        raise TypeError(f"a reply must be a Reply or a str, got {type(value).__name__}")
    return value


async def _sleep_unless_disconnected(request: Request, seconds: float) -> None:
    """Wait `seconds`, or less if the client goes away first. Event-driven (no polling): with the body read, the
    next ASGI message the server sends is http.disconnect, so one receive() waits for exactly that."""
    if seconds <= 0:
        return

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=dict(error.headers or {}))


async def _models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0,
                                                     "owned_by": "tests"}]})


async def _not_found(request: Request) -> Response:
    return _error_response(ApiError(404, f"Invalid URL ({request.method} {request.url.path})"))


class _DroppedAnswer(Response):
    """Start the answer, then drop the connection (a non-streaming broken_stream)."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise BrokenStream("ScriptedModel: connection dropped before the answer")


# -- wire format -------------------------------------------------------------------------------------------------------

def _usage(record: RecordedRequest, reply: Reply) -> dict[str, int]:
    completion_chars = len(reply.text or "") + sum(len(tc.name) + len(tc.arguments_json) for tc in reply.tool_calls)
    prompt, completion = math.ceil(record.prompt_chars / 4), math.ceil(completion_chars / 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _completion(record: RecordedRequest, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": tc.id, "type": "function",
                                  "function": {"name": tc.name, "arguments": tc.arguments_json}}
                                 for tc in reply.tool_calls]
    return {"id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": record.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": reply.resolved_finish_reason}],
            "usage": _usage(record, reply)}


def _text_pieces(text: str) -> list[str]:
    """Split into pieces of 1-3 words (whitespace kept, so the pieces join back to `text`)."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    pieces, sizes, start = [], itertools.cycle(WORDS_PER_PIECE), 0
    while start < len(tokens):
        size = next(sizes)
        pieces.append("".join(tokens[start:start + size]))
        start += size
    return pieces


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    """The delta of every chunk before the final one."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    text = reply.text or ""
    if reply.break_after_chars is not None:
        text = text[:reply.break_after_chars]
    deltas += [{"content": piece} for piece in _text_pieces(text)]
    for index, tc in enumerate(reply.tool_calls):
        deltas.append({"tool_calls": [{"index": index, "id": tc.id, "type": "function",
                                       "function": {"name": tc.name, "arguments": ""}}]})
        arguments, size = tc.arguments_json, ARGUMENT_FRAGMENT_CHARS
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": arguments[i:i + size]}}]}
                   for i in range(0, len(arguments), size)]
    return deltas


async def _sse(record: RecordedRequest, reply: Reply) -> AsyncIterator[str]:
    include_usage = bool((record.body.get("stream_options") or {}).get("include_usage"))
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": record.model, "system_fingerprint": None}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        data = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    for delta in _deltas(reply):
        yield chunk(delta)
        await asyncio.sleep(0)  # let each chunk go out on its own
    if reply.break_after_chars is not None:
        raise BrokenStream("ScriptedModel: stream broken on purpose")
    yield chunk({}, reply.resolved_finish_reason)
    if include_usage:
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': _usage(record, reply)})}\n\n"
    yield "data: [DONE]\n\n"


# -- real HTTP ---------------------------------------------------------------------------------------------------------

class _HideBrokenStreams(logging.Filter):
    """Keep uvicorn's "Exception in ASGI application" traceback out of the logs for deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], BrokenStream))


_hide_broken_streams = _HideBrokenStreams()


class ModelServer:
    """Serve a ScriptedModel over real HTTP: uvicorn in a daemon thread on 127.0.0.1 and a free port.

    Use as a context manager (or start()/stop()); can be started again after stopping. The rules and records stay
    in this process, so another process (e.g. `chainlit run` with OPENAI_BASE_URL=server.base_url) can be the client.
    """

    def __init__(self, model: ScriptedModel, host: str = "127.0.0.1", port: int = 0) -> None:
        self.model = model
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("ModelServer is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL / AsyncOpenAI(base_url=...) should be: http://127.0.0.1:<port>/v1."""
        return f"{self.url}/v1"

    def client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An AsyncOpenAI talking to this server over HTTP (api_key "sk-test", max_retries=0 unless given)."""
        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(base_url=self.base_url, **kwargs)

    def start(self, timeout: float = 10.0) -> ModelServer:
        if self._server is not None:
            raise RuntimeError("ModelServer is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.model.app, host=self.host, port=self.port, log_level="warning", lifespan="off",
                                log_config=None, access_log=False, timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_hide_broken_streams)  # adding it twice is a no-op
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name=f"ModelServer:{self.port}")
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout)
                sock.close()
                raise RuntimeError(f"ModelServer did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = None
        if thread.is_alive():
            raise RuntimeError("ModelServer did not stop")

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
