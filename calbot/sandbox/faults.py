"""The sandbox's test faults (only with test hooks): what POST /_sandbox/faults accepts, and a dropped connection.

A fault makes the next `count` matching requests misbehave: answer an error status, wait, drop the connection, or
do the real work first and then misbehave (`after`: a write that took effect although its answer was lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app to drop the connection: under uvicorn the socket closes mid-answer; through
    httpx.ASGITransport the client sees this transport error, exactly what a dropped connection raises."""


class DroppedAnswer(Response):
    """A `drop` fault's answer: starts the response, then raises DroppedConnection. Raising before the start would
    not drop anything under uvicorn: Starlette's ServerErrorMiddleware (or uvicorn itself) then sends a complete
    plain-text 500, a real answer. Once the start is sent, uvicorn closes the socket mid-answer instead (the client
    gets a RemoteProtocolError reading the body); httpx.ASGITransport re-raises DroppedConnection as before."""

    def __init__(self, message: str, status_code: int = 200) -> None:
        super().__init__(status_code=status_code)
        self.message = message

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": [(b"content-type", b"application/json")]})
        raise DroppedConnection(self.message)


class FaultSpec(BaseModel):
    """Make the next `count` requests matching `method` and `path` (a regex searched in the URL path) misbehave.

    status: answer with Cal.com's error envelope for that status (and `message`, if given);
    delay: wait that many seconds first; drop: close the connection without an answer;
    after: do the real work first, then delay/drop/answer `status` (a write that succeeded but whose answer
    was lost or timed out)."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = ".*"
    count: int = Field(default=1, ge=1, le=10_000)
    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    delay: float = Field(default=0.0, ge=0.0, le=600.0)
    drop: bool = False
    after: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> FaultSpec:
        if self.status is None and not self.delay and not self.drop:
            raise ValueError("a fault needs a status, a delay or drop")
        if self.status is not None and self.drop:
            raise ValueError("a fault either answers a status or drops the connection, not both")
        re.compile(self.path)
        self.method = self.method.upper()
        return self


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int
    pattern: re.Pattern[str] = field(repr=False)

    def matches(self, method: str, path: str) -> bool:
        return self.spec.method in ("*", method) and bool(self.pattern.search(path))
