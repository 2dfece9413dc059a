"""The standalone sandbox (`python -m calbot.sandbox`) over real HTTP on 127.0.0.1.

The server runs on the real clock, so every time here is computed from today: the next working day at least three days
ahead, at 10:00 in the host's zone. Most tests share one server (`server`: --test-hooks --rate-limit 0, reset through
POST /_sandbox/reset before each test); tests that stop it, restart it or need a second process on its file use the
`standalone` fixture or start their own.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from calbot.calcom import (
    AuthenticationError,
    BadRequestError,
    CalcomClient,
    CalcomNetworkError,
    CalcomTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SlotUnavailableError,
)
from calbot.calcom.models import CreateBookingRequest, NewAttendee, RescheduleRequest
from calbot.sandbox import SANDBOX_API_KEY
from tests.sandbox.conftest import ROOT, SpecCheckingTransport, StandaloneSandbox, free_port, start_standalone

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
THIRTY_MIN = 1001  # the sandbox's default 30 minute event type
SLOT_TAKEN = "User either already has booking at this time or is not available"
BOOKINGS_VERSION = "2024-08-13"
TUESDAY, THURSDAY = 1, 3


def next_weekday(weekday: int, zone: ZoneInfo = LONDON, min_days: int = 3) -> date:
    """The first `weekday` (Monday = 0) at least `min_days` after today in `zone`."""
    day = datetime.now(zone).date() + timedelta(days=min_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = LONDON) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def request(start: datetime, email: str = "ana@example.com", name: str = "Ana Diaz") -> CreateBookingRequest:
    return CreateBookingRequest(start=start, event_type_id=THIRTY_MIN,
                                attendee=NewAttendee(name=name, email=email, time_zone="Europe/Madrid", language="es"))


def spec_failures(*transports: SpecCheckingTransport) -> list[str]:
    return [failure for transport in transports for failure in transport.failures]


class Hooks:
    """The /_sandbox/* test hooks of one server, over real HTTP."""

    def __init__(self, server: StandaloneSandbox) -> None:
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=10)

    async def bookings(self) -> list[dict[str, Any]]:
        return (await self.get("/_sandbox/state"))["bookings"]

    async def fault(self, **spec: Any) -> dict[str, Any]:
        response = await self.http.post("/_sandbox/faults", json=spec)
        assert response.status_code == 201, response.text
        return response.json()["faults"][0]

    async def faults(self) -> list[dict[str, Any]]:
        return (await self.get("/_sandbox/faults"))["faults"]

    async def requests(self) -> list[tuple[str, str, int]]:
        return [(r["method"], r["path"], r["status"]) for r in (await self.get("/_sandbox/requests"))["requests"]]

    async def get(self, path: str) -> Any:
        response = await self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()


# -- fixtures ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneSandbox]:
    server = start_standalone(tmp_path_factory.mktemp("standalone") / "sandbox.db", "--test-hooks", "--rate-limit", "0")
    yield server
    server.stop()


@pytest.fixture
def server(shared: StandaloneSandbox) -> StandaloneSandbox:
    """The shared server, emptied: no bookings, faults or recorded requests."""
    assert httpx.post(f"{shared.base_url}/_sandbox/reset", timeout=10).status_code == 200
    return shared


@pytest.fixture
async def hooks(server: StandaloneSandbox) -> AsyncIterator[Hooks]:
    made = Hooks(server)
    yield made
    await made.http.aclose()


@pytest.fixture
async def calcom(server: StandaloneSandbox) -> AsyncIterator[CalcomClient]:
    """calbot's client on the shared server over real HTTP, every exchange checked against the OpenAPI document."""
    transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    async with CalcomClient(SANDBOX_API_KEY, server.api, transport=transport) as client:
        yield client
    assert spec_failures(transport) == []


# -- 1. spec validation ------------------------------------------------------------------------------------------------
async def test_a_full_round_through_calbots_client_matches_the_openapi_document(server: StandaloneSandbox) -> None:
    day = next_weekday(TUESDAY)
    ten, eleven = at(day, 10), at(day, 11)
    whole_day = (at(day, 0), at(day, 23, 59))
    transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    stranger_transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    async with CalcomClient(SANDBOX_API_KEY, server.api, transport=transport) as cal:
        me = await cal.me()
        assert (me.email, me.time_zone) == ("host@sandbox.example.com", "Europe/London")
        assert {t.id: t.length_in_minutes for t in await cal.event_types()} == {1001: 30, 1002: 60}

        berlin = await cal.slots(THIRTY_MIN, *whole_day, time_zone="Europe/Berlin")
        new_york = await cal.slots(THIRTY_MIN, *whole_day, time_zone="America/New_York")
        assert [s.start for s in berlin] == [s.start for s in new_york]
        assert len(berlin) == 16 and berlin[0].start == at(day, 9) and berlin[-1].end == at(day, 17)
        # The raw answers: keyed by the date in the asked zone, times carrying that zone's offset.
        raw = [r.json()["data"] for q, r in transport.exchanges if q.url.path == "/v2/slots"]
        for data, zone in zip(raw, (BERLIN, NEW_YORK), strict=True):
            first = at(day, 9).astimezone(zone)
            assert list(data) == [first.date().isoformat()]
            assert data[first.date().isoformat()][0] == {
                "start": first.isoformat(timespec="milliseconds"),
                "end": (first + timedelta(minutes=30)).isoformat(timespec="milliseconds")}

        booking = await cal.create_booking(request(ten).model_copy(update={
            "guests": ["bob@example.com"], "booking_fields_responses": {"notes": "Intro call"},
            "metadata": {"source": "calbot-tests"}}))
        assert (booking.status, booking.start, booking.end) == ("accepted", ten, ten + timedelta(minutes=30))
        assert booking.attendee_emails() == {"ana@example.com", "bob@example.com"}
        assert ten not in [s.start for s in await cal.slots(THIRTY_MIN, *whole_day, time_zone="Europe/London")]
        fetched = await cal.get_booking(booking.uid)
        assert (fetched.uid, fetched.metadata) == (booking.uid, {"source": "calbot-tests"})

        found = await cal.list_bookings(status="upcoming", attendee_email="ANA@example.com", after_start=whole_day[0],
                                        before_end=whole_day[1], event_type_id=THIRTY_MIN, page_size=1)
        assert [b.uid for b in found] == [booking.uid]
        assert await cal.list_bookings(attendee_email="nobody@example.com") == []
        assert await cal.list_bookings(event_type_id=1002) == []
        assert await cal.list_bookings(status="past") == []

        freed = await cal.slots(THIRTY_MIN, *whole_day, time_zone="Europe/London",
                                booking_uid_to_reschedule=booking.uid)
        assert ten in [s.start for s in freed]
        moved = await cal.reschedule_booking(booking.uid, RescheduleRequest(
            start=eleven, rescheduled_by="ana@example.com", rescheduling_reason="A clash"))
        assert moved.uid != booking.uid and moved.rescheduled_from_uid == booking.uid and moved.start == eleven
        old = await cal.get_booking(booking.uid)
        assert (old.status, old.rescheduled_to_uid) == ("cancelled", moved.uid)

        # Refusals, in Cal.com's envelope.
        with pytest.raises(SlotUnavailableError, match=SLOT_TAKEN):
            await cal.create_booking(request(eleven, "carl@example.com", "Carl"))
        with pytest.raises(BadRequestError, match="rescheduled already"):
            await cal.reschedule_booking(booking.uid, RescheduleRequest(start=at(day, 12)))
        cancelled = await cal.cancel_booking(moved.uid, "No longer needed")
        assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", "No longer needed")
        with pytest.raises(BadRequestError, match="cancelled already") as twice:
            await cal.cancel_booking(moved.uid, "Again")
        assert twice.value.status == 400
        with pytest.raises(NotFoundError, match="uid=NoSuchBooking123 was not found"):
            await cal.get_booking("NoSuchBooking123")
        with pytest.raises(NotFoundError):
            await cal.cancel_booking("NoSuchBooking123")
        assert {b.uid for b in await cal.list_bookings(status="cancelled")} == {booking.uid, moved.uid}

    async with CalcomClient("cal_live_not_the_sandbox_key", server.api, transport=stranger_transport) as stranger:
        for call in (stranger.me(), stranger.list_bookings(), stranger.create_booking(request(at(day, 14)))):
            with pytest.raises(AuthenticationError, match="Your api key is not valid") as refused:
                await call
            assert refused.value.status == 401

    assert spec_failures(transport, stranger_transport) == []
    checked = [q for q, _ in transport.exchanges + stranger_transport.exchanges if q.url.path.startswith("/v2/")]
    assert len(checked) == 24  # every exchange above went to /v2 and was checked
    statuses = {r.status_code for _, r in transport.exchanges + stranger_transport.exchanges}
    assert statuses == {200, 201, 400, 401, 404}


# -- 2. the command line -----------------------------------------------------------------------------------------------
async def test_command_line_key_zone_hours_and_days(tmp_path: Path) -> None:
    key = "cal_live_custom_sandbox_key_42"
    server = start_standalone(tmp_path / "cli.db", "--api-key", key, "--timezone", "America/New_York",
                              "--hours", "10:00-12:00", "--days", "tue,thu")
    transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            health = await http.get("/health")
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            # Without --test-hooks there is no /_sandbox/*.
            assert (await http.get("/_sandbox/state")).status_code == 404
            assert (await http.post("/_sandbox/reset")).status_code == 404
            assert (await http.post("/_sandbox/faults", json={"status": 500})).status_code == 404
            # The default key is now just a wrong key.
            refused = await http.get("/v2/me", headers={"Authorization": f"Bearer {SANDBOX_API_KEY}",
                                                         "cal-api-version": BOOKINGS_VERSION})
            assert refused.status_code == 401
            assert refused.json()["error"]["message"] == "Your api key is not valid"

        async with CalcomClient(key, server.api, transport=transport) as cal:
            assert (await cal.me()).time_zone == "America/New_York"
            first = next_weekday(TUESDAY, NEW_YORK)
            start, end = at(first, 0, zone=NEW_YORK), at(first + timedelta(days=9), 23, 59, zone=NEW_YORK)
            slots = await cal.slots(THIRTY_MIN, start, end, time_zone="America/New_York")
            local = [(s.start.astimezone(NEW_YORK), s.end.astimezone(NEW_YORK)) for s in slots]
            days = sorted({s.date() for s, _ in local})
            assert len(days) == 4 and {d.weekday() for d in days} == {TUESDAY, THURSDAY}
            for day in days:
                assert [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in local if s.date() == day] == [
                    ("10:00", "10:30"), ("10:30", "11:00"), ("11:00", "11:30"), ("11:30", "12:00")]
            raw = next(r.json()["data"] for q, r in transport.exchanges if q.url.path == "/v2/slots")
            assert raw[first.isoformat()][0]["start"] == at(first, 10, zone=NEW_YORK).isoformat(timespec="milliseconds")

            booked = await cal.create_booking(request(at(first, 11, 30, zone=NEW_YORK)))
            assert booked.status == "accepted"
            with pytest.raises(SlotUnavailableError):  # 09:00 New York is before the --hours
                await cal.create_booking(request(at(first, 9, zone=NEW_YORK)))
            with pytest.raises(SlotUnavailableError):  # Wednesday is not in --days
                await cal.create_booking(request(at(first + timedelta(days=1), 10, zone=NEW_YORK)))
        async with CalcomClient(SANDBOX_API_KEY, server.api) as default:
            with pytest.raises(AuthenticationError, match="Your api key is not valid"):
                await default.list_bookings()
    finally:
        server.stop()
    assert spec_failures(transport) == []
    assert key not in server.log.read_text()  # the banner says "set by --api-key", never the key


@pytest.mark.parametrize(("args", "message"), [
    (["--api-key", "sk_live_not_a_cal_key"], "--api-key must start with cal_"),
    (["--timezone", "Mars/Olympus_Mons"], "--timezone"),
    (["--hours", "17:00-09:00"], "--days/--hours"),
])
def test_bad_command_line_exits_non_zero_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "never.db"
    done = subprocess.run([sys.executable, "-m", "calbot.sandbox", "--port", str(free_port()), "--db", str(db), *args],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=20)
    assert done.returncode != 0
    assert message in done.stderr
    assert not db.exists()


# -- 3. persistence ----------------------------------------------------------------------------------------------------
async def test_bookings_survive_a_restart_and_reset_deletes_them(standalone: StandaloneSandbox) -> None:
    day = next_weekday(TUESDAY)
    async with CalcomClient(SANDBOX_API_KEY, standalone.api) as cal:
        kept = await cal.create_booking(request(at(day, 10)))
        dropped = await cal.create_booking(request(at(day, 11), "bo@example.com", "Bo"))
        await cal.cancel_booking(dropped.uid, "Changed my mind")
    standalone.stop()

    again = start_standalone(standalone.db, "--test-hooks", "--rate-limit", "0")
    try:
        async with CalcomClient(SANDBOX_API_KEY, again.api) as cal:
            assert (await cal.get_booking(kept.uid)).status == "accepted"
            cancelled = await cal.get_booking(dropped.uid)
            assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", "Changed my mind")
            assert [b.uid for b in await cal.list_bookings(status="upcoming")] == [kept.uid]
            free = [s.start for s in await cal.slots(THIRTY_MIN, at(day, 0), at(day, 23), time_zone="Europe/London")]
            assert at(day, 10) not in free and at(day, 11) in free
            with pytest.raises(SlotUnavailableError):
                await cal.create_booking(request(at(day, 10), "late@example.com", "Late"))
    finally:
        again.stop()

    fresh = start_standalone(standalone.db, "--test-hooks", "--rate-limit", "0", "--reset")
    try:
        assert httpx.get(f"{fresh.base_url}/_sandbox/state").json()["bookings"] == []
        async with CalcomClient(SANDBOX_API_KEY, fresh.api) as cal:
            with pytest.raises(NotFoundError):
                await cal.get_booking(kept.uid)
            assert (await cal.create_booking(request(at(day, 10)))).status == "accepted"
    finally:
        fresh.stop()


# -- 4. faults and the other test hooks --------------------------------------------------------------------------------
async def test_fault_500_on_create_books_nothing_and_is_used_up(calcom: CalcomClient, hooks: Hooks) -> None:
    start = at(next_weekday(TUESDAY), 10)
    await hooks.fault(method="POST", path="^/v2/bookings$", status=500)
    slots_before = await calcom.slots(THIRTY_MIN, start, start, time_zone="UTC")  # a GET: not matched
    assert [s.start for s in slots_before] == [start]
    with pytest.raises(ServerError) as failed:
        await calcom.create_booking(request(start))
    assert (failed.value.status, failed.value.code, failed.value.message) == (
        500, "INTERNAL_SERVER_ERROR", "Internal server error.")
    assert await hooks.bookings() == []
    assert await hooks.faults() == []
    assert (await calcom.create_booking(request(start))).start == start


async def test_fault_count_two_then_the_third_succeeds(calcom: CalcomClient, hooks: Hooks) -> None:
    start = at(next_weekday(TUESDAY), 10)
    fault = await hooks.fault(method="POST", path="^/v2/bookings$", status=503, message="Down for maintenance", count=2)
    assert fault["remaining"] == 2
    for remaining in (1, 0):
        with pytest.raises(ServerError, match="Down for maintenance") as failed:
            await calcom.create_booking(request(start))
        assert failed.value.status == 503
        assert [f["remaining"] for f in await hooks.faults()] == ([remaining] if remaining else [])
    booking = await calcom.create_booking(request(start))
    assert [b["uid"] for b in await hooks.bookings()] == [booking.uid]


async def test_fault_429_gives_rate_limited_with_retry_after(calcom: CalcomClient, hooks: Hooks) -> None:
    await hooks.fault(method="GET", path="^/v2/bookings$", status=429)
    with pytest.raises(RateLimitedError, match="Too many requests") as throttled:
        await calcom.list_bookings()
    assert (throttled.value.status, throttled.value.retry_after) == (429, 60.0)
    assert await calcom.list_bookings() == []


async def test_fault_delay_slows_the_matching_request(calcom: CalcomClient, hooks: Hooks) -> None:
    await hooks.fault(method="GET", path="^/v2/me$", delay=0.5)
    began = time.monotonic()
    assert (await calcom.me()).username == "sandbox"
    assert time.monotonic() - began >= 0.5
    assert await hooks.faults() == []


async def test_fault_drop_is_a_network_error_and_books_nothing(calcom: CalcomClient, hooks: Hooks) -> None:
    start = at(next_weekday(TUESDAY), 10)
    await hooks.fault(method="POST", path="^/v2/bookings$", drop=True)
    with pytest.raises(CalcomNetworkError) as dropped:
        await calcom.create_booking(request(start))
    assert not isinstance(dropped.value, CalcomTimeoutError)
    assert await hooks.bookings() == []
    assert await hooks.requests() == [("POST", "/v2/bookings", 0)]
    assert (await calcom.create_booking(request(start))).status == "accepted"


async def test_after_faults_lose_the_answer_but_the_booking_is_made(server: StandaloneSandbox, hooks: Hooks) -> None:
    """The writes that succeeded on the server although the client saw a timeout, a dropped connection or a 500."""
    day = next_weekday(TUESDAY)
    transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    async with CalcomClient(SANDBOX_API_KEY, server.api, timeout=httpx.Timeout(1.0), write_timeout=httpx.Timeout(1.0),
                            transport=transport) as cal:
        await hooks.fault(method="POST", path="^/v2/bookings$", after=True, delay=3)
        began = time.monotonic()
        with pytest.raises(CalcomTimeoutError):
            await cal.create_booking(request(at(day, 10)))
        assert 1.0 <= time.monotonic() - began < 2.5
        bookings = await hooks.bookings()
        assert [(b["start"], b["status"]) for b in bookings] == [(at(day, 10).strftime("%Y-%m-%dT%H:%M:00.000Z"),
                                                                 "accepted")]

        await hooks.fault(method="POST", path="^/v2/bookings$", after=True, drop=True)
        with pytest.raises(CalcomNetworkError) as dropped:
            await cal.create_booking(request(at(day, 11)))
        assert not isinstance(dropped.value, CalcomTimeoutError)
        assert len(await hooks.bookings()) == 2

        await hooks.fault(method="POST", path="^/v2/bookings$", after=True, status=500)
        with pytest.raises(ServerError):
            await cal.create_booking(request(at(day, 12)))
        made = await hooks.bookings()
        assert [b["start"][11:16] for b in made] == [at(day, h).astimezone(ZoneInfo("UTC")).strftime("%H:%M")
                                                     for h in (10, 11, 12)]
        # The client saw no booking, but each one is really there: a retry of the same slot is refused.
        with pytest.raises(SlotUnavailableError):
            await cal.create_booking(request(at(day, 10)))
        assert [b.uid for b in await cal.list_bookings()] == [b["uid"] for b in made]
    assert spec_failures(transport) == []

    # The timed-out POST is recorded (as the 201 it was) when its delay ends; wait for it so no later test sees it.
    deadline = time.monotonic() + 5
    while (log := await hooks.requests()).count(("POST", "/v2/bookings", 201)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert log.count(("POST", "/v2/bookings", 201)) == 2  # the delayed one and the dropped-after one
    assert ("POST", "/v2/bookings", 500) in log


async def test_requests_log_lists_what_was_received_and_delete_clears_it(calcom: CalcomClient, hooks: Hooks) -> None:
    await calcom.me()
    with pytest.raises(NotFoundError):
        await calcom.get_booking("NoSuchBooking123")
    await calcom.create_booking(request(at(next_weekday(TUESDAY), 10)))
    await hooks.http.get("/health")  # neither /health nor the hooks are recorded
    log = (await hooks.get("/_sandbox/requests"))["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/v2/me", 200), ("GET", "/v2/bookings/NoSuchBooking123", 404), ("POST", "/v2/bookings", 201)]
    assert {r["version"] for r in log} == {BOOKINGS_VERSION}
    cleared = await hooks.http.delete("/_sandbox/requests")
    assert (cleared.status_code, cleared.json()) == (200, {"requests": []})
    assert await hooks.requests() == []


async def test_reset_empties_bookings_faults_and_requests(calcom: CalcomClient, hooks: Hooks) -> None:
    await calcom.create_booking(request(at(next_weekday(TUESDAY), 10)))
    await hooks.fault(method="GET", path="^/v2/me$", status=500)
    assert len(await hooks.bookings()) == 1
    reset = await hooks.http.post("/_sandbox/reset")
    assert (reset.status_code, reset.json()) == (200, {"status": "ok"})
    assert (await hooks.bookings(), await hooks.faults(), await hooks.requests()) == ([], [], [])
    assert (await calcom.me()).username == "sandbox"  # the fault went with the reset
    assert await calcom.list_bookings() == []


@pytest.mark.parametrize("body", [
    {},  # does nothing
    {"path": "^/v2/me$"},
    {"status": 200},  # not an error status
    {"status": 500, "drop": True},
    {"status": 500, "count": 0},
    {"status": 500, "path": "(unclosed"},
    {"status": 500, "surprise": True},  # unknown field
    [{"status": 500}, {"delay": -1}],  # one bad spec refuses the whole list
    "not json",
])
async def test_bad_fault_spec_is_400_and_adds_nothing(hooks: Hooks, body: Any) -> None:
    if body == "not json":
        response = await hooks.http.post("/_sandbox/faults", content=b"{not json")
    else:
        response = await hooks.http.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert await hooks.faults() == []


async def test_fault_list_get_and_delete(hooks: Hooks) -> None:
    response = await hooks.http.post("/_sandbox/faults", json=[{"status": 500, "path": "^/v2/me$"},
                                                              {"method": "GET", "delay": 0.1, "count": 3}])
    assert response.status_code == 201
    assert [(f["id"] > 0, f["remaining"]) for f in await hooks.faults()] == [(True, 1), (True, 3)]
    cleared = await hooks.http.delete("/_sandbox/faults")
    assert (cleared.status_code, cleared.json()) == (200, {"faults": []})
    assert await hooks.faults() == []


# -- 5. two processes, one file ----------------------------------------------------------------------------------------
async def test_one_slot_raced_from_two_processes_on_one_file_is_booked_once(standalone: StandaloneSandbox) -> None:
    other = start_standalone(standalone.db, "--test-hooks", "--rate-limit", "0")
    start = at(next_weekday(TUESDAY), 10)
    transport = SpecCheckingTransport(httpx.AsyncHTTPTransport())
    try:
        async with httpx.AsyncClient(transport=transport, timeout=30, headers={
                "Authorization": f"Bearer {SANDBOX_API_KEY}", "cal-api-version": BOOKINGS_VERSION}) as http:
            answers = await asyncio.gather(*(
                http.post(f"{(standalone, other)[i % 2].api}/bookings",
                          json=request(start, f"racer{i}@example.com", f"Racer {i}").to_body())
                for i in range(10)))
            states = [(await http.get(f"{s.base_url}/_sandbox/state")).json()["bookings"] for s in (standalone, other)]
    finally:
        other.stop()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, statuses
    for answer in answers:
        if answer.status_code != 201:  # the check under the write lock (400), or the unique index behind it (409)
            assert (answer.status_code, answer.json()["error"]["message"]) in {
                (400, SLOT_TAKEN), (409, "Invalid Input: Trying to create a record that already exists.")}
    winner = next(a.json()["data"] for a in answers if a.status_code == 201)
    assert [[b["uid"] for b in state] for state in states] == [[winner["uid"]], [winner["uid"]]]
    with sqlite3.connect(standalone.db) as db:
        assert db.execute("SELECT COUNT(*), MIN(uid) FROM bookings").fetchone() == (1, winner["uid"])
    assert spec_failures(transport) == []
