"""Issue 15, finding 11: no input makes the sandbox answer 500, plain text, or work without bound.

Over the in-process ASGI app (clock frozen at FIXED_NOW, Monday 2026-11-23 08:00 UTC): the slots range is clamped as
Cal.com clamps it (end at most one year from now), request bodies stop at Cal.com's 100 KB, stored text and guest
lists are capped, every number and date is range-checked into Cal.com's 400 envelope, and anything unexpected still
answers Cal.com's 500 envelope. The same checks against the real `python -m calbot.sandbox` process are in
test_input_bounds_standalone.py; random inputs at every endpoint in test_input_fuzz.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from calbot.sandbox import SANDBOX_API_KEY, ApiError, Sandbox
from calbot.sandbox.config import SandboxEventType, default_event_types
from tests.sandbox.conftest import ORIGIN

BOOKINGS = {"cal-api-version": "2024-08-13", "Authorization": f"Bearer {SANDBOX_API_KEY}"}
SLOTS = {"cal-api-version": "2024-09-04"}
FLEX = SandboxEventType(2001, "flex", "Flexible Meeting", 30, length_options=(15, 30, 60))
ONE_YEAR_ON = date(2027, 11, 23)  # FIXED_NOW + 1 year: Cal.com's last slots day
TUESDAY_10 = "2026-11-24T10:00:00Z"
ATTENDEE = {"name": "Ana Diaz", "email": "ana@example.com", "timeZone": "Europe/Madrid"}
BODY_LIMIT = 100 * 1024  # body-parser's default "100kb", which Cal.com's JsonBodyMiddleware uses
HUGE = "9" * 5000  # more digits than Python's int() converts by default
BEYOND_INT64 = str(2**63)


def booking(**changes: Any) -> dict[str, Any]:
    return {"start": TUESDAY_10, "eventTypeId": 1001, "attendee": dict(ATTENDEE), **changes}


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    """Cal.com's error envelope (API-NOTES §2), as JSON, with X-Request-Id."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    body = response.json()
    assert body["status"] == "error" and body["timestamp"] and body["path"]
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    assert body["error"]["details"]
    return body


def field_errors(body: dict[str, Any]) -> dict[str, set[str]]:
    """{property: {constraint, ...}} of a class-validator style 400."""
    return {e["property"]: set(e["constraints"]) for e in body["error"]["details"]["errors"]}


@pytest.fixture
def flex_sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(event_types=(*default_event_types(), FLEX))


@pytest.fixture
async def http(flex_sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ORIGIN, transport=flex_sandbox.transport(), timeout=60) as client:
        yield client


# -- the slots range -------------------------------------------------------------------------------------------------
async def test_slots_over_a_thousand_years_stop_one_year_from_now_and_answer_at_once(http: httpx.AsyncClient) -> None:
    began = time.monotonic()
    response = await http.get("/v2/slots", headers=SLOTS,
                              params={"eventTypeId": 1001, "start": "2026-11-23", "end": "3026-11-23"})
    took = time.monotonic() - began
    assert response.status_code == 200, response.text[:300]
    days = [date.fromisoformat(key) for key in response.json()["data"]]
    assert days[0] == date(2026, 11, 23) and days[-1] <= ONE_YEAR_ON
    assert days[-1] >= date(2027, 11, 22)  # the clamp keeps the whole year
    assert len(response.content) < 1_000_000
    assert took < 3, f"a thousand years of slots took {took:.1f} s"


@pytest.mark.parametrize("end", ["9999-12-31", "9999-12-31T23:59:59-05:00"])
async def test_slots_ending_in_year_9999_are_clamped_as_cal_com_does(http: httpx.AsyncClient, end: str) -> None:
    """Cal.com transforms any `end` later than a year from now into exactly that, before validating it."""
    response = await http.get("/v2/slots", headers=SLOTS, params={"eventTypeId": 1001, "start": "2027-11-22",
                                                                  "end": end})
    assert response.status_code == 200
    # Up to 2027-11-23 08:00 UTC: all of Monday the 22nd, nothing of Tuesday the 23rd (work starts at 09:00).
    assert [(day, len(times)) for day, times in response.json()["data"].items()] == [("2027-11-22", 16)]


async def test_slots_from_the_year_1900_compute_only_from_now(http: httpx.AsyncClient) -> None:
    began = time.monotonic()
    response = await http.get("/v2/slots", headers=SLOTS,
                              params={"eventTypeId": 1001, "start": "1900-01-01", "end": "2026-11-24"})
    assert response.status_code == 200
    assert list(response.json()["data"]) == ["2026-11-23", "2026-11-24"]
    assert time.monotonic() - began < 1


async def test_slots_starting_beyond_the_year_answer_no_slots(http: httpx.AsyncClient) -> None:
    response = await http.get("/v2/slots", headers=SLOTS,
                              params={"eventTypeId": 1001, "start": "2028-01-03", "end": "2028-01-04"})
    assert (response.status_code, response.json()["data"]) == (200, {})


async def test_a_duration_the_event_type_does_not_offer_falls_back_to_its_length(http: httpx.AsyncClient) -> None:
    """Cal.com's booker uses `duration` only when the event type offers it; a 1-minute slot grid would be 30 times
    the work (and the answer) of the event type's own."""
    day = {"start": "2026-11-24", "end": "2026-11-24"}
    default = (await http.get("/v2/slots", headers=SLOTS, params={"eventTypeId": 1001, **day})).json()["data"]
    one = (await http.get("/v2/slots", headers=SLOTS, params={"eventTypeId": 1001, "duration": 1, **day})).json()
    assert one["data"] == default and len(default["2026-11-24"]) == 16
    fifteen = (await http.get("/v2/slots", headers=SLOTS, params={"eventTypeId": FLEX.id, "duration": 15, **day}))
    assert len(fifteen.json()["data"]["2026-11-24"]) == 32  # an offered length is still honoured


async def test_a_huge_slots_request_leaves_the_event_loop_free(http: httpx.AsyncClient) -> None:
    """/health and every other request share the loop: a slots request must not hold it (a thousand years once held
    it for 22 s). The largest gap between 10 ms ticks while the request runs shows how long the loop was held."""
    slots = asyncio.create_task(http.get("/v2/slots", headers=SLOTS, params={
        "eventTypeId": 1001, "start": "2026-11-23", "end": "2300-01-01"}))
    gaps: list[float] = []
    while not slots.done():
        began = time.monotonic()
        await asyncio.sleep(0.01)
        gaps.append(time.monotonic() - began)
    assert (await slots).status_code == 200
    assert max(gaps) < 0.25, f"the loop was held for {max(gaps):.2f} s by one slots request"


# -- numbers and dates -----------------------------------------------------------------------------------------------
SLOTS_DAY = {"eventTypeId": "1001", "start": "2026-11-24", "end": "2026-11-25"}


@pytest.mark.parametrize(("params", "field"), [
    ({**SLOTS_DAY, "start": "0001-01-01"}, "start"),
    ({**SLOTS_DAY, "start": "0001-01-01T00:00:00+01:00"}, "start"),
    ({**SLOTS_DAY, "start": "9999-12-30", "end": "9999-12-31"}, "start"),
    ({**SLOTS_DAY, "end": "0001-01-01T00:00:00+01:00"}, "end"),
    ({**SLOTS_DAY, "eventTypeId": BEYOND_INT64}, "eventTypeId"),
    ({**SLOTS_DAY, "eventTypeId": HUGE}, "eventTypeId"),
    ({**SLOTS_DAY, "eventTypeId": "-" + HUGE}, "eventTypeId"),
    ({**SLOTS_DAY, "duration": "99999999999"}, "duration"),
    ({**SLOTS_DAY, "duration": HUGE}, "duration"),
    ({**SLOTS_DAY, "eventTypeId": None, "eventTypeSlug": "30min", "username": "u" * 256}, "username"),
    ({**SLOTS_DAY, "bookingUidToReschedule": "x" * 256}, "bookingUidToReschedule"),
], ids=lambda v: v if isinstance(v, str) else None)
async def test_slots_inputs_out_of_range_are_400s(http: httpx.AsyncClient, params: dict[str, Any],
                                                  field: str) -> None:
    params = {k: v for k, v in params.items() if v is not None}
    body = assert_envelope(await http.get("/v2/slots", headers=SLOTS, params=params), 400)
    assert field in field_errors(body)


@pytest.mark.parametrize(("params", "field"), [
    ({"take": HUGE}, "take"),
    ({"take": BEYOND_INT64}, "take"),
    ({"skip": BEYOND_INT64}, "skip"),
    ({"skip": HUGE}, "skip"),
    ({"afterStart": "0001-01-01T00:00:00+01:00"}, "afterStart"),
    ({"afterStart": "0001-01-01"}, "afterStart"),
    ({"beforeEnd": "9999-12-31T23:00:00-05:00"}, "beforeEnd"),
    ({"beforeEnd": "9999-12-31"}, "beforeEnd"),
    ({"eventTypeId": BEYOND_INT64}, "eventTypeId"),
    ({"eventTypeIds": f"1001,{HUGE}"}, "eventTypeIds"),
    ({"attendeeName": "n" * 256}, "attendeeName"),
    ({"attendeeEmail": "a" * 300 + "@example.com"}, "attendeeEmail"),
    ({"bookingUid": "u" * 256}, "bookingUid"),
], ids=lambda v: v if isinstance(v, str) else None)
async def test_list_inputs_out_of_range_are_400s(http: httpx.AsyncClient, params: dict[str, Any], field: str) -> None:
    body = assert_envelope(await http.get("/v2/bookings", headers=BOOKINGS, params=params), 400)
    assert field in field_errors(body)


async def test_the_widest_accepted_dates_still_list(http: httpx.AsyncClient) -> None:
    response = await http.get("/v2/bookings", headers=BOOKINGS,
                              params={"afterStart": "1900-01-01T00:00:00Z", "beforeEnd": "2999-12-31T23:59:59Z"})
    assert (response.status_code, response.json()["data"]) == (200, [])


@pytest.mark.parametrize(("body", "field"), [
    (booking(start="9999-12-31T23:59:00Z"), "start"),
    (booking(start="0001-01-01T00:00:00Z"), "start"),
    (booking(start="0001-01-01T00:30:00+01:00"), "start"),
    (booking(eventTypeId=2**63), "eventTypeId"),
    (booking(eventTypeId=10**30), "eventTypeId"),
    (booking(eventTypeId=1e300), "eventTypeId"),
    (booking(lengthInMinutes=10**30), "lengthInMinutes"),
    (booking(attendee={**ATTENDEE, "name": "A" * 256}), "attendee.name"),
    (booking(guests=[f"guest{i}@example.com" for i in range(11)]), "guests"),
    (booking(bookingFieldsResponses={"notes": "n" * 10_001}), "bookingFieldsResponses"),
    (booking(bookingFieldsResponses={f"k{i}": "v" for i in range(51)}), "bookingFieldsResponses"),
    (booking(bookingFieldsResponses={"notes": ["n" * 10_001]}), "bookingFieldsResponses"),
    (booking(eventTypeSlug="s" * 256, username="sandbox", eventTypeId=None), "eventTypeSlug"),
], ids=lambda v: v if isinstance(v, str) else None)
async def test_create_inputs_out_of_range_are_400s_and_store_nothing(http: httpx.AsyncClient, flex_sandbox: Sandbox,
                                                                     body: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    answer = assert_envelope(await http.post("/v2/bookings", headers=BOOKINGS, json=body), 400)
    assert field in field_errors(answer)
    assert flex_sandbox.store.count() == 0


@pytest.mark.parametrize("raw", [
    b'{"start": "2026-11-24T10:00:00Z", "eventTypeId": NaN, "attendee": {"name": "A", "email": "a@example.com", '
    b'"timeZone": "UTC"}}',
    b'{"start": "2026-11-24T10:00:00Z", "eventTypeId": 1001, "metadata": {"x": Infinity}, "attendee": {"name": "A", '
    b'"email": "a@example.com", "timeZone": "UTC"}}',
    b'{"start": "2026-11-24T10:00:00Z", "eventTypeId": 1e400, "attendee": {"name": "A", "email": "a@example.com", '
    b'"timeZone": "UTC"}}',
    b"[" * 50_000,
    b'{"a":' * 20_000,
    b'{"eventTypeId": ' + HUGE.encode() + b"}",
], ids=["NaN", "Infinity", "1e400", "deep-array", "deep-object", "5000-digit-int"])
async def test_bodies_json_cannot_carry_are_400s(http: httpx.AsyncClient, flex_sandbox: Sandbox, raw: bytes) -> None:
    response = await http.post("/v2/bookings", headers={**BOOKINGS, "content-type": "application/json"}, content=raw)
    assert_envelope(response, 400)
    assert flex_sandbox.store.count() == 0


async def test_reschedule_and_cancel_inputs_out_of_range_are_400s(http: httpx.AsyncClient) -> None:
    made = await http.post("/v2/bookings", headers=BOOKINGS, json=booking())
    uid = made.json()["data"]["uid"]
    for body, field in [({"start": "9999-12-31T23:59:00Z"}, "start"), ({"start": "0001-01-01T00:00:00Z"}, "start"),
                        ({"start": "2026-11-24T11:00:00Z", "reschedulingReason": "r" * 10_001}, "reschedulingReason"),
                        ({"start": "2026-11-24T11:00:00Z", "rescheduledBy": "r" * 300}, "rescheduledBy")]:
        answer = assert_envelope(await http.post(f"/v2/bookings/{uid}/reschedule", headers=BOOKINGS, json=body), 400)
        assert field in field_errors(answer)
    answer = assert_envelope(await http.post(f"/v2/bookings/{uid}/cancel", headers=BOOKINGS,
                                             json={"cancellationReason": "c" * 10_001}), 400)
    assert "cancellationReason" in field_errors(answer)
    state = (await http.get(f"/v2/bookings/{uid}", headers=BOOKINGS)).json()["data"]
    assert (state["status"], state["start"]) == ("accepted", "2026-11-24T10:00:00.000Z")


async def test_the_longest_accepted_values_are_stored_whole(http: httpx.AsyncClient) -> None:
    made = await http.post("/v2/bookings", headers=BOOKINGS, json=booking(
        attendee={**ATTENDEE, "name": "A" * 255}, guests=[f"guest{i}@example.com" for i in range(10)],
        bookingFieldsResponses={"notes": "n" * 10_000}))
    assert made.status_code == 201, made.text[:300]
    data = made.json()["data"]
    assert (len(data["attendees"][0]["name"]), len(data["guests"]), len(data["description"])) == (255, 10, 10_000)


# -- the body size limit ---------------------------------------------------------------------------------------------
async def test_a_body_over_100_kb_is_413_and_stores_nothing(http: httpx.AsyncClient, flex_sandbox: Sandbox) -> None:
    body = booking(attendee={**ATTENDEE, "name": "A" * (BODY_LIMIT + 1)})
    answer = assert_envelope(await http.post("/v2/bookings", headers=BOOKINGS, json=body), 413)
    assert answer["error"]["code"] == "PayloadTooLargeException"
    assert flex_sandbox.store.count() == 0
    # A body just under the limit is read (and refused for its name, not its size).
    body = booking(attendee={**ATTENDEE, "name": "A" * (BODY_LIMIT - 200)})
    assert len(json.dumps(body)) <= BODY_LIMIT
    assert_envelope(await http.post("/v2/bookings", headers=BOOKINGS, json=body), 400)


async def test_a_streamed_body_is_read_only_up_to_the_limit(http: httpx.AsyncClient, flex_sandbox: Sandbox) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"attendee": {"name": "'
        for _ in range(10_000):  # 640 MB if it were all read
            sent.append(1)
            yield b"A" * 65_536

    answer = assert_envelope(await http.post("/v2/bookings", headers=BOOKINGS, content=chunks()), 413)
    assert answer["error"]["message"] == "request entity too large"
    assert len(sent) <= 3  # stopped as soon as the limit was passed
    assert flex_sandbox.store.count() == 0


async def test_a_declared_length_over_the_limit_is_refused_before_reading(http: httpx.AsyncClient) -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        pulled.append(1)
        yield b"{}"

    response = await http.post("/v2/bookings", content=chunks(),
                               headers={**BOOKINGS, "content-length": str(50 * 1024 * 1024)})
    assert_envelope(response, 413)
    assert pulled == []


async def test_the_fault_hook_body_is_limited_too(http: httpx.AsyncClient) -> None:
    response = await http.post("/_sandbox/faults", content=b"[" + b'{"status": 500},' * 10_000 + b"{}]")
    assert response.status_code == 413 and response.json()["error"]["code"] == "PayloadTooLargeException"
    assert (await http.get("/_sandbox/faults")).json() == {"faults": []}


# -- the catch-all ---------------------------------------------------------------------------------------------------
async def test_an_unexpected_error_is_cal_coms_500_envelope_and_logged(http: httpx.AsyncClient, flex_sandbox: Sandbox,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("emulator bug")

    monkeypatch.setattr(flex_sandbox.calendar, "me", broken)
    with caplog.at_level(logging.ERROR, logger="calbot.sandbox"):
        body = assert_envelope(await http.get("/v2/me", headers=BOOKINGS), 500)
    assert (body["error"]["code"], body["error"]["message"]) == ("INTERNAL_SERVER_ERROR", "Internal server error.")
    assert "emulator bug" in caplog.text


async def test_a_refusal_that_cannot_be_json_is_the_500_envelope(http: httpx.AsyncClient, flex_sandbox: Sandbox,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal echoing a value JSON cannot carry (NaN, as a body once did) failed while its envelope was written:
    outside the pipeline's own catch-all, so uvicorn answered a plain-text 500 (in process: an exception)."""
    def refuse() -> dict[str, Any]:
        raise ApiError(400, "Bad Request Exception", details={"errors": [{"value": float("nan")}]})

    monkeypatch.setattr(flex_sandbox.calendar, "me", refuse)
    body = assert_envelope(await http.get("/v2/me", headers=BOOKINGS), 500)
    assert body["error"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_an_error_outside_the_cal_com_routes_is_the_500_envelope(http: httpx.AsyncClient, flex_sandbox: Sandbox,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("store bug")

    monkeypatch.setattr(flex_sandbox.store, "all", broken)
    body = assert_envelope(await http.get("/_sandbox/state"), 500)
    assert body["path"] == "/_sandbox/state"
