"""Cal.com's refusals, as a table: what the real API answers, checked against the sandbox.

calbot's client and the sandbox were written by the same people, so they could drift away from Cal.com together and
every other test would still pass. This table is an independent statement of Cal.com v2's behaviour: each row is a
request plus the HTTP status, `error.code` and EXACT `error.message` that tests/spec/calcom/API-NOTES.md documents
(section in `source`). The messages are typed out here on purpose, never imported from calbot.sandbox.service.

Every row also checks the §2 envelope ({status:"error", timestamp, path, error:{code, message, details}}) and the
X-Request-Id header. Requests that fit the OpenAPI document go through the spec-checking transport (as the `cal`
fixture does); rows marked `on_spec=False` are deliberately off-spec (a wrong or missing cal-api-version, a missing
required Authorization) and go through a plain transport, after asserting that the spec really refuses them.

Times: the sandbox clock is frozen at Monday 2026-11-23 08:00 UTC; the host works Mon-Fri 09:00-17:00 Europe/London
(UTC+0 in November) with a 120 minute minimum notice; event types 1001 (30 min) and 1002 (60 min).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from calbot.sandbox import SANDBOX_API_KEY, Sandbox, SandboxEventType
from tests.openapi_spec import validate_request, validate_response
from tests.sandbox.conftest import ORIGIN, SpecCheckingTransport

# -- Cal.com's messages, as API-NOTES gives them (full text where API-NOTES abbreviates with "…") --------------------
NO_AUTH = ("No authentication method provided. Either pass an API key as 'Bearer' header or OAuth client credentials "
           "as 'x-cal-secret-key' and 'x-cal-client-id' headers")
BAD_API_KEY = "Your api key is not valid"
SLOT_UNAVAILABLE = "User either already has booking at this time or is not available"
TOO_SOON_OR_TOO_FAR = (
    "The event type can't be booked at the \"start\" time provided. This could be because it's too soon (violating "
    "the minimum booking notice) or too far in the future (outside the event's scheduling window). Try fetching "
    "available slots first using the GET /v2/slots endpoint and then make a booking with \"start\" time equal to one "
    "of the available slots: https://cal.com/docs/api-reference/v2/slots")
IN_THE_PAST = "Attempting to book a meeting in the past."
NO_EVENT_TYPE = "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug must be provided"
EVENT_TYPE_999_NOT_FOUND = "Event type with id 999 not found."
NO_CONTACT = "Attendee must have at least one contact method (email or phone number)"
SINGLE_LENGTH = ("Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
                 "Please, remove the 'lengthInMinutes' field from the request.")
LENGTH_NOT_ALLOWED = ("Provided 'lengthInMinutes' is not one of the possible lengths for the event type. "
                      "The possible lengths are: 15, 30, 60")
BOOKING_NOT_FOUND = "Booking with uid={uid} was not found in the database"
CANCELLED_ALREADY = ("Can't cancel booking with uid={uid} because it has been cancelled already. Please provide uid "
                     "of a booking that is not cancelled.")
RESCHEDULE_CANCELLED = ("Can't reschedule booking with uid={uid} because it has been cancelled. Please provide uid "
                        "of a booking that is not cancelled.")
RESCHEDULE_RESCHEDULED = ("Can't reschedule booking with uid={uid} because it has been cancelled and rescheduled "
                          "already to booking with uid={new_uid}. You probably want to reschedule {new_uid} instead "
                          "by passing it within the request URL.")
BAD_REQUEST_EXCEPTION = "Bad Request Exception"  # class-validator (ValidationPipe) failures
THROTTLED = "CustomThrottlerGuard - Too many requests. Please try again later."
# NestJS's router answers an unmatched route with NotFoundException(`Cannot ${method} ${req.originalUrl}`); the
# original URL carries the query string, so the query part is allowed (API-NOTES gives only the 404 status).
CANNOT_GET_SLOTS = r"Cannot GET /v2/slots(\?.*)?"
CANNOT_GET_BOOKINGS = r"Cannot GET /v2/bookings(\?.*)?"

# -- request pieces ------------------------------------------------------------------------------------------------
WRONG_KEY = "cal_live_00000000000000000000000000000bad"  # looks like a live key, is not the sandbox's
TOMORROW_0930 = "2026-11-24T09:30:00Z"
TOMORROW_10 = "2026-11-24T10:00:00Z"
TOMORROW_11 = "2026-11-24T11:00:00Z"
TOMORROW_18 = "2026-11-24T18:00:00Z"  # 18:00 in London: after working hours
SATURDAY_10 = "2026-11-28T10:00:00Z"
TODAY_0930 = "2026-11-23T09:30:00Z"  # within working hours, but 90 minutes from now (minimum notice: 120)
IN_THREE_WEEKS = "2026-12-15T10:00:00Z"  # a Tuesday, beyond a 7 day booking window
LAST_FRIDAY_10 = "2026-11-20T10:00:00Z"
ATTENDEE = {"name": "Ana Diaz", "email": "ana@example.com", "timeZone": "Europe/Madrid", "language": "es"}
DEFAULT_VERSION = "per-endpoint"  # sentinel: the cal-api-version API-NOTES §1 documents for the path
VERSIONS = {"/v2/slots": "2024-09-04", "/v2/event-types": "2024-06-14"}  # everything else here: 2024-08-13


def booking(start: str, event_type_id: int | None = 1001, attendee: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"start": start, "attendee": attendee or ATTENDEE, **extra}
    if event_type_id is not None:
        body["eventTypeId"] = event_type_id
    return body


# -- setups: the state a row needs, made through the API itself (spec-checked, valid key) ----------------------------
Setup = Callable[[httpx.AsyncClient], Awaitable[dict[str, str]]]


async def _create(api: httpx.AsyncClient, start: str, event_type_id: int = 1001) -> str:
    response = await api.post("/v2/bookings", json=booking(start, event_type_id))
    assert response.status_code == 201, response.text
    return response.json()["data"]["uid"]


async def nothing(api: httpx.AsyncClient) -> dict[str, str]:
    return {}


async def booked_tomorrow_10(api: httpx.AsyncClient) -> dict[str, str]:
    return {"uid": await _create(api, TOMORROW_10)}


async def booked_tomorrow_10_and_11(api: httpx.AsyncClient) -> dict[str, str]:
    return {"uid": await _create(api, TOMORROW_10), "other": await _create(api, TOMORROW_11)}


async def cancelled(api: httpx.AsyncClient) -> dict[str, str]:
    uid = await _create(api, TOMORROW_10)
    response = await api.post(f"/v2/bookings/{uid}/cancel", json={"cancellationReason": "plans changed"})
    assert response.status_code == 200, response.text
    return {"uid": uid}


async def rescheduled(api: httpx.AsyncClient) -> dict[str, str]:
    uid = await _create(api, TOMORROW_10)
    response = await api.post(f"/v2/bookings/{uid}/reschedule", json={"start": TOMORROW_11})
    assert response.status_code == 201, response.text
    return {"uid": uid, "new_uid": response.json()["data"]["uid"]}


async def two_requests_made(api: httpx.AsyncClient) -> dict[str, str]:
    for _ in range(2):
        response = await api.get("/v2/bookings")
        assert response.status_code == 200, response.text
    return {}


SETUPS: dict[str, Setup] = {
    "nothing": nothing,
    "a booking exists at 10:00 tomorrow": booked_tomorrow_10,
    "bookings exist at 10:00 and 11:00 tomorrow": booked_tomorrow_10_and_11,
    "booking already cancelled": cancelled,
    "booking rescheduled (10:00 -> 11:00)": rescheduled,
    "2 requests already made with the key (limit 2)": two_requests_made,
}


# -- extra checks ----------------------------------------------------------------------------------------------------
def take_max_250(response: httpx.Response) -> None:
    """class-validator's field errors sit in details.errors[] as {property, constraints, value} (API-NOTES §2)."""
    errors = response.json()["error"]["details"]["errors"]
    take = [e for e in errors if e["property"] == "take"]
    assert take, errors
    assert take[0]["constraints"] == {"max": "take must not be greater than 250"}


def rate_limit_headers(response: httpx.Response) -> None:
    """API-NOTES §11: the X-RateLimit-*-Default headers; Reset is seconds remaining, not an epoch; no Retry-After."""
    assert response.headers["X-RateLimit-Limit-Default"] == "2"
    assert response.headers["X-RateLimit-Remaining-Default"] == "0"
    assert 1 <= int(response.headers["X-RateLimit-Reset-Default"]) <= 60
    assert "retry-after" not in response.headers


# -- the table -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: str
    source: str  # where Cal.com's behaviour is documented ("sandbox only" when it is not Cal.com's)
    setup: str  # a key of SETUPS
    method: str
    path: str  # may hold {uid}, {new_uid}, {other} from the setup
    status: int
    code: str
    message: str  # exact; {uid}/{new_uid} filled from the setup
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    key: str | None = SANDBOX_API_KEY  # None: no Authorization header
    version: str | None = DEFAULT_VERSION  # None: no cal-api-version header
    config: dict[str, Any] = field(default_factory=dict)  # make_sandbox overrides
    on_spec: bool = True  # False: the request itself violates the OpenAPI document, on purpose
    style: str = "http"  # "http": a NestJS HttpException with a string message; "validation"; "throttler"
    regex: bool = False  # `message` is a regular expression (fullmatch) instead of an exact string
    check: Callable[[httpx.Response], None] | None = None


MULTI_LENGTH = {"event_types": (SandboxEventType(1003, "flexible", "Flexible Meeting", 30,
                                                 length_options=(15, 30, 60)),)}
WEEK_WINDOW = {"event_types": (SandboxEventType(1001, "30min", "30 Min Meeting", 30, booking_window_days=7),)}
SLOTS_QUERY = {"start": "2026-11-24", "end": "2026-11-24", "eventTypeId": "1001"}

ROWS = [
    # §1 auth and versions
    Row("list-without-key", "§1 (list requires a key)", "nothing", "GET", "/v2/bookings",
        401, "UnauthorizedException", NO_AUTH, key=None, on_spec=False),
    Row("me-without-key", "§1, §9 (me requires a key)", "nothing", "GET", "/v2/me",
        401, "UnauthorizedException", NO_AUTH, key=None, on_spec=False),
    Row("list-wrong-key", "§1 (invalid key)", "nothing", "GET", "/v2/bookings",
        401, "UnauthorizedException", BAD_API_KEY, key=WRONG_KEY),
    Row("me-wrong-key", "§1 (invalid key)", "nothing", "GET", "/v2/me",
        401, "UnauthorizedException", BAD_API_KEY, key=WRONG_KEY),
    Row("create-wrong-key", "§1, §3 (auth optional, but a key that is sent must be valid)", "nothing", "POST",
        "/v2/bookings", 401, "UnauthorizedException", BAD_API_KEY, json=booking(TOMORROW_10), key=WRONG_KEY),
    Row("slots-with-bookings-version", "§1 (a wrong but valid version returns 404)", "nothing", "GET", "/v2/slots",
        404, "NotFoundException", CANNOT_GET_SLOTS, params=SLOTS_QUERY, version="2024-08-13", on_spec=False,
        regex=True),
    # SANDBOX BEHAVIOUR, NOT CAL.COM'S: without the header Cal.com routes to its legacy 2024-04-15 bookings
    # controller (old body and shape, 500s reported in issue #16924); the sandbox does not emulate legacy
    # controllers and answers 404 instead, so a client that forgets the header fails loudly.
    Row("list-without-version (sandbox only)", "sandbox only (Cal.com: legacy controller, §1)", "nothing", "GET",
        "/v2/bookings", 404, "NotFoundException", CANNOT_GET_BOOKINGS, version=None, on_spec=False, regex=True),
    # §3 create: input rules
    Row("create-without-event-type", "§3", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", NO_EVENT_TYPE, json=booking(TOMORROW_10, event_type_id=None)),
    Row("create-unknown-event-type", "§10 (event type not found)", "nothing", "POST", "/v2/bookings",
        404, "NotFoundException", EVENT_TYPE_999_NOT_FOUND, json=booking(TOMORROW_10, 999)),
    Row("create-without-email-or-phone", "§3", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", NO_CONTACT,
        json=booking(TOMORROW_10, attendee={"name": "Ana Diaz", "timeZone": "Europe/Madrid"})),
    Row("create-length-on-single-length-type", "§3", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", SINGLE_LENGTH, json=booking(TOMORROW_10, lengthInMinutes=30)),
    Row("create-length-not-allowed", "§3", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", LENGTH_NOT_ALLOWED, json=booking(TOMORROW_10, 1003, lengthInMinutes=45),
        config=MULTI_LENGTH),
    # §10 slot problems on create
    Row("create-slot-taken", "§10", "a booking exists at 10:00 tomorrow", "POST", "/v2/bookings",
        400, "BadRequestException", SLOT_UNAVAILABLE, json=booking(TOMORROW_10)),
    Row("create-overlapping-booking", "§10", "a booking exists at 10:00 tomorrow", "POST", "/v2/bookings",
        400, "BadRequestException", SLOT_UNAVAILABLE, json=booking(TOMORROW_0930, 1002)),
    Row("create-after-working-hours", "§10 (outside availability)", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", SLOT_UNAVAILABLE, json=booking(TOMORROW_18)),
    Row("create-on-a-day-off", "§10 (outside availability)", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", SLOT_UNAVAILABLE, json=booking(SATURDAY_10)),
    Row("create-too-soon", "§10 (minimum notice)", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", TOO_SOON_OR_TOO_FAR, json=booking(TODAY_0930)),
    Row("create-beyond-booking-window", "§10 (scheduling window)", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", TOO_SOON_OR_TOO_FAR, json=booking(IN_THREE_WEEKS), config=WEEK_WINDOW),
    Row("create-in-the-past", "§10", "nothing", "POST", "/v2/bookings",
        400, "BadRequestException", IN_THE_PAST, json=booking(LAST_FRIDAY_10)),
    # §4 list
    Row("list-take-251", "§4 (@Max(250)), §2 (class-validator)", "nothing", "GET", "/v2/bookings",
        400, "BadRequestException", BAD_REQUEST_EXCEPTION, params={"take": "251"}, style="validation",
        check=take_max_250),
    # §5 get
    Row("get-unknown-uid", "§5", "nothing", "GET", "/v2/bookings/NoSuchBookingUid000001",
        404, "NotFoundException", BOOKING_NOT_FOUND.format(uid="NoSuchBookingUid000001")),
    # §6 cancel
    Row("cancel-twice", "§6", "booking already cancelled", "POST", "/v2/bookings/{uid}/cancel",
        400, "BadRequestException", CANCELLED_ALREADY, json={}),
    # API-NOTES §6 gives only the status (404) for an unknown uid; the wording is §5's booking-not-found message.
    Row("cancel-unknown-uid", "§6 (status), §5 (message)", "nothing", "POST",
        "/v2/bookings/NoSuchBookingUid000001/cancel", 404, "NotFoundException",
        BOOKING_NOT_FOUND.format(uid="NoSuchBookingUid000001"), json={}),
    # §7 reschedule
    Row("reschedule-cancelled", "§7", "booking already cancelled", "POST", "/v2/bookings/{uid}/reschedule",
        400, "BadRequestException", RESCHEDULE_CANCELLED, json={"start": TOMORROW_11}),
    Row("reschedule-already-rescheduled", "§7", "booking rescheduled (10:00 -> 11:00)", "POST",
        "/v2/bookings/{uid}/reschedule", 400, "BadRequestException", RESCHEDULE_RESCHEDULED,
        json={"start": "2026-11-24T14:00:00Z"}),
    Row("reschedule-into-taken-slot", "§7 -> §10", "bookings exist at 10:00 and 11:00 tomorrow", "POST",
        "/v2/bookings/{uid}/reschedule", 400, "BadRequestException", SLOT_UNAVAILABLE,
        json={"start": TOMORROW_11}),
    Row("reschedule-into-the-past", "§7 -> §10", "a booking exists at 10:00 tomorrow", "POST",
        "/v2/bookings/{uid}/reschedule", 400, "BadRequestException", IN_THE_PAST, json={"start": LAST_FRIDAY_10}),
    # API-NOTES §7 does not list the unknown-uid case; the booking lookup fails as in §5.
    Row("reschedule-unknown-uid", "§5 (message)", "nothing", "POST", "/v2/bookings/NoSuchBookingUid000001/reschedule",
        404, "NotFoundException", BOOKING_NOT_FOUND.format(uid="NoSuchBookingUid000001"),
        json={"start": TOMORROW_11}),
    # §11 rate limit
    Row("rate-limited", "§11", "2 requests already made with the key (limit 2)", "GET", "/v2/bookings",
        429, "ThrottlerException", THROTTLED, config={"rate_limit": 2}, style="throttler", check=rate_limit_headers),
]
assert len({row.id for row in ROWS}) == len(ROWS), "row ids must be unique"


# -- running a row -------------------------------------------------------------------------------------------------
async def run(row: Row, make_sandbox: Callable[..., Sandbox]) -> tuple[httpx.Response, dict[str, str]]:
    """Set the row's state up, send its request; returns the response and the setup's values (uid, new_uid...)."""
    sandbox = make_sandbox(**row.config)
    spec_checked = SpecCheckingTransport(sandbox.transport())
    async with httpx.AsyncClient(base_url=ORIGIN, transport=spec_checked,
                                 headers={"Authorization": f"Bearer {SANDBOX_API_KEY}",
                                          "cal-api-version": "2024-08-13"}) as api:
        values = await SETUPS[row.setup](api)
    path = row.path.format(**values)
    headers: dict[str, str] = {}
    if row.key is not None:
        headers["Authorization"] = f"Bearer {row.key}"
    if row.version == DEFAULT_VERSION:
        headers["cal-api-version"] = VERSIONS.get(path, "2024-08-13")
    elif row.version is not None:
        headers["cal-api-version"] = row.version
    transport: httpx.AsyncBaseTransport = spec_checked if row.on_spec else sandbox.transport()
    async with httpx.AsyncClient(base_url=ORIGIN, transport=transport) as http:
        response = await http.request(row.method, path, headers=headers, params=row.params, json=row.json)
    if not row.on_spec:
        with pytest.raises(AssertionError):  # the row is off-spec on purpose: make sure it really is
            validate_request(response.request)
        validate_response(response.request, response)  # the §2 error envelope checker
    assert not spec_checked.failures, spec_checked.failures
    return response, values


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_cal_error(row: Row, make_sandbox: Callable[..., Sandbox]) -> None:
    response, values = await run(row, make_sandbox)
    payload = response.json()
    where = f"{row.id} ({row.source}): HTTP {response.status_code} {payload}"

    assert response.status_code == row.status, where
    assert response.headers["content-type"].startswith("application/json"), where
    assert response.headers.get("X-Request-Id"), f"{where}: no X-Request-Id header (API-NOTES §2)"
    # §2: {"status":"error","timestamp":…,"path":…,"error":{"code","message","details"}}
    assert set(payload) >= {"status", "timestamp", "path", "error"}, where
    assert payload["status"] == "error", where
    assert datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).tzinfo is not None, where
    assert payload["path"].split("?")[0] == response.request.url.path, where
    assert set(payload["error"]) >= {"code", "message", "details"}, where
    assert payload["error"]["code"] == row.code, where
    expected = row.message.format(**values)
    if row.regex:
        assert re.fullmatch(expected, payload["error"]["message"]), where
    else:
        assert payload["error"]["message"] == expected, where
    if row.check:
        row.check(response)


HTTP_STYLE = [row for row in ROWS if row.style == "http"]


@pytest.mark.parametrize("row", HTTP_STYLE, ids=[row.id for row in HTTP_STYLE])
async def test_http_exception_details(row: Row, make_sandbox: Callable[..., Sandbox]) -> None:
    """A NestJS HttpException built from a string: details is its getResponse(), {message, error, statusCode}."""
    response, _ = await run(row, make_sandbox)
    error = response.json()["error"]
    assert isinstance(error["details"], dict), error
    assert error["details"]["statusCode"] == response.status_code == row.status, error
    assert error["details"]["message"] == error["message"], error
    assert error["details"]["error"] == HTTPStatus(row.status).phrase, error
