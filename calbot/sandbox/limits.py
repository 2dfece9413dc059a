"""The sandbox's bounds on what one request may ask: sizes, ranges, and the answer when something still goes wrong.

Cal.com's own bounds, mirrored: request bodies up to 100 KB (body-parser's default, which Cal.com's JsonBodyMiddleware
uses; over it, 413), `take` 1-250, and the slots `end` clamped to one year from now (GetAvailableSlotsInput_2024_09_04
transforms a later end into now + 1 year, silently). The sandbox's own, where Cal.com has none that fits Python:
integers within Postgres's `integer` (Cal.com's id columns), instants from 1900 to 2999 (Python's datetime cannot do
arithmetic at the edges of years 1 and 9999, JavaScript can), and caps on stored text (README, "The standalone
sandbox's limits"). `CatchAll` turns anything unexpected into Cal.com's 500 envelope and logs it.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calbot.sandbox.service import ApiError, iso

log = logging.getLogger("calbot.sandbox")

MAX_BODY_BYTES = 100 * 1024
BODY_TOO_LARGE = "request entity too large"  # body-parser's PayloadTooLargeError message
MAX_INT = 2**31 - 1  # Postgres `integer`, the type of Cal.com's ids
MIN_INT = -(2**31)
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MAX_NAME_CHARS = 255  # names, emails, slugs, uids, usernames, seat uids (query values too)
MAX_TEXT_CHARS = 10_000  # notes and every other booking field response, cancellation and rescheduling reasons
MAX_GUESTS = 10  # Cal.com's add-guests endpoint: "Cannot add more than 10 guests at a time"
MAX_RESPONSES = 50  # booking field responses (keys), as metadata's 50 keys
MAX_RESPONSE_ITEMS = 200  # values inside booking field responses (lists and objects, all levels)


def too_large() -> ApiError:
    return ApiError(413, BODY_TOO_LARGE)


def declared_length(request: Request) -> int | None:
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return None


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, read chunk by chunk and refused (413) as soon as it passes `limit`: never buffered whole."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not a finite number")
    return number


def _no_constants(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")  # NaN, Infinity: JSON.parse refuses them too


def parse_json(raw: bytes) -> Any:
    """A request body as JSON (None when empty), or Cal.com's 400 for a body body-parser would refuse."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ApiError(400, "Bad Request Exception", details={
            "message": "Unexpected token in JSON body", "error": "Bad Request", "statusCode": 400}) from None


def error_envelope(error: ApiError, path: str, now: datetime) -> dict[str, Any]:
    return {"status": "error", "timestamp": iso(now), "path": path,
            "error": {"code": error.code, "message": error.message, "details": error.details}}


def internal_error() -> ApiError:
    """Cal.com's catch-all filter answer for an unknown error."""
    return ApiError(500, "Internal server error.", code="INTERNAL_SERVER_ERROR")


class CatchAll:
    """ASGI middleware: an exception that escapes the app before an answer started becomes Cal.com's 500 envelope
    (logged with its traceback here), never Starlette's plain-text 500 nor an exception in an in-process caller.
    After an answer started (a `drop` test fault) the exception goes on, so the connection is cut as intended."""

    def __init__(self, app: ASGIApp, clock: Any) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            log.exception("sandbox: unexpected error on %s %s", scope.get("method"), scope.get("path"))
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope.get("path", "") + (f"?{query}" if query else "")
            body = json.dumps(error_envelope(internal_error(), path, self.clock())).encode()
            request_id = dict(scope.get("headers") or []).get(b"x-request-id") or str(uuid.uuid4()).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
