"""Counting what calbot asks of the model: calls and tokens, on the model client's HTTP transport.

calbot streams every answer without asking for usage, so the meter asks for it (`stream_options.include_usage`, which
OpenAI, vLLM, Ollama and llama.cpp's server understand) and reads the usage chunk that then ends the stream. A server
that refuses the option (HTTP 400/422 naming it) is asked again without it, and never again; its tokens then count as
unknown (None). calbot itself ignores the extra chunk: it has no choices.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx


@dataclass
class Meter:
    calls: int = 0
    tokens: int = 0
    usage_seen: bool = False

    @property
    def tokens_or_none(self) -> int | None:
        return self.tokens if self.usage_seen else None


def _usage_tokens(data: bytes) -> int | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        return usage["total_tokens"]
    return None


class _UsageReader(httpx.AsyncByteStream):
    """Passes the body through unchanged; notes the usage of an SSE stream (a `data:` line) or a JSON answer."""

    def __init__(self, inner: httpx.AsyncByteStream, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending, whole = b"", []
        async for chunk in self.inner:
            yield chunk
            whole.append(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._line(line)
        self._line(pending)
        body = b"".join(whole).strip()
        if body.startswith(b"{"):
            self._note(_usage_tokens(body))

    def _line(self, line: bytes) -> None:
        line = line.strip()
        if line.startswith(b"data:") and b'"usage"' in line:
            self._note(_usage_tokens(line[5:].strip()))

    def _note(self, tokens: int | None) -> None:
        if tokens is not None:
            self.meter.tokens += tokens
            self.meter.usage_seen = True

    async def aclose(self) -> None:
        await self.inner.aclose()


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts chat-completions requests into `meter` and reads their usage (see the module docstring)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meter: Meter) -> None:
        self.inner = inner
        self.meter = meter
        self.ask_usage = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return await self.inner.handle_async_request(request)
        self.meter.calls += 1
        body = json.loads(await request.aread() or b"{}")
        if self.ask_usage and body.get("stream"):
            asked = _rebuilt(request, {**body, "stream_options": {"include_usage": True}})
            response = await self.inner.handle_async_request(asked)
            if response.status_code not in (400, 422):
                return self._read(response, asked)
            error = await response.aread()
            if b"stream_options" not in error:
                return httpx.Response(response.status_code, headers=response.headers, content=error,
                                      request=asked, extensions=response.extensions)
            self.ask_usage = False
        return self._read(await self.inner.handle_async_request(request), request)

    def _read(self, response: httpx.Response, request: httpx.Request) -> httpx.Response:
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=_UsageReader(response.stream, self.meter), request=request,
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _rebuilt(request: httpx.Request, body: dict) -> httpx.Request:
    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
    return httpx.Request(request.method, request.url, headers=headers, content=json.dumps(body).encode(),
                         extensions=request.extensions)
