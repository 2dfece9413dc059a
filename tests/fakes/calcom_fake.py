"""A small stateful Cal.com v2 behind respx, for executor tests.

It keeps bookings in memory and answers the endpoints calbot uses with Cal.com's shapes, status codes and messages
(API-NOTES §2–§10): availability from a Mon–Fri 09:00–17:00 host schedule (slots listed up to one year from now, as
Cal.com clamps them), taken slots, past starts, cancel twice, reschedule creating a new uid. Every request it receives
is recorded in `requests` so tests can assert exactly which writes reached the calendar. Tests that need a failure
queue one with `fail_next`.

Its event types are full EventTypeOutput_2024_06_14 objects with `minimumBookingNotice: 0`: the fake enforces no
minimum notice (only "not in the past") unless a test sets one (`require_notice`), nor a booking window unless a
test sets one (`limit_booking_window`). tests/fakes/sandbox_calcom.py offers the same helpers over the
sandbox calendar, configured to match (same host, event types, hours, clock and no minimum notice).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import respx

from calbot.calcom import CalcomClient
from tests.http.cal_payloads import OMIT, event_type_json

BASE_URL = "https://api.cal.com/v2"
API_KEY = "cal_test_fakekey123"
SLOT_TAKEN = "User either already has booking at this time or is not available"
OUT_OF_BOUNDS = (
    "The event type can't be booked at the \"start\" time provided. This could be because it's too soon (violating "
    "the minimum booking notice) or too far in the future (outside the event's scheduling window). Try fetching "
    "available slots first using the GET /v2/slots endpoint and then make a booking with \"start\" time equal to one "
    "of the available slots: https://cal.com/docs/api-reference/v2/slots")
MSG_SINGLE_LENGTH = ("Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
                     "Please, remove the 'lengthInMinutes' field from the request.")


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    code: str
    message: str
    exception: Exception | None = None
    after: bool = False


@dataclass
class FakeCalcom:
    now: datetime
    host_email: str = "host@example.com"
    host_name: str = "Hana Host"
    host_zone: str = "Europe/London"
    event_types: list[dict[str, Any]] = field(default_factory=list)
    bookings: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    work_hours: tuple[int, int] = (9, 17)
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    latency: float = 0.0  # seconds each answer takes (lets concurrent calls interleave)
    write_latency: float = 0.0  # extra seconds for POSTs
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        if not self.event_types:
            self.event_types = [self.event_type_output(1001, "30min", "30 Min Meeting", 30),
                                self.event_type_output(1002, "60min", "60 Min Meeting", 60)]

    def event_type_output(self, event_type_id: int, slug: str, title: str, minutes: int) -> dict[str, Any]:
        """A spec-complete EventTypeOutput_2024_06_14 owned by the fake's host (no minimum notice, one length)."""
        return event_type_json(
            id=event_type_id, slug=slug, title=title, lengthInMinutes=minutes, lengthInMinutesOptions=OMIT,
            description=f"A {minutes} minute meeting.", minimumBookingNotice=0, ownerId=1, users=["hana"],
            bookingUrl=f"https://cal.com/hana/{slug}", bookingFields=[
                {"type": "name", "slug": "name", "isDefault": True, "required": True},
                {"type": "email", "slug": "email", "isDefault": True, "required": True},
                {"type": "textarea", "slug": "notes", "isDefault": True, "required": False, "hidden": False},
                {"type": "multiemail", "slug": "guests", "isDefault": True, "required": False, "hidden": False},
            ])

    # -- test helpers ----------------------------------------------------------------------------------------------
    def add_booking(self, start: datetime, *, attendee_email: str, attendee_name: str = "Someone",
                    event_type_id: int = 1001, status: str = "accepted", minutes: int | None = None,
                    uid: str | None = None, title: str | None = None, host_email: str | None = None,
                    **extra: Any) -> dict[str, Any]:
        """Put a booking straight into the calendar (someone else's, cancelled, past, ...). `host_email` makes it a
        booking of another host of the account: listed, but it does not block this host's slots."""
        event_type = self._event_type(event_type_id)
        host_email = host_email or self.host_email
        minutes = minutes or event_type["lengthInMinutes"]
        number = next(self._ids)
        booking = {
            "id": number, "uid": uid or f"bk{number:04d}x", "title": title or f"{event_type['title']} between "
            f"{self.host_name} and {attendee_name}", "description": extra.pop("description", ""),
            "hosts": [{"id": 1, "name": self.host_name, "email": host_email, "displayEmail": host_email,
                       "username": "hana", "timeZone": self.host_zone}],
            "status": status, "start": iso(start), "end": iso(start + timedelta(minutes=minutes)),
            "duration": minutes, "eventTypeId": event_type_id,
            "eventType": {"id": event_type_id, "slug": event_type["slug"]},
            "location": "https://app.cal.com/video/" + (uid or f"bk{number:04d}x"), "absentHost": False,
            "createdAt": iso(self.now), "updatedAt": iso(self.now),
            "attendees": [{"name": attendee_name, "email": attendee_email, "displayEmail": attendee_email,
                           "timeZone": "UTC", "absent": False, "language": "en"}],
            "guests": extra.pop("guests", []), "bookingFieldsResponses": {}, "metadata": extra.pop("metadata", {}),
            **extra,
        }
        self.bookings.append(booking)
        return booking

    def fail_next(self, method: str, path: str, status: int = 500, code: str = "INTERNAL_SERVER_ERROR",
                  message: str = "Internal server error.", exception: Exception | None = None,
                  after: bool = False) -> None:
        """The next matching request fails: it raises `exception` (a transport error) or answers `status`.
        `after=True`: the request takes effect first and only its answer is lost."""
        self.faults.append(Fault(method, re.compile(path), status, code, message, exception, after))

    def edit(self, uid: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change a stored booking behind calbot's back (e.g. cancelled or handed over meanwhile)."""
        booking = self.booking(uid)
        change(booking)
        return booking

    def require_confirmation(self, event_type_id: int = 1001) -> None:
        """The event type requires the host's confirmation: new bookings start "pending" (API-NOTES §3)."""
        self._event_type(event_type_id)["confirmationPolicy"] = {"type": "always",
                                                                 "blockUnconfirmedBookingsInBooker": True}

    def allow_lengths(self, event_type_id: int, lengths: list[int]) -> None:
        """Give the event type several lengths ("multiple durations"): lengthInMinutes may then be one of them."""
        self._event_type(event_type_id)["lengthInMinutesOptions"] = list(lengths)

    def limit_booking_window(self, event_type_id: int, days: int) -> None:
        """The event type can be booked at most `days` calendar days ahead (Cal.com's bookingWindow, type
        calendarDays, not rolling): no slots after the end of that day (in the host's zone, as the sandbox counts
        it) and a create or reschedule there is refused with Cal.com's out-of-bounds message."""
        self._event_type(event_type_id)["bookingWindow"] = {"type": "calendarDays", "value": days, "rolling": False}

    def require_notice(self, event_type_id: int, minutes: int) -> None:
        """The event type needs `minutes` of notice (minimumBookingNotice): no slots sooner, a create sooner is
        refused with Cal.com's out-of-bounds message."""
        self._event_type(event_type_id)["minimumBookingNotice"] = minutes

    def _too_soon(self, event_type: dict[str, Any], start: datetime) -> bool:
        return start < self.now + timedelta(minutes=event_type.get("minimumBookingNotice") or 0)

    def _beyond_window(self, event_type: dict[str, Any], start: datetime) -> bool:
        window = event_type.get("bookingWindow") or {}
        if window.get("type") != "calendarDays":
            return False
        zone = ZoneInfo(self.host_zone)
        last_day = self.now.astimezone(zone).date() + timedelta(days=window["value"])
        return start >= datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)

    def client(self, api_key: str | None = None) -> CalcomClient:
        """A CalcomClient for this fake (only answered while `install()`ed on an active respx router)."""
        return CalcomClient(api_key or API_KEY, BASE_URL)

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests if r.method != "GET"]

    def booking(self, uid: str) -> dict[str, Any]:
        return next(b for b in self.bookings if b["uid"] == uid)

    def active(self) -> list[dict[str, Any]]:
        return [b for b in self.bookings if b["status"] in ("accepted", "pending")]

    # -- plumbing --------------------------------------------------------------------------------------------------
    def install(self, router: respx.MockRouter) -> None:
        router.route(url__startswith=BASE_URL).mock(side_effect=self._handle_async)

    async def _handle_async(self, request: httpx.Request) -> httpx.Response:
        delay = self.latency + (self.write_latency if request.method == "POST" else 0.0)
        if delay:
            await asyncio.sleep(delay)
        return self.handle(request)

    def _event_type(self, event_type_id: int) -> dict[str, Any]:
        return next(e for e in self.event_types if e["id"] == event_type_id)

    def _find_event_type(self, event_type_id: Any) -> dict[str, Any] | None:
        return next((e for e in self.event_types if e["id"] == event_type_id), None)

    def _ok(self, data: Any, status: int = 200, **extra: Any) -> httpx.Response:
        return httpx.Response(status, json={"status": "success", "data": data, **extra})

    def _error(self, request: httpx.Request, status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, headers={"X-Request-Id": "req-test"}, json={
            "status": "error", "timestamp": iso(self.now), "path": request.url.path,
            "error": {"code": code, "message": message, "details": {"message": message, "statusCode": status}}})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fault = next((f for f in self.faults
                      if f.method == request.method and f.path.search(request.url.path)), None)
        if fault is None:
            return self._route(request)
        self.faults.remove(fault)
        if fault.after:
            self._route(request)  # the request takes effect; only its answer is lost
        if fault.exception is not None:
            raise fault.exception
        return self._error(request, fault.status, fault.code, fault.message)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v2")
        sent = request.headers.get("authorization")
        # GET /v2/slots has no auth guard on Cal.com; elsewhere a key that is sent must be valid.
        if path != "/slots" and sent is not None and sent != f"Bearer {API_KEY}":
            return self._error(request, 401, "UnauthorizedException", "Your api key is not valid")
        if path in ("/me", "/bookings") and request.method == "GET" and sent is None:
            return self._error(request, 401, "UnauthorizedException", "No authentication method provided. Either "
                               "pass an API key as 'Bearer' header or OAuth client credentials as 'x-cal-secret-key' "
                               "and 'x-cal-client-id' headers")
        version = request.headers.get("cal-api-version")
        routes = [
            ("GET", r"^/me$", None, self._me),
            ("GET", r"^/event-types$", "2024-06-14", self._event_types),
            ("GET", r"^/slots$", "2024-09-04", self._slots),
            ("GET", r"^/bookings$", "2024-08-13", self._list),
            ("POST", r"^/bookings$", "2024-08-13", self._create),
            ("GET", r"^/bookings/([\w-]+)$", "2024-08-13", self._get),
            ("POST", r"^/bookings/([\w-]+)/cancel$", "2024-08-13", self._cancel),
            ("POST", r"^/bookings/([\w-]+)/reschedule$", "2024-08-13", self._reschedule),
        ]
        for method, pattern, wanted_version, handler in routes:
            match = re.match(pattern, path)
            if match and method == request.method:
                if wanted_version and version != wanted_version:
                    return self._error(request, 404, "NotFoundException", f"Cannot {method} {request.url.path}")
                return handler(request, *match.groups())
        return self._error(request, 404, "NotFoundException", f"Cannot {request.method} {request.url.path}")

    # -- endpoints -------------------------------------------------------------------------------------------------
    def _me(self, request: httpx.Request) -> httpx.Response:
        return self._ok({"id": 1, "username": "hana", "email": self.host_email, "name": self.host_name,
                         "avatarUrl": None, "bio": None, "timeFormat": 24, "defaultScheduleId": 1,
                         "weekStart": "Monday", "timeZone": self.host_zone, "organizationId": None})

    def _event_types(self, request: httpx.Request) -> httpx.Response:
        return self._ok(self.event_types)

    def _free(self, start: datetime, end: datetime, minutes: int, ignore_uid: str | None = None) -> bool:
        zone = ZoneInfo(self.host_zone)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        if local_start.weekday() not in self.work_days or local_start.date() != (local_end - timedelta(
                microseconds=1)).date():
            return False
        opens = datetime.combine(local_start.date(), time(self.work_hours[0]), tzinfo=zone)
        closes = datetime.combine(local_start.date(), time(self.work_hours[1]), tzinfo=zone)
        if local_start < opens or local_end > closes or start < self.now:
            return False
        return not any(parse(b["start"]) < end and parse(b["end"]) > start
                       for b in self.active() if b["uid"] != ignore_uid
                       and any(h["email"] == self.host_email for h in b["hosts"]))

    def _slots(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        event_type = self._event_type(int(q["eventTypeId"]))
        minutes = int(q.get("duration") or event_type["lengthInMinutes"])
        zone = ZoneInfo(q.get("timeZone") or "UTC")
        start, end = parse(q["start"]), min(parse(q["end"]), one_year_after(self.now))  # Cal.com's clamp
        cursor = start.replace(minute=0, second=0, microsecond=0)
        data: dict[str, list[dict[str, str]]] = {}
        while cursor <= end:
            slot_end = cursor + timedelta(minutes=minutes)
            if (cursor >= start and not self._beyond_window(event_type, cursor)
                    and not self._too_soon(event_type, cursor)
                    and self._free(cursor, slot_end, minutes, q.get("bookingUidToReschedule"))):
                local = cursor.astimezone(zone)
                item = {"start": local.isoformat(timespec="milliseconds")}
                if q.get("format") == "range":
                    item["end"] = slot_end.astimezone(zone).isoformat(timespec="milliseconds")
                data.setdefault(local.date().isoformat(), []).append(item)
            cursor += timedelta(minutes=minutes)
        return self._ok(data)

    def _list(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        items = list(self.bookings)
        statuses = [s.strip() for s in (q.get("status") or "").split(",") if s.strip()]
        if statuses:  # a comma list: a booking matching any of them (API-NOTES §4)
            items = [b for b in items if any(self._status_matches(b, s) for s in statuses)]
        event_type_ids = {int(i) for i in (q.get("eventTypeId") or q.get("eventTypeIds") or "").split(",") if i}
        if event_type_ids:
            items = [b for b in items if b["eventTypeId"] in event_type_ids]
        if q.get("attendeeEmail"):
            items = [b for b in items if any(a["email"].lower() == q["attendeeEmail"].lower()
                                             for a in b["attendees"])]
        if q.get("afterStart"):
            items = [b for b in items if parse(b["start"]) >= parse(q["afterStart"])]
        if q.get("beforeEnd"):
            items = [b for b in items if parse(b["end"]) <= parse(q["beforeEnd"])]
        items.sort(key=lambda b: b["start"], reverse=q.get("sortStart") == "desc")
        take, skip = int(q.get("take", 100)), int(q.get("skip", 0))
        page = items[skip: skip + take]
        total = len(items)
        return self._ok(page, pagination={
            "totalItems": total, "remainingItems": max(0, total - skip - len(page)), "returnedItems": len(page),
            "itemsPerPage": take, "currentPage": skip // take + 1, "totalPages": -(-total // take),
            "hasNextPage": skip + len(page) < total, "hasPreviousPage": skip > 0})

    def _status_matches(self, booking: dict[str, Any], status: str) -> bool:
        end, state = parse(booking["end"]), booking["status"]
        if status == "upcoming":
            return end >= self.now and state in ("accepted", "pending")
        if status == "unconfirmed":
            return end >= self.now and state == "pending"
        if status == "past":
            return end < self.now and state not in ("cancelled", "rejected")
        if status == "cancelled":
            return state in ("cancelled", "rejected")
        return status == "recurring" and "recurringBookingUid" in booking

    def _find(self, uid: str) -> dict[str, Any] | None:
        return next((b for b in self.bookings if b["uid"] == uid), None)

    def _not_found(self, request: httpx.Request, uid: str) -> httpx.Response:
        return self._error(request, 404, "NotFoundException", f"Booking with uid={uid} was not found in the database")

    def _get(self, request: httpx.Request, uid: str) -> httpx.Response:
        booking = self._find(uid)
        if booking is None:
            return self._not_found(request, uid)
        return self._ok(booking)

    def _create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        start = parse(body["start"])
        event_type = self._find_event_type(body["eventTypeId"])
        if event_type is None:
            return self._error(request, 404, "NotFoundException",
                               f"Event type with id {body['eventTypeId']} not found.")
        options = event_type.get("lengthInMinutesOptions") or []
        if body.get("lengthInMinutes") is not None and not options:
            return self._error(request, 400, "BadRequestException", MSG_SINGLE_LENGTH)
        if body.get("lengthInMinutes") is not None and body["lengthInMinutes"] not in options:
            return self._error(request, 400, "BadRequestException", "Provided 'lengthInMinutes' is not one of the "
                               "possible lengths for the event type. The possible lengths are: "
                               + ", ".join(map(str, options)))
        minutes = body.get("lengthInMinutes") or event_type["lengthInMinutes"]
        if start < self.now:
            return self._error(request, 400, "BadRequestException", "Attempting to book a meeting in the past.")
        if self._beyond_window(event_type, start) or self._too_soon(event_type, start):
            return self._error(request, 400, "BadRequestException", OUT_OF_BOUNDS)
        if not self._free(start, start + timedelta(minutes=minutes), minutes):
            return self._error(request, 400, "BadRequestException", SLOT_TAKEN)
        attendee = body["attendee"]
        guests = body.get("guests", [])
        responses = {"name": attendee["name"], "email": attendee["email"], **({"guests": guests} if guests else {}),
                     **(body.get("bookingFieldsResponses") or {})}  # Cal.com echoes every response
        booking = self.add_booking(
            start, attendee_email=attendee["email"], attendee_name=attendee["name"],
            event_type_id=body["eventTypeId"], minutes=minutes, guests=guests, bookingFieldsResponses=responses,
            description=(body.get("bookingFieldsResponses") or {}).get("notes", ""),
            metadata=body.get("metadata", {}), status="pending" if "confirmationPolicy" in event_type else "accepted")
        booking["attendees"][0]["timeZone"] = attendee["timeZone"]
        booking["attendees"] += [{"name": "", "email": g, "displayEmail": g, "timeZone": attendee["timeZone"],
                                  "absent": False, "language": "en"} for g in guests]  # guests are attendees too
        return self._ok(booking, 201)

    def _cancel(self, request: httpx.Request, uid: str) -> httpx.Response:
        booking = self._find(uid)
        if booking is None:
            return self._not_found(request, uid)
        if booking["status"] in ("cancelled", "rejected"):
            return self._error(request, 400, "BadRequestException",
                               f"Can't cancel booking with uid={uid} because it has been cancelled already. "
                               "Please provide uid of a booking that is not cancelled.")
        body = json.loads(request.content)
        booking["status"] = "cancelled"
        if body.get("cancellationReason"):
            booking["cancellationReason"] = body["cancellationReason"]
        return self._ok(booking)

    def _reschedule(self, request: httpx.Request, uid: str) -> httpx.Response:
        old = self._find(uid)
        if old is None:
            return self._not_found(request, uid)
        if old["status"] == "cancelled" and old.get("rescheduledToUid"):
            moved = old["rescheduledToUid"]
            return self._error(request, 400, "BadRequestException",
                               f"Can't reschedule booking with uid={uid} because it has been cancelled and "
                               f"rescheduled already to booking with uid={moved}. You probably want to reschedule "
                               f"{moved} instead by passing it within the request URL.")
        if old["status"] == "cancelled":
            return self._error(request, 400, "BadRequestException",
                               f"Can't reschedule booking with uid={uid} because it has been cancelled. Please "
                               "provide uid of a booking that is not cancelled.")
        body = json.loads(request.content)
        start = parse(body["start"])
        event_type = self._event_type(old["eventType"]["id"])
        minutes = event_type["lengthInMinutes"]
        if start < self.now:
            return self._error(request, 400, "BadRequestException", "Attempting to book a meeting in the past.")
        if self._beyond_window(event_type, start) or self._too_soon(event_type, start):
            return self._error(request, 400, "BadRequestException", OUT_OF_BOUNDS)
        if not self._free(start, start + timedelta(minutes=minutes), minutes, ignore_uid=uid):
            return self._error(request, 400, "BadRequestException", SLOT_TAKEN)
        attendee = old["attendees"][0]
        new = self.add_booking(start, attendee_email=attendee["email"], attendee_name=attendee["name"],
                               event_type_id=event_type["id"], minutes=minutes, guests=old["guests"],
                               description=old["description"], rescheduledFromUid=uid,
                               bookingFieldsResponses=dict(old.get("bookingFieldsResponses") or {}),
                               metadata=dict(old.get("metadata") or {}),
                               status=self._rescheduled_status(event_type, body.get("rescheduledBy")))
        new["attendees"] = [dict(a) for a in old["attendees"]]  # every attendee (and their zone) carries over
        old["status"] = "cancelled"
        old["rescheduledToUid"] = new["uid"]
        return self._ok(new, 201)


    def _rescheduled_status(self, event_type: dict[str, Any], rescheduled_by: str | None) -> str:
        """API-NOTES §7: moved by the host → accepted; by anyone else on a confirm-first type → pending."""
        by_host = (rescheduled_by or "").lower() == self.host_email.lower()
        return "pending" if "confirmationPolicy" in event_type and not by_host else "accepted"


def one_year_after(now: datetime) -> datetime:
    """How far Cal.com lists slots: its getSchedule input clamps `endTime` to dayjs().add(1, "year") (the same day and
    time next year; 29 February becomes 28 February)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, day=28)


def at(day: date, hh: int, mm: int = 0, zone: str = "Europe/London") -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(zone)).astimezone(UTC)
