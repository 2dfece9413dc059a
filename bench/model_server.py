"""The bench model over HTTP in a process of its own, so that the socket.io clients of the concurrency run and the
model do not share one interpreter (and its GIL) and neither slows the other down.

    python -m bench.model_server --delay 1.0 --ready FILE [--stats FILE]

Writes its base URL (http://127.0.0.1:P/v1) to the --ready file once it listens; on SIGTERM or SIGINT it stops and
writes {"requests": N, "errors": [...]} to the --stats file.

"The model answers after 1 s" means 1 s after the request reached it. The tests' ModelServer (uvicorn + Starlette in
a thread) parses and routes requests one after another, so with 100 arriving together the last one waited ~60 ms
before its 1 s even began, and the concurrency figure charged that wait to the app. Here each request is stamped
the moment httptools has parsed it, the ScriptedModel (the same bench brain, testing/openai_fake.py) chooses the
reply, and the answer goes out at stamp + delay, in the fake's wire format: the same SSE chunks, each its own HTTP
chunk, or the same JSON errors. One request at a time per connection (HTTP/1.1 keep-alive, no pipelining), as the
openai SDK sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import UTC, datetime
from http.client import responses as REASONS
from pathlib import Path
from typing import Any

import httptools

from bench.brain import bench_model
from bench.harness import USER_ZONE
from testing.openai_fake import (
    MODEL_ID,
    NO_KEY_MESSAGE,
    ApiError,
    RecordedRequest,
    ScriptedModel,
    _completion,
    _sse,
)

CHAT_PATHS = {"/v1/chat/completions", "/chat/completions"}


def _head(status: int, headers: dict[str, str], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection: httptools parses, the model answers, the reply is written at arrival + delay."""

    def __init__(self, server: ModelHTTPServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # -- asyncio.Protocol ----------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # -- httptools callbacks -------------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        arrived = asyncio.get_running_loop().time()  # the moment the whole request is here
        self.server.answer(self, arrived, self.parser.get_method().decode(), httptools.parse_url(self._url).path
                           .decode(), self._headers, b"".join(self._body), self.parser.should_keep_alive())

    # -- writing -------------------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ModelHTTPServer:
    def __init__(self, model: ScriptedModel, delay: float) -> None:
        self.model = model
        self.delay = delay
        self._tasks: set[asyncio.Task[None]] = set()

    def answer(self, connection: _Connection, arrived: float, method: str, path: str, headers: dict[str, str],
               body: bytes, keep_alive: bool) -> None:
        task = asyncio.ensure_future(self._answer(connection, arrived, method, path, headers, body, keep_alive))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, connection: _Connection, arrived: float, method: str, path: str, headers: dict[str, str],
                      body: bytes, keep_alive: bool) -> None:
        if method == "GET" and path in {"/v1/models", "/models"}:
            return self._json(connection, 200, {"object": "list", "data": [
                {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "bench"}]}, keep_alive)
        if method != "POST" or path not in CHAT_PATHS:
            return self._error(connection, ApiError(404, f"Invalid URL ({method} {path})"), keep_alive)
        if not headers.get("authorization"):
            return self._error(connection, ApiError(401, NO_KEY_MESSAGE), keep_alive)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            return self._error(connection, ApiError(400, "We could not parse the JSON body of your request, or it "
                                                         "has no 'messages' list."), keep_alive)
        record = RecordedRequest.from_body(request, path, headers)
        reply = self.model.choose(record)
        loop = asyncio.get_running_loop()
        wait = arrived + self.delay + reply.hang - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if reply.error is not None:
            return self._error(connection, reply.error, keep_alive)
        if not record.stream:
            return self._json(connection, 200, _completion(record, reply), keep_alive)
        connection.write(_head(200, {"content-type": "text/event-stream", "cache-control": "no-cache",
                                     "transfer-encoding": "chunked"}, keep_alive))
        try:
            async for chunk in _sse(record, reply):
                data = chunk.encode()
                connection.write(b"%x\r\n%s\r\n" % (len(data), data))
        except Exception:  # noqa: BLE001 - a reply that breaks its stream on purpose: drop the connection
            connection.close()
            return
        connection.write(b"0\r\n\r\n")
        if not keep_alive:
            connection.close()

    @staticmethod
    def _json(connection: _Connection, status: int, payload: Any, keep_alive: bool,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        connection.write(_head(status, {"content-type": "application/json", "content-length": str(len(data)),
                                        **(headers or {})}, keep_alive) + data)
        if not keep_alive:
            connection.close()

    def _error(self, connection: _Connection, error: ApiError, keep_alive: bool) -> None:
        self._json(connection, error.status, error.body(), keep_alive, dict(error.headers or {}))


async def serve(model: ScriptedModel, delay: float, ready: Path, stop: asyncio.Event) -> None:
    server = ModelHTTPServer(model, delay)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Connection(server), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    temporary = ready.with_suffix(".tmp")
    temporary.write_text(f"http://127.0.0.1:{port}/v1")
    temporary.replace(ready)
    async with listener:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_server")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds from a request's arrival to its answer")
    parser.add_argument("--ready", type=Path, required=True, help="file to write the base URL to")
    parser.add_argument("--stats", type=Path, help="file to write the request count to at the end")
    args = parser.parse_args(argv)

    model, _ = bench_model(datetime.now(UTC), USER_ZONE, delay=args.delay)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(model, args.delay, args.ready, stop)

    asyncio.run(run())
    if args.stats:
        args.stats.write_text(json.dumps({"requests": model.calls_count,
                                          "errors": [repr(e) for e in model.errors]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
