"""Realistic Cal.com API v2 payloads for tests (all pass tests.openapi_spec.validate_response).

Every builder returns a fresh dict/list (safe to mutate). `**overrides` replace top-level keys; pass the `OMIT`
sentinel to drop a key (e.g. `booking_json(location=OMIT)`), since None would send an explicit null.

    envelope(data)                                  {"status":"success","data":data}
    paginated(data, take, skip, total)              list envelope with the §4 pagination object
    pagination(take, skip, total, returned=None)    the pagination object alone
    error_envelope(status, code, message, path)     §2 error envelope (details included)
    booking_json(**overrides)                       BookingOutput_2024_08_13
    recurring_booking_json(recurring_uid, **o)      RecurringBookingOutput_2024_08_13
    recurring_series_json(recurring_uid, n, **o)    a list of n weekly recurrences
    seated_booking_json(**overrides)                GetSeatedBookingOutput_2024_08_13 (attendees with seatUid)
    host_json / attendee_json / seated_attendee_json(**overrides)
    event_type_json(**overrides)                    EventTypeOutput_2024_06_14
    me_json(**overrides)                            MeOutput
    slots_json({"YYYY-MM-DD": [(start, end|None), ...]})   the GET /v2/slots envelope (format=range items)
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "OMIT", "API_KEY", "BASE_URL", "attendee_json", "booking_json", "envelope", "error_envelope", "event_type_json",
    "host_json", "me_json", "paginated", "pagination", "recurring_booking_json", "recurring_series_json",
    "seated_attendee_json", "seated_booking_json", "slots_json",
]

API_KEY = "cal_test_x"
BASE_URL = "https://api.cal.com/v2"


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()


def _apply(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is OMIT:
            base.pop(key, None)
        else:
            base[key] = value
    return base


# -- envelopes -----------------------------------------------------------------------------------------------------
def envelope(data: Any) -> dict[str, Any]:
    """The success envelope: {"status": "success", "data": data}."""
    return {"status": "success", "data": data}


def pagination(take: int, skip: int, total: int, returned: int | None = None) -> dict[str, Any]:
    """PaginationMetaDto (API-NOTES §4) for a page of `returned` items (default: what the page would hold)."""
    if take < 1:
        raise ValueError("take must be >= 1")
    if returned is None:
        returned = max(0, min(take, total - skip))
    return {
        "totalItems": total,
        "remainingItems": max(0, total - skip - returned),
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": math.ceil(total / take),
        "hasNextPage": skip + returned < total,
        "hasPreviousPage": skip > 0,
    }


def paginated(data: list[Any], take: int, skip: int, total: int) -> dict[str, Any]:
    """The GET /v2/bookings envelope: {"status":"success","data":data,"pagination":{...}}."""
    return {"status": "success", "data": data, "pagination": pagination(take, skip, total, returned=len(data))}


_ERROR_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
                422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
                502: "Bad Gateway", 503: "Service Unavailable"}


def error_envelope(status: int, code: str, message: str, path: str = "/v2/bookings", *,
                   timestamp: str = "2026-03-01T10:00:00.000Z", details: Any = OMIT) -> dict[str, Any]:
    """The error envelope of API-NOTES §2; `details` defaults to the NestJS getResponse() shape."""
    if details is OMIT:
        details = {"message": message, "error": _ERROR_NAMES.get(status, "Error"), "statusCode": status}
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"status": "error", "timestamp": timestamp, "path": path, "error": error}


# -- bookings ------------------------------------------------------------------------------------------------------
def host_json(**overrides: Any) -> dict[str, Any]:
    return _apply({"id": 7, "name": "Hana Host", "email": "hana@example.com", "displayEmail": "hana@example.com",
                   "username": "hana", "timeZone": "Europe/Berlin"}, overrides)


def attendee_json(**overrides: Any) -> dict[str, Any]:
    return _apply({"name": "Ana Diaz", "email": "ana@example.com", "displayEmail": "ana@example.com",
                   "timeZone": "Europe/Madrid", "language": "es", "absent": False}, overrides)


def seated_attendee_json(**overrides: Any) -> dict[str, Any]:
    return _apply({**attendee_json(), "seatUid": "seat_8f3k2LmN", "bookingFieldsResponses": {
        "name": "Ana Diaz", "email": "ana@example.com"}, "metadata": {}}, overrides)


def booking_json(**overrides: Any) -> dict[str, Any]:
    """A BookingOutput_2024_08_13 with every required field: a 30-minute accepted booking on 7 Sep 2026."""
    uid = overrides.get("uid", "bk_3Xq9AbCdEf12")
    base = {
        "id": 1001,
        "uid": uid,
        "title": "Intro call between Hana Host and Ana Diaz",
        "description": "Intro call",
        "hosts": [host_json()],
        "status": "accepted",
        "start": "2026-09-07T09:00:00.000Z",
        "end": "2026-09-07T09:30:00.000Z",
        "duration": 30,
        "eventTypeId": 123,
        "eventType": {"id": 123, "slug": "intro-call"},
        "meetingUrl": f"https://app.cal.com/video/{uid}",
        "location": f"https://app.cal.com/video/{uid}",
        "absentHost": False,
        "createdAt": "2026-09-01T08:00:00.000Z",
        "updatedAt": "2026-09-01T08:00:00.000Z",
        "metadata": {"source": "calbot"},
        "icsUid": f"{uid}@Cal.com",
        "attendees": [attendee_json()],
        "guests": ["bob@example.com"],
        "bookingFieldsResponses": {"name": "Ana Diaz", "email": "ana@example.com", "notes": "Intro call",
                                   "guests": ["bob@example.com"]},
    }
    return _apply(base, overrides)


def recurring_booking_json(recurring_uid: str = "rec_Series42", **overrides: Any) -> dict[str, Any]:
    """One recurrence of a series (RecurringBookingOutput_2024_08_13)."""
    return booking_json(**{"recurringBookingUid": recurring_uid, **overrides})


def recurring_series_json(recurring_uid: str = "rec_Series42", count: int = 3, **overrides: Any) -> list[dict]:
    """`count` weekly recurrences (Mondays 09:00Z from 7 Sep 2026), uids `<recurring_uid>_<n>`."""
    days = ["2026-09-07", "2026-09-14", "2026-09-21", "2026-09-28", "2026-10-05", "2026-10-12"]
    if count > len(days):
        raise ValueError(f"at most {len(days)} recurrences")
    return [recurring_booking_json(recurring_uid, **{
        "id": 2000 + n, "uid": f"{recurring_uid}_{n}", "start": f"{days[n]}T09:00:00.000Z",
        "end": f"{days[n]}T09:30:00.000Z", **overrides}) for n in range(count)]


def seated_booking_json(**overrides: Any) -> dict[str, Any]:
    """A seated booking as GET/list return it (GetSeatedBookingOutput_2024_08_13: attendees carry seatUid)."""
    base = booking_json(uid="bk_Seated77", id=3001, title="Workshop", eventType={"id": 456, "slug": "workshop"},
                        eventTypeId=456, duration=60, end="2026-09-07T10:00:00.000Z",
                        attendees=[seated_attendee_json(),
                                   seated_attendee_json(name="Ben Ode", email="ben@example.com",
                                                        displayEmail="ben@example.com", seatUid="seat_Z9y8X7w6",
                                                        language="en", timeZone="Europe/London")])
    base.pop("bookingFieldsResponses")  # lives on each seat in seated outputs
    base.pop("guests")
    return _apply(base, overrides)


# -- event types, me, slots ----------------------------------------------------------------------------------------
def event_type_json(**overrides: Any) -> dict[str, Any]:
    """An EventTypeOutput_2024_06_14 (every required field) for the 30-minute 'intro-call' event type."""
    base = {
        "id": 123,
        "lengthInMinutes": 30,
        "lengthInMinutesOptions": [15, 30, 60],
        "title": "Intro call",
        "slug": "intro-call",
        "description": "A short introduction",
        "locations": [{"type": "integration", "integration": "cal-video"}],
        "bookingFields": [
            {"type": "name", "label": "Your name", "placeholder": "", "isDefault": True, "slug": "name",
             "required": True, "disableOnPrefill": False},
            {"type": "email", "label": "Email address", "placeholder": "", "isDefault": True, "slug": "email",
             "required": True, "hidden": False},
            {"type": "textarea", "slug": "agenda", "label": "Agenda", "required": True, "placeholder": "",
             "hidden": False, "isDefault": False},
        ],
        "disableGuests": False,
        "slotInterval": None,
        "minimumBookingNotice": 120,
        "beforeEventBuffer": 0,
        "afterEventBuffer": 0,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "usd",
        "lockTimeZoneToggleOnBookingPage": False,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": None,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "seatsShowAvailabilityCount": None,
        "scheduleId": None,
        "hidden": False,
        "bookingRequiresAuthentication": False,
        "ownerId": 7,
        "users": ["hana"],
        "bookingUrl": "https://cal.com/hana/intro-call",
    }
    return _apply(base, overrides)


def me_json(**overrides: Any) -> dict[str, Any]:
    """MeOutput for the key owner (Hana, Europe/Berlin, 24h clock, no organization)."""
    return _apply({
        "id": 7,
        "username": "hana",
        "email": "hana@example.com",
        "name": "Hana Host",
        "avatarUrl": None,
        "bio": None,
        "timeFormat": 24,
        "defaultScheduleId": 11,
        "weekStart": "Monday",
        "timeZone": "Europe/Berlin",
        "organizationId": None,
    }, overrides)


def slots_json(days: dict[str, list[tuple[str, str | None]]]) -> dict[str, Any]:
    """GET /v2/slots envelope from {"2050-09-05": [("2050-09-05T09:00:00.000+02:00", end or None), ...]}."""
    return envelope({day: [{"start": start, **({"end": end} if end else {})} for start, end in slots]
                     for day, slots in days.items()})
