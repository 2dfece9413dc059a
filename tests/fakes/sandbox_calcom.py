"""The Cal.com the tests talk to: calbot's sandbox calendar (calbot.sandbox) in process, with test helpers.

    fake = SandboxCalcom(now=NOW)          # an in-memory sandbox, its clock reading fake.now
    async with fake.client() as client:    # CalcomClient -> request recorder -> SpecCheckingTransport -> ASGI app
        ...
    fake.close()                           # and check fake.spec_failures (open_sandbox does both)

The sandbox is the only Cal.com emulator of the project; here it is configured for the tests (fake_like_config): host
host@example.com ("Hana Host", username hana, Europe/London), event types 1001 "30 Min Meeting" (30 min) and 1002 "60
Min Meeting" (60 min), Mon-Fri 09:00-17:00 in the host's zone, meeting links under https://app.cal.com. Both event
types set `minimum_notice_minutes=0` (Cal.com's default is two hours), so a test at 08:00 can book 09:00.

Helpers: `add_booking` (inserted straight into the store, so tests can seed other people's, cancelled, past or other
hosts' bookings), `book` (through the sandbox's own rules: seats, recurrences), `add_event_type`, `edit(uid, change)`,
`booking(uid)`, `bookings`, `active()`, `requests` (the httpx.Request objects in order, recorded before they are
answered), `writes()`, `latency`/`write_latency`, `fail_next` (an error status or a dropped connection through the
sandbox's fault hooks; other transport errors such as a ReadTimeout on the client's side of it), `answer_next` (a
hand-made answer: what a respx route in the test would give), `require_confirmation`, `allow_lengths`,
`limit_booking_window`, `require_notice`, `client(api_key)`, and `at(day, hh, mm)` for the host's wall times. Every
exchange is checked against Cal.com's OpenAPI document; mismatches collect in `spec_failures`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from calbot.calcom import CalcomClient
from calbot.sandbox import (
    EMBEDDED_BASE_URL,
    SANDBOX_API_KEY,
    FaultSpec,
    Sandbox,
    SandboxConfig,
    SandboxEventType,
    SandboxHost,
    WeeklySchedule,
)
from calbot.sandbox.service import NewBooking, new_uid
from tests.sandbox.conftest import SpecCheckingTransport

BASE_URL = EMBEDDED_BASE_URL
API_KEY = SANDBOX_API_KEY
OTHER_HOST_ID = 2  # bookings of another host of the account: listed, but they do not block this host's slots


def fake_like_config(*, host_email: str = "host@example.com", host_name: str = "Hana Host",
                     host_zone: str = "Europe/London") -> SandboxConfig:
    """The tests' Cal.com account (see the module docstring)."""
    return SandboxConfig(
        host=SandboxHost(id=1, username="hana", email=host_email, name=host_name, time_zone=host_zone),
        schedule=WeeklySchedule(),  # Mon-Fri 09:00-17:00
        event_types=(
            # minimum_notice_minutes=0: no minimum notice (Cal.com's default would be 120).
            SandboxEventType(1001, "30min", "30 Min Meeting", 30, description="A 30 minute meeting.",
                             minimum_notice_minutes=0),
            SandboxEventType(1002, "60min", "60 Min Meeting", 60, description="A 60 minute meeting.",
                             minimum_notice_minutes=0),
        ),
        rate_limit=0, test_hooks=True, public_url="https://app.cal.com")


@dataclass
class _Canned:
    """The next request matching `method` and `path` (a regex searched in the URL path) gets `answer` without
    reaching the sandbox, or raises it (an exception); `after`: the sandbox answers it first, then the answer is lost
    and `answer` (an exception) is raised instead."""

    method: str
    path: re.Pattern[str]
    answer: httpx.Response | Exception
    after: bool = False

    def matches(self, request: httpx.Request) -> bool:
        return self.method == request.method and bool(self.path.search(request.url.path))


class _Recorder(httpx.AsyncBaseTransport):
    """Records each request (before it is answered), adds the configured latency and plays canned answers: what a
    respx route written in the test would do, on the client's side of the sandbox."""

    def __init__(self, owner: SandboxCalcom, inner: httpx.AsyncBaseTransport) -> None:
        self.owner = owner
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.owner.requests.append(request)
        delay = self.owner.latency + (self.owner.write_latency if request.method == "POST" else 0.0)
        if delay:
            await asyncio.sleep(delay)
        canned = next((c for c in self.owner.canned if c.matches(request)), None)
        if canned is None:
            return await self.inner.handle_async_request(request)
        self.owner.canned.remove(canned)
        if canned.after:
            await (await self.inner.handle_async_request(request)).aread()  # it took effect; the answer is lost
        if isinstance(canned.answer, Exception):
            raise canned.answer
        return httpx.Response(canned.answer.status_code, headers=canned.answer.headers,
                              content=canned.answer.content, request=request)


class SandboxCalcom:
    base_url = BASE_URL
    api_key = API_KEY

    def __init__(self, now: datetime, *, config: SandboxConfig | None = None, db: str = ":memory:") -> None:
        self.now = now
        self.requests: list[httpx.Request] = []
        self.canned: list[_Canned] = []
        self.latency = 0.0  # seconds each answer takes (lets concurrent calls interleave)
        self.write_latency = 0.0  # extra seconds for POSTs
        self.sandbox = Sandbox(config or fake_like_config(), db, clock=lambda: self.now)
        self.spec = SpecCheckingTransport(self.sandbox.transport())

    # -- plumbing --------------------------------------------------------------------------------------------------
    @property
    def calendar(self):  # noqa: ANN201 - SandboxCalendar
        return self.sandbox.calendar

    @property
    def store(self):  # noqa: ANN201 - BookingStore
        return self.sandbox.store

    @property
    def spec_failures(self) -> list[str]:
        return self.spec.failures

    def transport(self) -> httpx.AsyncBaseTransport:
        return _Recorder(self, self.spec)

    def client(self, api_key: str | None = None) -> CalcomClient:
        return CalcomClient(api_key or API_KEY, BASE_URL, transport=self.transport())

    def close(self) -> None:
        self.sandbox.close()

    def _reconfigure(self, event_type_id: int, **changes: Any) -> None:
        """Change one event type of the running sandbox (its config is frozen, so swap it everywhere it is held)."""
        config = self.sandbox.config
        if config.event_type(event_type_id) is None:
            raise KeyError(event_type_id)
        self._set_config(replace(config, event_types=tuple(replace(et, **changes) if et.id == event_type_id else et
                                                            for et in config.event_types)))

    def _set_config(self, config: SandboxConfig) -> None:
        """The sandbox's config is frozen, so swap it everywhere it is held."""
        self.sandbox.config = self.sandbox.calendar.config = self.sandbox.server.config = config

    # -- test helpers ----------------------------------------------------------------------------------------------
    def add_booking(self, start: datetime, *, attendee_email: str, attendee_name: str = "Someone",
                    event_type_id: int = 1001, status: str = "accepted", minutes: int | None = None,
                    uid: str | None = None, title: str | None = None, host_email: str | None = None,
                    **extra: Any) -> dict[str, Any]:
        """Insert a booking straight into the sandbox's store, in the sandbox's own output shape."""
        calendar = self.sandbox.calendar
        et = calendar.event_type(event_type_id)
        guests = list(extra.pop("guests", []))
        description = extra.pop("description", "")
        metadata = dict(extra.pop("metadata", {}))
        attendee = {"name": attendee_name, "email": attendee_email, "displayEmail": attendee_email,
                    "timeZone": "UTC", "language": "en", "absent": False}
        with self.store.write():
            booking = calendar.booking_output(
                number=self.store.next_id(), uid=uid or new_uid(), et=et, start=start.astimezone(UTC),
                length=minutes or et.length, status=status, attendee=attendee, guests=guests,
                responses={"name": attendee_name, "email": attendee_email}, metadata=metadata, **extra)
            booking["description"] = description
            if title:
                booking["title"] = title
            host_id = self.sandbox.config.host.id
            if host_email and host_email.lower() != self.sandbox.config.host.email.lower():
                host_id = OTHER_HOST_ID
                booking["hosts"] = [{**booking["hosts"][0], "id": host_id, "email": host_email,
                                     "displayEmail": host_email, "name": host_email.split("@")[0].title()}]
            self.store.insert(booking, host_id)
        return booking

    def edit(self, uid: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change a stored booking behind calbot's back (e.g. cancelled or handed over meanwhile)."""
        with self.store.write():
            booking = self.booking(uid)
            change(booking)
            self.store.update(booking)
        return booking

    def booking(self, uid: str) -> dict[str, Any]:
        booking = self.store.get(uid)
        if booking is None:
            raise KeyError(uid)
        return booking

    @property
    def bookings(self) -> list[dict[str, Any]]:
        return self.store.all()

    def active(self) -> list[dict[str, Any]]:
        return [b for b in self.store.all() if b["status"] in ("accepted", "pending")]

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests if r.method != "GET"]

    def fail_next(self, method: str, path: str, status: int = 500, code: str = "INTERNAL_SERVER_ERROR",
                  message: str = "Internal server error.", exception: Exception | None = None,
                  after: bool = False) -> None:
        """The next matching request fails. An error status and a dropped connection (httpx.RemoteProtocolError, as
        uvicorn closing the socket) are the sandbox's own fault hook; `code` is not settable there: the sandbox
        answers the NestJS name for `status` (or INTERNAL_SERVER_ERROR for a plain 500). Any other transport error
        (httpx.ReadTimeout, ConnectError...) is raised on the client's side of the sandbox, as a socket would:
        httpx.ASGITransport has no timeouts. `after=True`: the request takes effect first, only its answer is lost."""
        if exception is not None and not isinstance(exception, httpx.RemoteProtocolError):
            self.canned.append(_Canned(method, re.compile(path), exception, after))
            return
        if exception is not None:
            spec = FaultSpec(method=method, path=path, drop=True, after=after)
        else:
            is_default_500 = status == 500 and message == "Internal server error."
            spec = FaultSpec(method=method, path=path, status=status, after=after,
                             message=None if is_default_500 else message)
        self.sandbox.server.add_fault(spec)

    def answer_next(self, method: str, path: str, answer: httpx.Response | Exception, times: int = 1) -> None:
        """The next `times` matching requests get exactly `answer` (headers and all; or raise it), hand-made in the
        test (a 429 with a short reset, an HTML page...), without reaching the sandbox."""
        self.canned.extend(_Canned(method, re.compile(path), answer) for _ in range(times))

    def add_event_type(self, event_type: SandboxEventType) -> None:
        """Offer one more event type (a seated or recurring one, say) next to 1001 and 1002."""
        self._set_config(replace(self.sandbox.config, event_types=(*self.sandbox.config.event_types, event_type)))

    def book(self, event_type_id: int, start: datetime, email: str, name: str = "Someone",
             **options: Any) -> Any:
        """Book through the sandbox's own rules (seats, recurrences: `recurrence_count=`), as a booker on Cal.com's
        page would; returns the booking, with `seatUid` on a seated event type, or a recurring series' array."""
        return self.calendar.create(NewBooking(start=start, event_type_id=event_type_id, attendee_name=name,
                                               attendee_email=email, attendee_time_zone="Europe/London", **options))

    def require_confirmation(self, event_type_id: int = 1001) -> None:
        """The event type requires the host's confirmation: new bookings start "pending" (API-NOTES §3)."""
        self._reconfigure(event_type_id, requires_confirmation=True)

    def limit_booking_window(self, event_type_id: int, days: int) -> None:
        """The event type can be booked at most `days` calendar days ahead (bookingWindow calendarDays, not
        rolling): no slots after the end of that day in the host's zone, a later start refused as out of bounds."""
        self._reconfigure(event_type_id, booking_window_days=days)

    def require_notice(self, event_type_id: int, minutes: int) -> None:
        """The event type needs `minutes` of notice (minimumBookingNotice): no slots sooner, a sooner start refused."""
        self._reconfigure(event_type_id, minimum_notice_minutes=minutes)

    def allow_lengths(self, event_type_id: int, lengths: list[int]) -> None:
        """Give the event type several lengths ("multiple durations"): lengthInMinutes may then be one of them."""
        self._reconfigure(event_type_id, length_options=tuple(lengths))


def open_sandbox(now: datetime, config: SandboxConfig | None = None) -> Iterator[SandboxCalcom]:
    """The generator body of a `fake` fixture: a SandboxCalcom, closed at the end; the test fails if any exchange did
    not match the Cal.com OpenAPI document."""
    sandbox = SandboxCalcom(now, config=config)
    try:
        yield sandbox
    finally:
        sandbox.close()
    if sandbox.spec_failures:
        pytest.fail(f"{len(sandbox.spec_failures)} exchange(s) did not match the Cal.com OpenAPI document:\n\n"
                    + "\n\n".join(sandbox.spec_failures), pytrace=False)


def at(day: date, hh: int, mm: int = 0, zone: str = "Europe/London") -> datetime:
    """A wall time (the host's zone unless `zone` says otherwise) as a UTC instant."""
    return datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(zone)).astimezone(UTC)
