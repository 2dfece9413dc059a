"""Async client for the Cal.com API v2 endpoints calbot uses (bookings, slots, event types, me).

One `httpx.AsyncClient` per CalcomClient, shared by every chat and closed with `aclose()` (or `async with`).
Every request sent (retries and pages included) is first counted by the client's RateBudget (budget.py): the
account's requests per minute and the current chat's share of them; one that does not fit is not sent.
Each request carries `Authorization: Bearer` and the `cal-api-version` of its own endpoint (a wrong but valid version
is a 404 on Cal.com, a missing one silently routes to legacy controllers). Success envelopes are unwrapped; error
envelopes become the typed exceptions of `calbot.calcom.errors`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import stamina
from pydantic import TypeAdapter, ValidationError

from calbot.calcom.budget import RateBudget
from calbot.calcom.errors import (
    BudgetExceededError,
    CalcomAPIError,
    CalcomConnectionLostError,
    CalcomNetworkError,
    CalcomTimeoutError,
    CalcomUnexpectedResponseError,
    RateLimitedError,
    ServerError,
    error_class_for,
)
from calbot.calcom.models import (
    Booking,
    BookingData,
    CancelRequest,
    CreateBookingRequest,
    EventType,
    Me,
    Pagination,
    RescheduleRequest,
    Slot,
)
from calbot.timezones import to_utc_iso

log = logging.getLogger(__name__)

BOOKINGS_VERSION = "2024-08-13"
SLOTS_VERSION = "2024-09-04"
EVENT_TYPES_VERSION = "2024-06-14"
ME_VERSION = "2024-08-13"  # /v2/me accepts any valid version

MAX_PAGE_SIZE = 250  # Cal.com's @Max(250) on `take`
MAX_PAGES = 40  # 10,000 bookings: a guard against a server that always says hasNextPage

# Reads should be quick; a write may legitimately take longer (Cal.com calls calendars and video apps).
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
WRITE_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# Retries (API-NOTES §11, §12): reads are repeated after network errors and 5xx with exponential backoff and jitter;
# any request refused with 429 is repeated after Cal.com's X-RateLimit-Reset when that is short; a write that may
# have reached Cal.com is never repeated here (the executor looks for it first).
READ_ATTEMPTS = 3
RETRY_BUDGET = 20.0  # seconds for all attempts of one call together
MAX_RATE_LIMIT_WAIT = 5.0  # a longer reset is told to the user ("try again in N seconds") instead of waited out


def _retry_hook(exc: Exception, *, write: bool) -> bool | float:
    """stamina's `on` hook: False gives up, True backs off exponentially, a number waits exactly that long."""
    if isinstance(exc, BudgetExceededError):  # not sent: the person is told when to try again
        return False
    if isinstance(exc, RateLimitedError):  # refused before any work was done: safe to repeat, reads and writes alike
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return max(wait, 0.05) if wait <= MAX_RATE_LIMIT_WAIT else False
    if isinstance(exc, CalcomUnexpectedResponseError):
        return False
    if write:  # only when nothing was sent (connection refused, DNS failure)
        return type(exc) is CalcomNetworkError
    return isinstance(exc, (CalcomNetworkError, ServerError))


_booking_data = TypeAdapter(BookingData)
_bookings = TypeAdapter(list[BookingData])
_event_types = TypeAdapter(list[EventType])
_me = TypeAdapter(Me)
_slots = TypeAdapter(dict[str, list[Slot]])


def _error_message(payload: Any, fallback: str) -> tuple[str, str, Any]:
    """(code, message, details) from Cal.com's error envelope: error.message, then message, then error (a string)."""
    if not isinstance(payload, dict):
        return "HTTP_ERROR", fallback, None
    error = payload.get("error")
    code, message, details = "HTTP_ERROR", None, None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = error.get("message")
        details = error.get("details")
    if not message and isinstance(payload.get("message"), str):
        message = payload["message"]
    if not message and isinstance(error, str):
        message = error
    return code, str(message or fallback), details


def _reset_seconds(headers: httpx.Headers) -> float | None:
    """Seconds until a retry can succeed (API-NOTES §11): the X-RateLimit-Reset-<name> of the limit whose
    X-RateLimit-Remaining-<name> is 0, or the longest reset when none says so."""
    resets: dict[str, float] = {}
    exhausted: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        try:
            number = float(value)
        except ValueError:
            continue
        if lowered.startswith("x-ratelimit-reset"):
            resets[lowered.removeprefix("x-ratelimit-reset")] = number
        elif lowered.startswith("x-ratelimit-remaining") and number <= 0:
            exhausted.add(lowered.removeprefix("x-ratelimit-remaining"))
    chosen = [seconds for suffix, seconds in resets.items() if suffix in exhausted] or list(resets.values())
    return max(chosen) if chosen else None


class CalcomClient:
    """Talks to one Cal.com account (or anything that serves the same HTTP surface, such as the sandbox)."""

    def __init__(self, api_key: str, base_url: str = "https://api.cal.com/v2", *,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, write_timeout: httpx.Timeout = WRITE_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None, attempts: int = READ_ATTEMPTS,
                 retry_budget: float = RETRY_BUDGET, budget: RateBudget | None = None):
        """`budget`: the rate budget of this account (default: Cal.com's 120 requests a minute per key, a quarter
        of them per chat)."""
        if not api_key:
            raise ValueError("a Cal.com API key is required")
        self.budget = budget if budget is not None else RateBudget()
        self._attempts = max(1, attempts)
        self._retry_budget = retry_budget
        self._write_timeout = write_timeout
        self._api_key = api_key
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> CalcomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    # -- transport -------------------------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, *, version: str, params: dict[str, Any] | None = None,
                       json: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Send a request, retried as `_retry_hook` allows; return (data, whole envelope) or raise a CalcomError."""
        async for attempt in stamina.retry_context(on=partial(_retry_hook, write=method != "GET"),
                                                   attempts=self._attempts, timeout=self._retry_budget,
                                                   wait_initial=0.2, wait_max=2.0, wait_jitter=0.3):
            with attempt:
                if attempt.num > 1:
                    log.info("retrying Cal.com %s /%s (attempt %d)", method, path, attempt.num)
                return await self._send(method, path, version=version, params=params, json=json)
        raise AssertionError("unreachable")  # pragma: no cover - retry_context re-raises the last error

    async def _send(self, method: str, path: str, *, version: str, params: dict[str, Any] | None,
                    json: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        """Send one request; return (data, whole envelope) or raise a CalcomError."""
        self.budget.spend()  # BudgetExceededError: over the account's or this chat's requests per minute, not sent
        headers = {"cal-api-version": version}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeout = self._write_timeout if method != "GET" else httpx.USE_CLIENT_DEFAULT
        try:
            response = await self._http.request(method, path.lstrip("/"), params=query or None, json=json,
                                                headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise CalcomTimeoutError(f"Cal.com did not answer {method} /{path} in time ({type(exc).__name__})",
                                     method=method, path=f"/{path}") from None
        except (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol) as exc:  # nothing was sent
            raise CalcomNetworkError(f"could not reach Cal.com for {method} /{path} ({type(exc).__name__})",
                                     method=method, path=f"/{path}") from None
        except httpx.HTTPError as exc:  # sent, then the connection broke: a write may have taken effect
            raise CalcomConnectionLostError(f"the connection to Cal.com broke during {method} /{path} before its "
                                            f"answer arrived ({type(exc).__name__})",
                                            method=method, path=f"/{path}") from None
        request_id = response.headers.get("x-request-id")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict) and payload.get("status") == "success":
            return payload.get("data"), payload
        if response.is_success or response.is_redirect:
            # A redirect or a 2xx page that is not Cal.com's envelope: usually CAL_API_BASE_URL points elsewhere.
            raise CalcomUnexpectedResponseError(f"Cal.com answered {method} /{path} with something that is not its "
                                                f"JSON envelope (HTTP {response.status_code})", method=method,
                                                path=f"/{path}")
        code, message, details = _error_message(payload, response.reason_phrase or f"HTTP {response.status_code}")
        message = message.replace(self._api_key, "[redacted]")  # never echo the key, whatever a proxy sends back
        cls = error_class_for(response.status_code, message)
        log.warning("Cal.com %s /%s -> %s %s (request id %s)", method, path, response.status_code, code, request_id)
        kwargs: dict[str, Any] = dict(path=f"/{path}", method=method, request_id=request_id, details=details)
        if cls is RateLimitedError:
            kwargs["retry_after"] = _reset_seconds(response.headers)
        raise cls(response.status_code, code, message, **kwargs)

    @staticmethod
    def _parse(adapter: TypeAdapter[Any], data: Any, what: str) -> Any:
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            raise CalcomAPIError(200, "UNEXPECTED_RESPONSE", f"Cal.com returned {what} calbot cannot read: "
                                 f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}") from None

    # -- endpoints -------------------------------------------------------------------------------------------------
    async def me(self) -> Me:
        data, _ = await self._request("GET", "me", version=ME_VERSION)
        return self._parse(_me, data, "a profile")

    async def event_types(self) -> list[EventType]:
        data, _ = await self._request("GET", "event-types", version=EVENT_TYPES_VERSION)
        return self._parse(_event_types, data or [], "event types")

    async def slots(self, event_type_id: int, start: datetime, end: datetime, *, time_zone: str,
                    duration: int | None = None, booking_uid_to_reschedule: str | None = None) -> list[Slot]:
        """Free slots whose start lies in [start, end], sorted, in one flat list (instants are aware UTC)."""
        params = {
            "eventTypeId": event_type_id,
            "start": to_utc_iso(start),
            "end": to_utc_iso(end),
            "timeZone": time_zone,
            "format": "range",
            "duration": duration,
            "bookingUidToReschedule": booking_uid_to_reschedule,
        }
        data, _ = await self._request("GET", "slots", version=SLOTS_VERSION, params=params)
        by_day: dict[str, list[Slot]] = self._parse(_slots, data or {}, "slots")
        return sorted((slot for day in by_day.values() for slot in day), key=lambda s: s.start)

    async def list_bookings(self, *, status: str | None = None, attendee_email: str | None = None,
                            after_start: datetime | None = None, before_end: datetime | None = None,
                            event_type_id: int | None = None, sort_start: str = "asc",
                            page_size: int = 100) -> list[Booking]:
        """Every matching booking, following `pagination.hasNextPage`. Recurring series are flattened."""
        take = max(1, min(page_size, MAX_PAGE_SIZE))
        params: dict[str, Any] = {
            "status": status,
            "attendeeEmail": attendee_email,
            "afterStart": to_utc_iso(after_start) if after_start else None,
            "beforeEnd": to_utc_iso(before_end) if before_end else None,
            "eventTypeId": str(event_type_id) if event_type_id is not None else None,
            "sortStart": sort_start,
            "take": take,
        }
        found: list[Booking] = []
        for page in range(MAX_PAGES):
            data, envelope = await self._request("GET", "bookings", version=BOOKINGS_VERSION,
                                                 params={**params, "skip": page * take})
            for item in self._parse(_bookings, data or [], "bookings"):
                found.extend(item if isinstance(item, list) else [item])
            pagination = Pagination.model_validate(envelope.get("pagination") or {})
            if not pagination.has_next_page or not data:
                return found
        log.warning("stopped paging bookings after %d pages", MAX_PAGES)
        return found

    async def get_booking(self, uid: str) -> BookingData:
        data, _ = await self._request("GET", f"bookings/{_uid(uid)}", version=BOOKINGS_VERSION)
        return self._parse(_booking_data, data, "a booking")

    async def create_booking(self, request: CreateBookingRequest) -> BookingData:
        data, _ = await self._request("POST", "bookings", version=BOOKINGS_VERSION, json=request.to_body())
        return self._parse(_booking_data, data, "a booking")

    async def cancel_booking(self, uid: str, reason: str | None = None, *, seat_uid: str | None = None) -> BookingData:
        body = CancelRequest(cancellation_reason=reason, seat_uid=seat_uid).to_body()  # {} at least: it is required
        data, _ = await self._request("POST", f"bookings/{_uid(uid)}/cancel", version=BOOKINGS_VERSION, json=body)
        return self._parse(_booking_data, data, "a booking")

    async def reschedule_booking(self, uid: str, request: RescheduleRequest) -> BookingData:
        data, _ = await self._request("POST", f"bookings/{_uid(uid)}/reschedule", version=BOOKINGS_VERSION,
                                      json=request.to_body())
        return self._parse(_booking_data, data, "a booking")


def _uid(uid: str) -> str:
    """Booking uids are opaque tokens; refuse anything that could change the path."""
    value = (uid or "").strip()
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError(f"{uid!r} is not a booking uid")
    return value
