"""The REST API's errors: RFC 9457 problem details (`application/problem+json`), each with a sentence a person can
act on (`detail`). Never a traceback, an exception's text or a key: the sentences are calbot's own
(calbot/explain.py, re-exported here for the API's modules), filled in with values the caller sent."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from calbot.explain import (  # noqa: F401  (the API's sentences, re-exported for routes.py and auth.py)
    ALREADY_ANSWERED,
    BAD_CURSOR,
    BAD_FIELD,
    BAD_JSON,
    BAD_LIMIT,
    BAD_TOKEN,
    BAD_ZONE,
    BLANK_MESSAGE,
    IN_PROGRESS,
    METHOD_NOT_ALLOWED,
    NEEDS_SQL_STORE,
    NOT_AN_OBJECT,
    NOT_FOUND,
    NOT_JSON,
    NO_CHAT,
    NO_PROPOSAL,
    NO_TOKEN,
    RATE_LIMITED,
    STORE_DOWN,
    TOO_LONG,
)

PROBLEM_JSON = "application/problem+json"


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
