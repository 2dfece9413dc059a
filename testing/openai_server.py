"""The wire format and the HTTP side of the scripted OpenAI fake (testing/openai_fake.py, which re-exports all of
this).

`ScriptedModel`: a Script (testing/openai_script.py: rules, records, the choice of a reply) plus the Starlette app
that answers with it, and an in-process openai client. The app reads a request (401 without an Authorization header,
400 without a JSON body with a "messages" list, 404 elsewhere, the models list), lets the script choose, then answers
a `chat.completion` object, `chat.completion.chunk` Server-Sent Events ending in `data: [DONE]`, an OpenAI-style
error, or a dropped connection (`BrokenStream`). `ModelServer` serves a ScriptedModel over real HTTP (uvicorn in a
thread).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testing.openai_script import MODEL_ID, ApiError, RecordedRequest, Reply, Script

NO_KEY_MESSAGE = ("You didn't provide an API key. You need to provide your API key in an Authorization header using "
                  "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
ARGUMENT_FRAGMENT_CHARS = 7
WORDS_PER_PIECE = (1, 2, 3)  # text chunks cycle through these sizes


class BrokenStream(httpx.RemoteProtocolError):
    """Raised inside the streaming body to drop the connection. Under uvicorn the socket closes mid-answer (the
    client gets a RemoteProtocolError reading the body); through httpx.ASGITransport this exception itself reaches
    the client, the same transport error type."""


class ScriptedModel(Script):
    """The scripted model: rules, the ASGI app answering with them, and the record of requests."""

    def __init__(self) -> None:
        super().__init__()
        self.app = self._build_app()

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
