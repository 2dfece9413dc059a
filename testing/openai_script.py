"""The script of the scripted OpenAI fake (testing/openai_fake.py, which re-exports all of this): what the model
answers and what it received.

The replies (`Reply`, `ToolCall`, `ApiError`, built with `say`, `call`, `calls`, `fail`, `hang`, `broken_stream`),
each request as the rules see it (`RecordedRequest`), the rules (`Rule`), and `Script`: the rules, the record of
requests, and choosing the reply for a request (the matching described in openai_fake.py). No HTTP here: the wire
format, the app and the server are testing/openai_server.py, whose ScriptedModel is a Script with an app.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

MODEL_ID = "scripted"


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


class Script:
    """ScriptedModel without HTTP: its rules, its record of requests, and the choice of a reply
    (testing/openai_server.py's ScriptedModel adds the ASGI app and the in-process client)."""

    def __init__(self) -> None:
        self.delay: float = 0.0  # seconds slept before answering every request
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rules: list[Rule] = []
        self._requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised by rule predicates or reply callables
        self._call_ids = itertools.count(1)

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

    # -- answering ---------------------------------------------------------------------------------------------------
    def choose(self, record: RecordedRequest) -> Reply:
        """Pick the reply for `record`, record it and count the rule. Errors in rules become a 500 reply."""
        with self._lock:
            try:
                reply = self._select(record)
            except Exception as exc:  # a test's predicate or callable is broken: answer, and keep the error
                self.errors.append(exc)
                # the logger's name from before the split, so that log filters and caplog stay as they were
                logging.getLogger("testing.openai_fake").exception("ScriptedModel rule raised")
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


def _as_reply(value: Reply | str) -> Reply:
    if isinstance(value, str):
        return say(value)
    if not isinstance(value, Reply):
        raise TypeError(f"a reply must be a Reply or a str, got {type(value).__name__}")
    return value

