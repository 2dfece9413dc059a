"""The REST API's errors: RFC 9457 problem details (`application/problem+json`), each with a sentence a person can
act on (`detail`). Never a traceback, an exception's text or a key: the sentences are these constants, calbot's
own sentences (calbot/explain.py, the chat service's), or built here from values the caller sent.

(These sentences belong with calbot/explain.py; they live here until that file is free to change.)"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from calbot.chat import MAX_MESSAGE_CHARS

PROBLEM_JSON = "application/problem+json"

NO_TOKEN = ("This request needs a token: send 'Authorization: Bearer <token>'. Make one with python -m calbot tokens "
            "create EMAIL.")
BAD_TOKEN = ("This token is not valid: it is mistyped, revoked, or its account is disabled or gone. Make a new one "
             "with python -m calbot tokens create EMAIL.")
NO_CHAT = ("There is no such chat for you: it never existed, belongs to someone else, or expired after {ttl} "
           "without a message. Start a new chat with POST /api/v1/chats.")
NO_PROPOSAL = ("There is no open proposal with this id in this chat (it was never made, or it expired). Send a "
               "message to make a new one.")
ALREADY_ANSWERED = "This proposal was already answered ({status}); nothing more was done."
IN_PROGRESS = "This proposal is being answered by another request right now; nothing more was done."
NOT_JSON = "Send the body as JSON with 'Content-Type: application/json'."
BAD_JSON = "The body is not valid JSON: {reason}."
NOT_AN_OBJECT = "The body must be a JSON object such as {\"message\": \"show my meetings\"}."
BAD_FIELD = "The field '{field}' {problem}."
BLANK_MESSAGE = "The message is empty: write what you would like to do, for example 'book a meeting tomorrow at 3pm'."
TOO_LONG = (f"The message is {{length:,}} characters long; calbot reads up to {MAX_MESSAGE_CHARS:,}. Nothing was "
            "sent: shorten it and send it again.")
BAD_ZONE = "The time zone {zone!r} is not an IANA time zone name; use one such as Europe/Berlin or America/New_York."
BAD_LIMIT = "limit must be a whole number from 1 to {most}."
BAD_CURSOR = "This cursor is not one calbot gave; leave it out to start from the newest chat."
RATE_LIMITED = "Too many requests with this token: wait {wait} seconds, then try again."
STORE_DOWN = ("The chat database cannot be used now; nothing was changed. Check CALBOT_DATABASE_URL and that the "
              "database server is running, then try again.")
NEEDS_SQL_STORE = "The REST API needs calbot's SQL database (CALBOT_DATABASE_URL or the default SQLite file)."
NOT_FOUND = "There is nothing at this address; the API's documentation is at /api/v1/docs."
METHOD_NOT_ALLOWED = "This address does not take {method} requests; see /api/v1/docs."

TITLES = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
          413: "Message too long", 415: "Unsupported media type", 422: "Unprocessable content",
          429: "Too many requests", 500: "Internal error", 503: "Service unavailable"}


class Problem(Exception):
    """Raised by the API's code; answered as problem details."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (extension members such as `chat_id` may follow)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str


def problem_response(status: int, detail: str, *, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def answer(problem: Problem) -> JSONResponse:
    return problem_response(problem.status, problem.detail, headers=problem.headers, **problem.extra)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these problem statuses."""
    return {status: {"description": TITLES[status], "model": ProblemDetails,
                     "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            for status in statuses}
