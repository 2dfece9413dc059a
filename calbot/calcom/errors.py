"""One exception hierarchy for everything that can go wrong talking to Cal.com."""

from __future__ import annotations

import re

from calbot.errors import CalbotError

# API-NOTES §10: slot problems come back as 400 (or 409 in production) with one of these messages.
SLOT_UNAVAILABLE_RE = re.compile(r"already has booking|not available|can't be booked|no more seats", re.IGNORECASE)


class CalcomError(CalbotError):
    """Base class: Cal.com could not do what we asked."""


class CalcomNetworkError(CalcomError):
    """No usable answer: connection refused, DNS failure, timeout or a reply that is not Cal.com's JSON."""

    def __init__(self, message: str, *, method: str = "", path: str = ""):
        super().__init__(message)
        self.method = method
        self.path = path


class CalcomTimeoutError(CalcomNetworkError):
    """Cal.com did not answer in time. For a write we do not know whether it happened."""


class CalcomConnectionLostError(CalcomNetworkError):
    """The request was sent but the connection broke before the answer arrived (dropped, reset, cut off).
    For a write we do not know whether it happened, exactly as after a timeout."""


class CalcomUnexpectedResponseError(CalcomNetworkError):
    """A 2xx or redirect that is not Cal.com's JSON envelope: usually CAL_API_BASE_URL points elsewhere. Never retried."""


class CalcomAPIError(CalcomError):
    """Cal.com answered with its error envelope (or a non-2xx status)."""

    def __init__(self, status: int, code: str, message: str, *, path: str = "", method: str = "",
                 request_id: str | None = None, details: object = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.method = method
        self.request_id = request_id
        self.details = details


class BadRequestError(CalcomAPIError):
    """400 (other than an unavailable slot)."""


class SlotUnavailableError(CalcomAPIError):
    """400/409 whose message says the slot is taken, outside availability, too soon or full."""


class AuthenticationError(CalcomAPIError):
    """401: the key is missing, wrong or revoked."""


class PermissionDeniedError(CalcomAPIError):
    """403: the key is valid but may not do this."""


class NotFoundError(CalcomAPIError):
    """404: no such booking, event type or route (a wrong cal-api-version also lands here)."""


class ConflictError(CalcomAPIError):
    """409 that is not about the slot (e.g. a duplicate insert)."""


class RateLimitedError(CalcomAPIError):
    """429. `retry_after` is the seconds Cal.com says to wait (X-RateLimit-Reset-*), when given."""

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BudgetExceededError(CalcomError):
    """Not sent: the request would go over this chat's share of Cal.com's rate limit (`scope` "chat") or over the
    account's requests per minute (`scope` "account"); see calbot/calcom/budget.py. `retry_after`: seconds until
    it would fit. Nothing reached Cal.com, so nothing changed."""

    def __init__(self, scope: str, retry_after: float):
        super().__init__(f"over the {scope}'s Cal.com rate budget; fits again in {retry_after:.1f} s")
        self.scope = scope
        self.retry_after = retry_after


class ServerError(CalcomAPIError):
    """5xx: Cal.com failed. For a write we do not know whether it happened."""


def error_class_for(status: int, message: str) -> type[CalcomAPIError]:
    if status in (400, 409) and SLOT_UNAVAILABLE_RE.search(message or ""):
        return SlotUnavailableError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return BadRequestError
