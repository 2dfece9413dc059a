"""CalcomClient against respx, every request (and every success envelope) checked against Cal.com's OpenAPI document.

The `calcom_mock` fixture (tests/conftest.py) validates traffic while it is sent; payloads come from cal_payloads.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from calbot.calcom import (
    AuthenticationError,
    BadRequestError,
    Booking,
    CalcomAPIError,
    CalcomClient,
    CalcomConnectionLostError,
    CalcomError,
    CalcomNetworkError,
    CalcomUnexpectedResponseError,
    CalcomTimeoutError,
    ConflictError,
    EventType,
    Me,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    Slot,
    SlotUnavailableError,
)
from calbot.calcom.client import MAX_PAGES
from calbot.calcom.models import CreateBookingRequest, NewAttendee, RescheduleRequest
from tests.http.cal_payloads import (
    API_KEY,
    BASE_URL,
    OMIT,
    attendee_json,
    booking_json,
    envelope,
    error_envelope,
    event_type_json,
    me_json,
    paginated,
    pagination,
    recurring_booking_json,
    recurring_series_json,
    seated_attendee_json,
    seated_booking_json,
    slots_json,
)
from tests.openapi_spec import validate_request, validate_response

BERLIN = ZoneInfo("Europe/Berlin")
SLOT_TAKEN = "User either already has booking at this time or is not available"
REQUEST_ID = "req-7f3c9a1e"


# -- helpers -------------------------------------------------------------------------------------------------------
@pytest.fixture
async def client(calcom_mock):
    async with CalcomClient(api_key=API_KEY, base_url=BASE_URL) as calcom:
        yield calcom


def sent_json(call: Any) -> Any:
    return json.loads(call.request.content)


def sent_query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query, keep_blank_values=True)


def assert_no_nulls(value: Any, where: str = "$") -> None:
    assert value is not None, f"explicit null at {where}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_nulls(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_no_nulls(item, f"{where}[{index}]")


def assert_key_hidden(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), *(str(arg) for arg in exc.args)]
    texts += [str(getattr(exc, name, "")) for name in ("message", "code", "path", "details")]
    for text in texts:
        assert API_KEY not in text
        assert "Bearer" not in text


def attendee(**overrides: Any) -> NewAttendee:
    return NewAttendee(**{"name": "Ana Diaz", "email": "ana@example.com", "time_zone": "Europe/Madrid", **overrides})


def error_response(status: int, code: str, message: str, path: str = "/v2/bookings", *,
                   headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=error_envelope(status, code, message, path, **kwargs),
                          headers={"X-Request-Id": REQUEST_ID, **(headers or {})})


# -- auth and cal-api-version on every endpoint -------------------------------------------------------------------
def _create(client: CalcomClient):
    return client.create_booking(CreateBookingRequest(start=datetime(2026, 9, 7, 9, tzinfo=UTC), event_type_id=123,
                                                      attendee=attendee()))


ENDPOINTS = [
    # id, method, path (below /v2), cal-api-version, status, response body, call
    ("me", "GET", "/me", "2024-08-13", 200, lambda: envelope(me_json()), lambda c: c.me()),
    ("event-types", "GET", "/event-types", "2024-06-14", 200, lambda: envelope([event_type_json()]),
     lambda c: c.event_types()),
    ("slots", "GET", "/slots", "2024-09-04", 200, lambda: envelope({}),
     lambda c: c.slots(123, datetime(2026, 9, 7, tzinfo=UTC), datetime(2026, 9, 8, tzinfo=UTC), time_zone="UTC")),
    ("list", "GET", "/bookings", "2024-08-13", 200, lambda: paginated([booking_json()], 100, 0, 1),
     lambda c: c.list_bookings()),
    ("get", "GET", "/bookings/bk_3Xq9AbCdEf12", "2024-08-13", 200, lambda: envelope(booking_json()),
     lambda c: c.get_booking("bk_3Xq9AbCdEf12")),
    ("create", "POST", "/bookings", "2024-08-13", 201, lambda: envelope(booking_json()), _create),
    ("cancel", "POST", "/bookings/bk_3Xq9AbCdEf12/cancel", "2024-08-13", 200,
     lambda: envelope(booking_json(status="cancelled")), lambda c: c.cancel_booking("bk_3Xq9AbCdEf12")),
    ("reschedule", "POST", "/bookings/bk_3Xq9AbCdEf12/reschedule", "2024-08-13", 201,
     lambda: envelope(booking_json(uid="bk_New0001", rescheduledFromUid="bk_3Xq9AbCdEf12")),
     lambda c: c.reschedule_booking("bk_3Xq9AbCdEf12",
                                    RescheduleRequest(start=datetime(2026, 9, 8, 9, tzinfo=UTC)))),
]


@pytest.mark.parametrize(("method", "path", "version", "status", "body", "call"),
                         [pytest.param(*row[1:], id=row[0]) for row in ENDPOINTS])
async def test_every_endpoint_sends_bearer_key_and_its_own_api_version(calcom_mock, client, method, path, version,
                                                                       status, body, call):
    route = calcom_mock.request(method, path).mock(return_value=httpx.Response(status, json=body()))
    await call(client)
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.url.scheme == "https" and request.url.host == "api.cal.com"
    assert request.url.path == f"/v2{path}"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers.get_list("cal-api-version") == [version]
    assert request.headers["accept"] == "application/json"
    if method == "POST":
        assert request.headers["content-type"] == "application/json"
    else:
        assert request.content == b""


async def test_reads_use_the_read_timeout_and_writes_the_longer_write_timeout(calcom_mock, client):
    calcom_mock.get("/me").respond(200, json=envelope(me_json()))
    calcom_mock.post("/bookings").respond(201, json=envelope(booking_json()))
    await client.me()
    await _create(client)
    read, write = (call.request.extensions["timeout"] for call in calcom_mock.calls)
    assert read == {"connect": 5.0, "read": 15.0, "write": 15.0, "pool": 15.0}
    assert write == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}


async def test_base_url_with_or_without_trailing_slash_hits_the_same_paths(calcom_mock):
    route = calcom_mock.get("/me").respond(200, json=envelope(me_json()))
    for base in ("https://api.cal.com/v2", "https://api.cal.com/v2/"):
        async with CalcomClient(API_KEY, base) as calcom:
            await calcom.me()
    assert [str(call.request.url) for call in route.calls] == ["https://api.cal.com/v2/me"] * 2


async def test_a_self_hosted_base_url_keeps_its_host_and_passes_the_spec_checks():
    with respx.mock(base_url="http://127.0.0.1:8765/v2", assert_all_called=False) as router:
        route = router.get("/me").respond(200, json=envelope(me_json()))
        async with CalcomClient(API_KEY, "http://127.0.0.1:8765/v2") as calcom:
            await calcom.me()
    request = route.calls.last.request
    assert str(request.url) == "http://127.0.0.1:8765/v2/me"
    validate_request(request)
    validate_response(request, route.calls.last.response)


def test_an_empty_api_key_is_refused():
    with pytest.raises(ValueError):
        CalcomClient(api_key="")


async def test_async_with_closes_the_http_client(calcom_mock):
    async with CalcomClient(api_key=API_KEY, base_url=BASE_URL) as calcom:
        assert calcom.is_closed is False
        inner = calcom._http
    assert calcom.is_closed is True
    assert inner.is_closed is True
    await calcom.aclose()  # closing twice is harmless
    assert calcom.is_closed is True


# -- request bodies ------------------------------------------------------------------------------------------------
async def test_create_sends_only_the_given_fields_and_start_in_utc(calcom_mock, client):
    route = calcom_mock.post("/bookings").respond(201, json=envelope(booking_json()))
    start = datetime(2026, 9, 7, 11, 0, tzinfo=BERLIN)  # CEST, UTC+2
    await client.create_booking(CreateBookingRequest(start=start, event_type_id=123,
                                                     attendee=attendee(time_zone="Europe/Berlin")))
    body = sent_json(route.calls.last)
    assert body == {"start": "2026-09-07T09:00:00Z", "eventTypeId": 123,
                    "attendee": {"name": "Ana Diaz", "email": "ana@example.com", "timeZone": "Europe/Berlin"}}
    assert b"null" not in route.calls.last.request.content


async def test_create_with_every_optional_field(calcom_mock, client):
    route = calcom_mock.post("/bookings").respond(201, json=envelope(booking_json()))
    start = datetime(2026, 1, 12, 10, 30, tzinfo=BERLIN)  # CET, UTC+1
    await client.create_booking(CreateBookingRequest(
        start=start, event_type_id=123, attendee=attendee(language="es"), guests=["bob@example.com"],
        length_in_minutes=60, booking_fields_responses={"agenda": "Intro call"},
        metadata={"source": "chatbot", "conv": "c-42"}))
    body = sent_json(route.calls.last)
    assert body == {
        "start": "2026-01-12T09:30:00Z",
        "eventTypeId": 123,
        "attendee": {"name": "Ana Diaz", "email": "ana@example.com", "timeZone": "Europe/Madrid", "language": "es"},
        "guests": ["bob@example.com"],
        "lengthInMinutes": 60,
        "bookingFieldsResponses": {"agenda": "Intro call"},
        "metadata": {"source": "chatbot", "conv": "c-42"},
    }
    assert_no_nulls(body)
    assert "end" not in body  # the server derives it


async def test_create_with_a_naive_start_sends_nothing(calcom_mock, client):
    route = calcom_mock.post("/bookings").respond(201, json=envelope(booking_json()))
    request = CreateBookingRequest(start=datetime(2026, 9, 7, 9, 0), event_type_id=123, attendee=attendee())
    with pytest.raises(ValueError, match="naive"):
        await client.create_booking(request)
    assert route.call_count == 0


async def test_cancel_without_a_reason_sends_exactly_an_empty_object(calcom_mock, client):
    route = calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/cancel").respond(
        200, json=envelope(booking_json(status="cancelled")))
    booking = await client.cancel_booking("bk_3Xq9AbCdEf12")
    request = route.calls.last.request
    assert request.content == b"{}"
    assert request.headers["content-type"] == "application/json"
    assert isinstance(booking, Booking) and booking.status == "cancelled"


async def test_cancel_with_a_reason(calcom_mock, client):
    route = calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/cancel").respond(
        200, json=envelope(booking_json(status="cancelled", cancellationReason="Sick")))
    booking = await client.cancel_booking("bk_3Xq9AbCdEf12", reason="Sick")
    assert sent_json(route.calls.last) == {"cancellationReason": "Sick"}
    assert booking.cancellation_reason == "Sick"


async def test_reschedule_minimal_body_is_start_in_utc(calcom_mock, client):
    route = calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/reschedule").respond(
        201, json=envelope(booking_json(uid="bk_New0001", rescheduledFromUid="bk_3Xq9AbCdEf12",
                                        start="2026-09-08T14:00:00.000Z", end="2026-09-08T14:30:00.000Z")))
    new = await client.reschedule_booking("bk_3Xq9AbCdEf12",
                                          RescheduleRequest(start=datetime(2026, 9, 8, 16, 0, tzinfo=BERLIN)))
    assert sent_json(route.calls.last) == {"start": "2026-09-08T14:00:00Z"}
    assert new.uid == "bk_New0001"
    assert new.rescheduled_from_uid == "bk_3Xq9AbCdEf12"
    assert new.start == datetime(2026, 9, 8, 14, 0, tzinfo=UTC)


async def test_reschedule_with_rescheduled_by_and_reason(calcom_mock, client):
    route = calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/reschedule").respond(
        201, json=envelope(booking_json(uid="bk_New0001", rescheduledFromUid="bk_3Xq9AbCdEf12")))
    await client.reschedule_booking("bk_3Xq9AbCdEf12", RescheduleRequest(
        start=datetime(2026, 9, 8, 9, 0, tzinfo=ZoneInfo("America/New_York")), rescheduled_by="hana@example.com",
        rescheduling_reason="Conflict"))
    body = sent_json(route.calls.last)
    assert body == {"start": "2026-09-08T13:00:00Z", "rescheduledBy": "hana@example.com",
                    "reschedulingReason": "Conflict"}


@pytest.mark.parametrize("uid", ["", "   ", "../me", "bk/../../me", "bk 1", "bk?x=1", "bk#1", "bk%2F1"])
async def test_a_uid_that_could_change_the_path_is_refused_before_sending(calcom_mock, client, uid):
    route = calcom_mock.route().respond(500)
    for call in (client.get_booking(uid), client.cancel_booking(uid),
                 client.reschedule_booking(uid, RescheduleRequest(start=datetime(2026, 9, 8, tzinfo=UTC)))):
        with pytest.raises(ValueError, match="not a booking uid"):
            await call
    assert route.call_count == 0


# -- slots ---------------------------------------------------------------------------------------------------------
async def test_slots_query_uses_utc_bounds_range_format_and_no_absent_options(calcom_mock, client):
    route = calcom_mock.get("/slots").respond(200, json=envelope({}))
    result = await client.slots(123, datetime(2026, 9, 7, 0, 0, tzinfo=BERLIN), datetime(2026, 9, 9, 0, 0,
                                                                                           tzinfo=BERLIN),
                                time_zone="Europe/Berlin")
    assert result == []
    assert sent_query(route.calls.last) == {
        "eventTypeId": ["123"],
        "start": ["2026-09-06T22:00:00Z"],
        "end": ["2026-09-08T22:00:00Z"],
        "timeZone": ["Europe/Berlin"],
        "format": ["range"],
    }


async def test_slots_query_with_duration_and_booking_to_reschedule(calcom_mock, client):
    route = calcom_mock.get("/slots").respond(200, json=envelope({}))
    await client.slots(123, datetime(2026, 9, 7, tzinfo=UTC), datetime(2026, 9, 8, tzinfo=UTC),
                       time_zone="America/New_York", duration=60, booking_uid_to_reschedule="bk_3Xq9AbCdEf12")
    query = sent_query(route.calls.last)
    assert query["duration"] == ["60"]
    assert query["bookingUidToReschedule"] == ["bk_3Xq9AbCdEf12"]
    assert query["timeZone"] == ["America/New_York"]
    assert query["start"] == ["2026-09-07T00:00:00Z"] and query["end"] == ["2026-09-08T00:00:00Z"]


async def test_slots_are_flattened_sorted_and_converted_to_utc(calcom_mock, client):
    body = slots_json({
        "2050-09-06": [("2050-09-06T09:00:00.000+02:00", "2050-09-06T09:30:00.000+02:00")],
        "2050-09-05": [("2050-09-05T10:00:00.000+02:00", "2050-09-05T10:30:00.000+02:00"),
                       ("2050-09-05T09:00:00.000+02:00", "2050-09-05T09:30:00.000+02:00")],
    })
    calcom_mock.get("/slots").respond(200, json=body)
    slots = await client.slots(123, datetime(2050, 9, 5, tzinfo=UTC), datetime(2050, 9, 7, tzinfo=UTC),
                               time_zone="Europe/Berlin")
    assert all(isinstance(slot, Slot) for slot in slots)
    assert [slot.start for slot in slots] == [datetime(2050, 9, 5, 7, tzinfo=UTC), datetime(2050, 9, 5, 8, tzinfo=UTC),
                                              datetime(2050, 9, 6, 7, tzinfo=UTC)]
    assert [slot.end for slot in slots] == [datetime(2050, 9, 5, 7, 30, tzinfo=UTC),
                                            datetime(2050, 9, 5, 8, 30, tzinfo=UTC),
                                            datetime(2050, 9, 6, 7, 30, tzinfo=UTC)]
    assert all(slot.start.utcoffset() == timedelta(0) for slot in slots)


async def test_seated_slots_keep_seats_remaining_and_booking_uid(calcom_mock, client):
    calcom_mock.get("/slots").respond(200, json=envelope({"2050-09-05": [
        {"start": "2050-09-05T09:00:00.000-04:00", "end": "2050-09-05T10:00:00.000-04:00", "seatsBooked": 1,
         "seatsRemaining": 3, "seatsTotal": 4, "bookingUid": "bk_Seated77"}]}))
    [slot] = await client.slots(456, datetime(2050, 9, 5, tzinfo=UTC), datetime(2050, 9, 6, tzinfo=UTC),
                                time_zone="America/New_York")
    assert slot.start == datetime(2050, 9, 5, 13, 0, tzinfo=UTC)
    assert slot.seats_remaining == 3
    assert slot.booking_uid == "bk_Seated77"


# -- envelopes unwrapped into models -------------------------------------------------------------------------------
async def test_me_is_unwrapped(calcom_mock, client):
    calcom_mock.get("/me").respond(200, json=envelope(me_json(organization={"id": 9, "isPlatform": False},
                                                              organizationId=9)))
    me = await client.me()
    assert isinstance(me, Me)
    assert (me.id, me.username, me.email, me.name, me.time_zone, me.time_format) == (
        7, "hana", "hana@example.com", "Hana Host", "Europe/Berlin", 24)


async def test_event_types_are_unwrapped(calcom_mock, client):
    calcom_mock.get("/event-types").respond(200, json=envelope([
        event_type_json(),
        event_type_json(id=124, slug="deep-dive", title="Deep dive", lengthInMinutes=60, lengthInMinutesOptions=OMIT,
                        hidden=True, minimumBookingNotice=1440),
    ]))
    first, second = await client.event_types()
    assert isinstance(first, EventType)
    assert (first.id, first.slug, first.title, first.length_in_minutes) == (123, "intro-call", "Intro call", 30)
    assert first.allowed_lengths == [15, 30, 60] and first.has_multiple_lengths
    assert [(f.slug, f.required) for f in first.booking_fields] == [("name", True), ("email", True),
                                                                   ("agenda", True)]
    assert first.booking_url == "https://cal.com/hana/intro-call"
    assert (second.id, second.allowed_lengths, second.hidden, second.minimum_booking_notice) == (124, [60], True, 1440)
    assert not second.has_multiple_lengths


async def test_event_types_empty_list(calcom_mock, client):
    calcom_mock.get("/event-types").respond(200, json=envelope([]))
    assert await client.event_types() == []


async def test_get_booking_is_unwrapped_with_utc_instants(calcom_mock, client):
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(200, json=envelope(booking_json()))
    booking = await client.get_booking("bk_3Xq9AbCdEf12")
    assert isinstance(booking, Booking)
    assert booking.uid == "bk_3Xq9AbCdEf12" and booking.id == 1001 and booking.status == "accepted"
    assert booking.start == datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
    assert booking.end == datetime(2026, 9, 7, 9, 30, tzinfo=UTC)
    assert booking.created_at == datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    assert booking.duration == 30
    assert booking.event_type is not None and booking.event_type.id == 123 and booking.event_type.slug == "intro-call"
    assert booking.host_emails() == {"hana@example.com"}
    assert booking.attendee_emails() == {"ana@example.com", "bob@example.com"}
    assert booking.attendees[0].time_zone == "Europe/Madrid" and booking.attendees[0].language == "es"
    assert booking.meeting_link == "https://app.cal.com/video/bk_3Xq9AbCdEf12"
    assert booking.metadata == {"source": "calbot"}
    assert booking.booking_fields_responses["notes"] == "Intro call"
    assert not booking.is_recurring and not booking.is_seated


async def test_unknown_extra_fields_are_ignored(calcom_mock, client):
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(200, json={
        **envelope(booking_json(rating=5, cancelledByEmail="x@example.com", futureField={"nested": [1, 2]},
                                attendees=[attendee_json(newAttendeeFlag=True)],
                                hosts=[{"id": 7, "name": "Hana Host", "email": "hana@example.com",
                                        "displayEmail": "hana@example.com", "username": "hana",
                                        "timeZone": "Europe/Berlin", "avatar": "https://x.example/a.png"}])),
        "someEnvelopeExtra": True})
    booking = await client.get_booking("bk_3Xq9AbCdEf12")
    assert booking.uid == "bk_3Xq9AbCdEf12"
    assert booking.attendees[0].email == "ana@example.com"
    assert booking.hosts[0].email == "hana@example.com"
    assert not hasattr(booking, "futureField") and "futureField" not in booking.model_dump(by_alias=True)


async def test_location_that_is_a_place_is_not_a_meeting_link(calcom_mock, client):
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(200, json=envelope(booking_json(
        location="Main St 1, Berlin", meetingUrl=OMIT)))
    booking = await client.get_booking("bk_3Xq9AbCdEf12")
    assert booking.location == "Main St 1, Berlin"
    assert booking.meeting_link is None


# -- recurring and seated outputs ----------------------------------------------------------------------------------
async def test_create_returning_a_recurring_series_array(calcom_mock, client):
    calcom_mock.post("/bookings").respond(201, json=envelope(recurring_series_json("rec_Series42", 3)))
    result = await _create(client)
    assert isinstance(result, list) and len(result) == 3
    assert [b.uid for b in result] == ["rec_Series42_0", "rec_Series42_1", "rec_Series42_2"]
    assert all(b.is_recurring and b.recurring_booking_uid == "rec_Series42" for b in result)
    assert [b.start.date().isoformat() for b in result] == ["2026-09-07", "2026-09-14", "2026-09-21"]


async def test_get_series_uid_returns_every_recurrence(calcom_mock, client):
    calcom_mock.get("/bookings/rec_Series42").respond(200, json=envelope(recurring_series_json("rec_Series42", 4)))
    result = await client.get_booking("rec_Series42")
    assert isinstance(result, list) and [b.id for b in result] == [2000, 2001, 2002, 2003]


async def test_get_one_recurrence_returns_a_single_recurring_booking(calcom_mock, client):
    calcom_mock.get("/bookings/rec_Series42_1").respond(200, json=envelope(recurring_booking_json(
        "rec_Series42", uid="rec_Series42_1")))
    booking = await client.get_booking("rec_Series42_1")
    assert isinstance(booking, Booking) and booking.is_recurring and booking.recurring_booking_uid == "rec_Series42"


async def test_cancel_a_series_returns_every_cancelled_recurrence(calcom_mock, client):
    calcom_mock.post("/bookings/rec_Series42/cancel").respond(200, json=envelope(recurring_series_json(
        "rec_Series42", 2, status="cancelled", cancellationReason="Moving")))
    result = await client.cancel_booking("rec_Series42", reason="Moving")
    assert isinstance(result, list)
    assert [(b.status, b.cancellation_reason) for b in result] == [("cancelled", "Moving")] * 2


async def test_create_on_a_seated_event_returns_attendees_with_seat_uids(calcom_mock, client):
    calcom_mock.post("/bookings").respond(201, json=envelope(seated_booking_json(seatUid="seat_8f3k2LmN")))
    booking = await _create(client)
    assert isinstance(booking, Booking) and booking.is_seated
    assert [(a.email, a.seat_uid) for a in booking.attendees] == [("ana@example.com", "seat_8f3k2LmN"),
                                                                  ("ben@example.com", "seat_Z9y8X7w6")]
    assert booking.booking_fields_responses == {} and booking.guests == []


async def test_list_mixing_normal_recurring_and_seated_outputs(calcom_mock, client):
    data = [booking_json(), recurring_booking_json("rec_Series42", uid="rec_Series42_0", id=2000),
            seated_booking_json(), recurring_booking_json("rec_Seated9", uid="rec_Seated9_0", id=4000,
                                                          attendees=[seated_attendee_json()])]
    calcom_mock.get("/bookings").respond(200, json=paginated(data, 100, 0, 4))
    result = await client.list_bookings()
    assert [b.uid for b in result] == ["bk_3Xq9AbCdEf12", "rec_Series42_0", "bk_Seated77", "rec_Seated9_0"]
    assert [(b.is_recurring, b.is_seated) for b in result] == [(False, False), (True, False), (False, True),
                                                               (True, True)]


async def test_list_flattens_recurring_arrays_nested_in_data(calcom_mock, client):
    # Not in the spec (items are objects there) but the client promises to flatten series; stay off-spec here.
    calcom_mock.validate_responses = False
    data = [booking_json(), recurring_series_json("rec_Series42", 2), seated_booking_json()]
    calcom_mock.get("/bookings").respond(200, json=paginated(data, 100, 0, 3))
    result = await client.list_bookings()
    assert [b.uid for b in result] == ["bk_3Xq9AbCdEf12", "rec_Series42_0", "rec_Series42_1", "bk_Seated77"]


async def test_null_lists_and_objects_in_a_booking_become_empty(calcom_mock, client):
    calcom_mock.validate_responses = False  # Cal.com has sent nulls here; the spec does not allow them
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(200, json=envelope(booking_json(
        guests=None, metadata=None, bookingFieldsResponses=None, hosts=None)))
    booking = await client.get_booking("bk_3Xq9AbCdEf12")
    assert (booking.guests, booking.metadata, booking.booking_fields_responses, booking.hosts) == ([], {}, {}, [])


# -- list_bookings: query and paging -------------------------------------------------------------------------------
async def test_list_query_carries_the_filters_in_utc(calcom_mock, client):
    route = calcom_mock.get("/bookings").respond(200, json=paginated([], 100, 0, 0))
    result = await client.list_bookings(status="upcoming", attendee_email="ana@example.com",
                                        after_start=datetime(2026, 9, 7, 8, 0, tzinfo=BERLIN),
                                        before_end=datetime(2026, 9, 8, 20, 0, tzinfo=BERLIN), event_type_id=123)
    assert result == []
    assert route.call_count == 1
    assert sent_query(route.calls.last) == {
        "status": ["upcoming"], "attendeeEmail": ["ana@example.com"], "afterStart": ["2026-09-07T06:00:00Z"],
        "beforeEnd": ["2026-09-08T18:00:00Z"], "eventTypeId": ["123"], "sortStart": ["asc"], "take": ["100"],
        "skip": ["0"]}


async def test_list_without_filters_sends_only_sort_and_paging(calcom_mock, client):
    route = calcom_mock.get("/bookings").respond(200, json=paginated([], 100, 0, 0))
    await client.list_bookings()
    assert sent_query(route.calls.last) == {"sortStart": ["asc"], "take": ["100"], "skip": ["0"]}


async def test_list_accepts_a_comma_list_of_statuses(calcom_mock, client):
    route = calcom_mock.get("/bookings").respond(200, json=paginated([], 100, 0, 0))
    await client.list_bookings(status="upcoming,unconfirmed")
    assert sent_query(route.calls.last)["status"] == ["upcoming,unconfirmed"]


def _page(request: httpx.Request, total: int, prefix: str = "bk_") -> httpx.Response:
    query = parse_qs(request.url.query.decode())
    take, skip = int(query["take"][0]), int(query["skip"][0])
    data = [booking_json(uid=f"{prefix}{n:04d}", id=n) for n in range(skip, min(skip + take, total))]
    return httpx.Response(200, json=paginated(data, take, skip, total))


async def test_list_follows_has_next_page_with_the_default_page_size(calcom_mock, client):
    route = calcom_mock.get("/bookings").mock(side_effect=lambda request: _page(request, 250))
    result = await client.list_bookings()
    assert [sent_query(call)["skip"] for call in route.calls] == [["0"], ["100"], ["200"]]
    assert all(sent_query(call)["take"] == ["100"] for call in route.calls)
    assert [b.uid for b in result] == [f"bk_{n:04d}" for n in range(250)]


async def test_list_follows_has_next_page_with_a_custom_page_size(calcom_mock, client):
    route = calcom_mock.get("/bookings").mock(side_effect=lambda request: _page(request, 5))
    result = await client.list_bookings(page_size=2)
    assert [(sent_query(c)["take"], sent_query(c)["skip"]) for c in route.calls] == [
        (["2"], ["0"]), (["2"], ["2"]), (["2"], ["4"])]
    assert [b.id for b in result] == [0, 1, 2, 3, 4]


async def test_list_stops_when_has_next_page_is_false(calcom_mock, client):
    route = calcom_mock.get("/bookings").respond(200, json=paginated([booking_json()], 2, 0, 1))
    result = await client.list_bookings(page_size=2)
    assert route.call_count == 1 and len(result) == 1


async def test_list_stops_on_an_empty_page_even_if_the_server_says_there_is_more(calcom_mock, client):
    body = {"status": "success", "data": [], "pagination": {**pagination(100, 0, 10, returned=0),
                                                            "hasNextPage": True}}
    route = calcom_mock.get("/bookings").respond(200, json=body)
    assert await client.list_bookings() == []
    assert route.call_count == 1


async def test_list_gives_up_after_max_pages_when_the_server_always_has_a_next_page(calcom_mock, client, caplog):
    def always_more(request: httpx.Request) -> httpx.Response:
        skip = int(parse_qs(request.url.query.decode())["skip"][0])
        body = paginated([booking_json(uid=f"bk_{skip:06d}", id=skip + 1)], 1, skip, 10_000_000)
        return httpx.Response(200, json=body)

    route = calcom_mock.get("/bookings").mock(side_effect=always_more)
    with caplog.at_level(logging.WARNING, logger="calbot.calcom.client"):
        result = await client.list_bookings(page_size=1)
    assert route.call_count == MAX_PAGES == 40
    assert len(result) == MAX_PAGES
    assert "stopped paging" in caplog.text


@pytest.mark.parametrize(("page_size", "take"), [(1000, "250"), (250, "250"), (0, "1"), (-5, "1")])
async def test_list_page_size_is_clamped_to_what_cal_com_accepts(calcom_mock, client, page_size, take):
    route = calcom_mock.get("/bookings").respond(200, json=paginated([], 1, 0, 0))
    await client.list_bookings(page_size=page_size)
    assert sent_query(route.calls.last)["take"] == [take]


async def test_list_without_pagination_object_returns_the_first_page(calcom_mock, client):
    calcom_mock.validate_responses = False  # the spec requires pagination; the client must not loop without it
    route = calcom_mock.get("/bookings").respond(200, json=envelope([booking_json()]))
    result = await client.list_bookings()
    assert route.call_count == 1 and [b.uid for b in result] == ["bk_3Xq9AbCdEf12"]


# -- error envelopes -----------------------------------------------------------------------------------------------
TOO_SOON = ("The event type can't be booked at the \"start\" time provided. This could be because it's too soon "
            "(violating the minimum booking notice) or too far in the future (outside the event's scheduling "
            "window). Try fetching available slots first using the GET /v2/slots endpoint.")

CREATE_ERRORS = [
    # id, status, code, message, expected class
    ("slot-taken-400", 400, "BadRequestException", SLOT_TAKEN, SlotUnavailableError),
    ("slot-taken-409", 409, "ConflictException", SLOT_TAKEN, SlotUnavailableError),
    ("team-hosts-busy", 400, "BadRequestException",
     "One of the hosts either already has booking at this time or is not available", SlotUnavailableError),
    ("too-soon", 400, "BadRequestException", TOO_SOON, SlotUnavailableError),
    ("seats-full", 409, "ConflictException", "No more seats left at this seated booking.", SlotUnavailableError),
    ("in-the-past", 400, "BadRequestException", "Attempting to book a meeting in the past.", BadRequestError),
    ("booker-limit", 400, "BadRequestException",
     "Attendee with this email can't book because the maximum number of active bookings has been reached.",
     BadRequestError),
    ("missing-field", 400, "BadRequestException",
     "Missing required booking field response: agenda - Agenda is required", BadRequestError),
    ("zod", 400, "BAD_REQUEST", "attendee.timeZone - Invalid time zone", BadRequestError),
    ("no-hosts", 422, "UnprocessableEntityException",
     "Can't book this team event type because it has no hosts assigned.", BadRequestError),
    ("event-type-missing", 404, "NotFoundException", "Event type with id 123 not found.", NotFoundError),
    ("db-duplicate", 409, "CONFLICT", "Invalid Input: Trying to create a record that already exists.", ConflictError),
    ("unauthorized", 401, "UnauthorizedException", "ApiAuthStrategy - api key - Invalid API Key",
     AuthenticationError),
    ("forbidden", 403, "ForbiddenException", "User is not authorized to book this event type", PermissionDeniedError),
    ("server", 500, "INTERNAL_SERVER_ERROR", "Internal server error.", ServerError),
]


@pytest.mark.parametrize(("status", "code", "message", "cls"), [pytest.param(*row[1:], id=row[0])
                                                                for row in CREATE_ERRORS])
async def test_create_errors_become_typed_exceptions(calcom_mock, client, status, code, message, cls):
    route = calcom_mock.post("/bookings").mock(return_value=error_response(status, code, message))
    with pytest.raises(CalcomAPIError) as info:
        await _create(client)
    exc = info.value
    assert type(exc) is cls
    assert (exc.status, exc.code, exc.message, exc.request_id, exc.method) == (status, code, message, REQUEST_ID,
                                                                             "POST")
    assert exc.path.endswith("/bookings")
    assert exc.details == {"message": message, "error": exc.details["error"], "statusCode": status}
    assert str(exc) == f"{status} {code}: {message}"
    assert route.call_count == 1  # never retried: a write may have happened (API-NOTES §12)
    assert_key_hidden(exc)


async def test_reschedule_slot_taken_is_slot_unavailable(calcom_mock, client):
    calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/reschedule").mock(return_value=error_response(
        409, "ConflictException", SLOT_TAKEN, "/v2/bookings/bk_3Xq9AbCdEf12/reschedule"))
    with pytest.raises(SlotUnavailableError) as info:
        await client.reschedule_booking("bk_3Xq9AbCdEf12", RescheduleRequest(start=datetime(2026, 9, 8,
                                                                                             tzinfo=UTC)))
    assert info.value.status == 409 and info.value.path.endswith("/bookings/bk_3Xq9AbCdEf12/reschedule")


@pytest.mark.parametrize("message", [
    "Can't reschedule booking with uid=bk_3Xq9AbCdEf12 because it has been cancelled. Please provide uid of a "
    "booking that is not cancelled.",
    "Can't reschedule booking with uid=bk_3Xq9AbCdEf12 because it has been cancelled and rescheduled already to "
    "booking with uid=bk_New0001. You probably want to reschedule bk_New0001 instead by passing it within the "
    "request URL.",
])
async def test_reschedule_of_a_cancelled_booking_is_a_plain_bad_request(calcom_mock, client, message):
    calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/reschedule").mock(return_value=error_response(
        400, "BadRequestException", message, "/v2/bookings/bk_3Xq9AbCdEf12/reschedule"))
    with pytest.raises(BadRequestError) as info:
        await client.reschedule_booking("bk_3Xq9AbCdEf12", RescheduleRequest(start=datetime(2026, 9, 8,
                                                                                             tzinfo=UTC)))
    assert type(info.value) is BadRequestError and info.value.message == message


async def test_cancel_twice_is_a_bad_request_with_the_server_message(calcom_mock, client):
    message = ("Can't cancel booking with uid=bk_3Xq9AbCdEf12 because it has been cancelled already. Please provide "
               "uid of a booking that is not cancelled.")
    calcom_mock.post("/bookings/bk_3Xq9AbCdEf12/cancel").mock(return_value=error_response(
        400, "BadRequestException", message, "/v2/bookings/bk_3Xq9AbCdEf12/cancel"))
    with pytest.raises(BadRequestError) as info:
        await client.cancel_booking("bk_3Xq9AbCdEf12")
    assert type(info.value) is BadRequestError
    assert info.value.message == message and info.value.request_id == REQUEST_ID


async def test_unknown_booking_is_not_found(calcom_mock, client):
    message = "Booking with uid=bk_Nope0000 was not found in the database"
    calcom_mock.get("/bookings/bk_Nope0000").mock(return_value=error_response(
        404, "NotFoundException", message, "/v2/bookings/bk_Nope0000"))
    with pytest.raises(NotFoundError) as info:
        await client.get_booking("bk_Nope0000")
    assert (info.value.status, info.value.code, info.value.message, info.value.method) == (
        404, "NotFoundException", message, "GET")


async def test_unauthorized_on_me(calcom_mock, client):
    calcom_mock.get("/me").mock(return_value=error_response(401, "UnauthorizedException",
                                                            "ApiAuthStrategy - api key - Invalid API Key", "/v2/me"))
    with pytest.raises(AuthenticationError) as info:
        await client.me()
    assert info.value.status == 401 and info.value.code == "UnauthorizedException"
    assert_key_hidden(info.value)


async def test_rate_limited_carries_the_reset_seconds(calcom_mock, client):
    calcom_mock.get("/bookings").mock(return_value=error_response(
        429, "ThrottlerException", "CustomThrottlerGuard - Too many requests. Please try again later.",
        headers={"X-RateLimit-Limit-Default": "120", "X-RateLimit-Remaining-Default": "0",
                 "X-RateLimit-Reset-Default": "42"}))
    with pytest.raises(RateLimitedError) as info:
        await client.list_bookings()
    exc = info.value
    assert exc.retry_after == 42
    assert (exc.status, exc.code, exc.request_id) == (429, "ThrottlerException", REQUEST_ID)
    assert exc.message == "CustomThrottlerGuard - Too many requests. Please try again later."


async def test_rate_limited_without_reset_header_has_no_retry_after(calcom_mock, client):
    calcom_mock.get("/bookings").mock(return_value=error_response(429, "ThrottlerException", "Too many requests"))
    with pytest.raises(RateLimitedError) as info:
        await client.list_bookings()
    assert info.value.retry_after is None


async def test_rate_limited_uses_the_reset_of_the_exhausted_limit(calcom_mock, client):
    calcom_mock.get("/bookings").mock(return_value=error_response(
        429, "ThrottlerException", "CustomThrottlerGuard - Too many requests. Please try again later.",
        headers={"X-RateLimit-Limit-Default": "120", "X-RateLimit-Remaining-Default": "0",
                 "X-RateLimit-Reset-Default": "42", "X-RateLimit-Limit-Burst": "20",
                 "X-RateLimit-Remaining-Burst": "17", "X-RateLimit-Reset-Burst": "3"}))
    with pytest.raises(RateLimitedError) as info:
        await client.list_bookings()
    assert info.value.retry_after == 42


async def test_rate_limited_without_remaining_headers_waits_for_the_longest_reset(calcom_mock, client):
    calcom_mock.get("/bookings").mock(return_value=error_response(
        429, "ThrottlerException", "Too many requests",
        headers={"X-RateLimit-Reset-Burst": "3", "X-RateLimit-Reset-Default": "42", "X-RateLimit-Reset-Odd": "soon"}))
    with pytest.raises(RateLimitedError) as info:
        await client.list_bookings()
    assert info.value.retry_after == 42


async def test_server_error_envelope(calcom_mock, client):
    calcom_mock.get("/event-types").mock(return_value=error_response(500, "INTERNAL_SERVER_ERROR",
                                                                     "Internal server error.", "/v2/event-types"))
    with pytest.raises(ServerError) as info:
        await client.event_types()
    assert (info.value.status, info.value.code, info.value.message) == (500, "INTERNAL_SERVER_ERROR",
                                                                        "Internal server error.")


async def test_non_json_502_is_a_server_error_with_the_reason_phrase(calcom_mock, client):
    calcom_mock.get("/me").respond(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                                   headers={"Content-Type": "text/html", "X-Request-Id": "edge-1"})
    with pytest.raises(ServerError) as info:
        await client.me()
    exc = info.value
    assert (exc.status, exc.code, exc.message, exc.request_id, exc.details) == (502, "HTTP_ERROR", "Bad Gateway",
                                                                                "edge-1", None)
    assert_key_hidden(exc)


async def test_empty_503_is_a_server_error(calcom_mock, client):
    calcom_mock.get("/slots").respond(503)
    with pytest.raises(ServerError) as info:
        await client.slots(123, datetime(2026, 9, 7, tzinfo=UTC), datetime(2026, 9, 8, tzinfo=UTC), time_zone="UTC")
    assert (info.value.status, info.value.message, info.value.request_id) == (503, "Service Unavailable", None)


async def test_error_message_falls_back_to_top_level_message(calcom_mock, client):
    calcom_mock.post("/bookings").respond(400, json={"status": "error", "message": "Top-level explanation",
                                                     "error": {"code": "BAD_REQUEST"}})
    with pytest.raises(BadRequestError) as info:
        await _create(client)
    assert (info.value.code, info.value.message) == ("BAD_REQUEST", "Top-level explanation")


async def test_error_message_from_a_bare_message_body(calcom_mock, client):
    calcom_mock.post("/bookings").respond(409, json={"message": SLOT_TAKEN})
    with pytest.raises(SlotUnavailableError) as info:
        await _create(client)
    assert (info.value.status, info.value.code, info.value.message) == (409, "HTTP_ERROR", SLOT_TAKEN)


async def test_error_message_falls_back_to_error_as_a_string(calcom_mock, client):
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(403, json={"status": "error", "error": "Forbidden resource"})
    with pytest.raises(PermissionDeniedError) as info:
        await client.get_booking("bk_3Xq9AbCdEf12")
    assert (info.value.code, info.value.message) == ("HTTP_ERROR", "Forbidden resource")


async def test_error_message_prefers_error_message_over_the_others(calcom_mock, client):
    calcom_mock.post("/bookings").respond(400, json={"status": "error", "message": "outer",
                                                     "error": {"code": "BadRequestException", "message": "inner"}})
    with pytest.raises(BadRequestError) as info:
        await _create(client)
    assert info.value.message == "inner"


async def test_class_validator_details_are_kept(calcom_mock, client):
    details = {"errors": [{"property": "start", "constraints": {"isISO8601": "start must be a valid ISO 8601 date"},
                           "value": "tomorrow"}]}
    calcom_mock.post("/bookings").mock(return_value=error_response(400, "BadRequestException",
                                                                   "Bad Request Exception", details=details))
    with pytest.raises(BadRequestError) as info:
        await _create(client)
    assert info.value.details == details


async def test_errors_are_logged_without_the_key(calcom_mock, client, caplog):
    calcom_mock.get("/me").mock(return_value=error_response(401, "UnauthorizedException", "Invalid API Key",
                                                            "/v2/me"))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError):
        await client.me()
    assert REQUEST_ID in caplog.text
    assert API_KEY not in caplog.text


# -- responses that are not Cal.com's envelope ---------------------------------------------------------------------
@pytest.mark.parametrize("response", [
    httpx.Response(200, json={"data": {"id": 7}}),
    httpx.Response(200, json=[me_json()]),
    httpx.Response(200, json={"status": "error", "error": {"code": "X", "message": "y"}}),
    httpx.Response(200, text="<html>captive portal</html>", headers={"Content-Type": "text/html"}),
    httpx.Response(204),
], ids=["no-status", "bare-array", "status-error", "html", "empty"])
async def test_a_success_status_without_the_envelope_is_an_error(calcom_mock, client, response):
    calcom_mock.get("/me").mock(return_value=response)
    with pytest.raises(CalcomNetworkError) as info:
        await client.me()
    assert not isinstance(info.value, CalcomAPIError)
    assert "not its JSON envelope" in str(info.value)
    assert_key_hidden(info.value)


async def test_an_envelope_whose_data_cannot_be_read_is_an_unexpected_response(calcom_mock, client):
    calcom_mock.validate_responses = False  # deliberately off-spec: a booking without uid or start
    calcom_mock.get("/bookings/bk_3Xq9AbCdEf12").respond(200, json=envelope(booking_json(uid=OMIT, start=OMIT)))
    with pytest.raises(CalcomAPIError) as info:
        await client.get_booking("bk_3Xq9AbCdEf12")
    assert info.value.code == "UNEXPECTED_RESPONSE"
    assert "problem" in info.value.message


# -- transport failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exception", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout,
                                       httpx.PoolTimeout])
async def test_timeouts_become_calcom_timeout_errors(calcom_mock, client, exception):
    route = calcom_mock.post("/bookings").mock(side_effect=exception(f"timed out; Authorization: Bearer {API_KEY}"))
    with pytest.raises(CalcomTimeoutError) as info:
        await _create(client)
    exc = info.value
    assert isinstance(exc, CalcomNetworkError) and not isinstance(exc, CalcomAPIError)
    assert (exc.method, exc.path.lstrip("/")) == ("POST", "bookings")
    assert exception.__name__ in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__
    assert route.call_count == 1  # a create that timed out is not blindly repeated (API-NOTES §12)
    assert_key_hidden(exc)


@pytest.mark.parametrize("exception", [httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol])
async def test_connection_failures_become_calcom_network_errors(calcom_mock, client, exception):
    calcom_mock.get("/me").mock(side_effect=exception(f"failed with Bearer {API_KEY}"))
    with pytest.raises(CalcomNetworkError) as info:
        await client.me()
    exc = info.value
    assert type(exc) is CalcomNetworkError  # nothing was sent
    assert (exc.method, exc.path.lstrip("/")) == ("GET", "me")
    assert "could not reach Cal.com" in str(exc)
    assert_key_hidden(exc)


@pytest.mark.parametrize("exception", [httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError])
async def test_a_connection_broken_after_sending_is_connection_lost(calcom_mock, client, exception):
    # The request may have reached Cal.com: for a write, whether it happened is unknown (as after a timeout).
    route = calcom_mock.post("/bookings").mock(side_effect=exception(f"failed with Bearer {API_KEY}"))
    with pytest.raises(CalcomConnectionLostError) as info:
        await _create(client)
    exc = info.value
    assert isinstance(exc, CalcomNetworkError) and not isinstance(exc, CalcomTimeoutError)
    assert (exc.method, exc.path.lstrip("/")) == ("POST", "bookings")
    assert exception.__name__ in str(exc) and "before its answer arrived" in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__
    assert route.call_count == 1  # not blindly repeated (API-NOTES §12)
    assert_key_hidden(exc)


async def test_every_failure_is_a_calcom_error(calcom_mock, client):
    calcom_mock.get("/me").mock(side_effect=httpx.ConnectError("refused"))
    calcom_mock.get("/event-types").respond(500, text="oops")
    for call in (client.me(), client.event_types()):
        with pytest.raises(CalcomError):
            await call


# -- the spec checks themselves (so a silent validator cannot make the tests above pass) ---------------------------
HEADERS = {"Authorization": f"Bearer {API_KEY}", "cal-api-version": "2024-08-13"}


def test_payload_helpers_pass_the_spec():
    def check(method: str, path: str, status: int, body: Any, version: str = "2024-08-13") -> None:
        request = httpx.Request(method, f"https://api.cal.com/v2{path}", headers={**HEADERS, "cal-api-version":
                                                                                   version})
        validate_response(request, httpx.Response(status, json=body, request=request))

    check("GET", "/bookings/x", 200, envelope(booking_json()))
    check("GET", "/bookings/x", 200, envelope(recurring_booking_json()))
    check("GET", "/bookings/x", 200, envelope(recurring_series_json(count=6)))
    check("GET", "/bookings/x", 200, envelope(seated_booking_json()))
    check("GET", "/bookings", 200, paginated([booking_json(), recurring_booking_json(), seated_booking_json()],
                                             10, 0, 3))
    check("POST", "/bookings", 201, envelope(booking_json()))
    check("POST", "/bookings", 201, envelope(seated_booking_json(seatUid="seat_1")))
    check("POST", "/bookings/x/cancel", 200, envelope(booking_json(status="cancelled")))
    check("POST", "/bookings/x/reschedule", 201, envelope(booking_json(rescheduledFromUid="old")))
    check("GET", "/event-types", 200, envelope([event_type_json(), event_type_json(lengthInMinutesOptions=OMIT)]),
          "2024-06-14")
    check("GET", "/me", 200, envelope(me_json()))
    check("GET", "/slots", 200, slots_json({"2050-09-05": [("2050-09-05T09:00:00.000+02:00", None)]}), "2024-09-04")
    check("GET", "/bookings/x", 404, error_envelope(404, "NotFoundException", "Booking with uid=x was not found",
                                                    "/v2/bookings/x"))
    check("POST", "/bookings", 429, error_envelope(429, "ThrottlerException", "Too many requests", details=None))


def test_error_envelope_matches_api_notes_section_2():
    assert error_envelope(400, "BadRequestException", SLOT_TAKEN, "/v2/bookings") == {
        "status": "error", "timestamp": "2026-03-01T10:00:00.000Z", "path": "/v2/bookings",
        "error": {"code": "BadRequestException", "message": SLOT_TAKEN,
                  "details": {"message": SLOT_TAKEN, "error": "Bad Request", "statusCode": 400}}}


def test_pagination_helper_follows_section_4():
    assert pagination(100, 100, 250) == {"totalItems": 250, "remainingItems": 50, "returnedItems": 100,
                                         "itemsPerPage": 100, "currentPage": 2, "totalPages": 3,
                                         "hasNextPage": True, "hasPreviousPage": True}
    last = paginated([booking_json()] * 50, 100, 200, 250)["pagination"]
    assert (last["returnedItems"], last["remainingItems"], last["currentPage"], last["hasNextPage"]) == (
        50, 0, 3, False)
    assert pagination(100, 0, 0)["totalPages"] == 0 and not pagination(100, 0, 0)["hasNextPage"]


def test_booking_json_overrides_and_omit():
    booking = booking_json(status="pending", location=OMIT)
    assert booking["status"] == "pending" and "location" not in booking
    assert booking_json() is not booking_json() and booking_json()["hosts"] is not booking_json()["hosts"]


@pytest.mark.parametrize(("request_", "needle"), [
    (httpx.Request("GET", "https://api.cal.com/v2/bookings", headers={"Authorization": f"Bearer {API_KEY}"}),
     "MissingCalApiVersion"),
    (httpx.Request("GET", "https://api.cal.com/v2/slots?start=2026-09-07&end=2026-09-08", headers=HEADERS),
     "WrongCalApiVersion"),
    (httpx.Request("GET", "https://api.cal.com/v2/me", headers={**HEADERS, "cal-api-version": "2026-02-25"}),
     "UnknownCalApiVersion"),
    (httpx.Request("GET", "https://api.cal.com/v2/bookings", headers={**HEADERS, "Authorization": API_KEY}),
     "InvalidAuthorization"),
    (httpx.Request("GET", "https://api.cal.com/v2/bookings?status=future", headers=HEADERS), "status"),
    (httpx.Request("GET", "https://api.cal.com/v2/bookings?take=ten", headers=HEADERS), "take"),
    (httpx.Request("GET", "https://api.cal.com/v2/slots?end=2026-09-08",
                   headers={**HEADERS, "cal-api-version": "2024-09-04"}), "start"),
    (httpx.Request("POST", "https://api.cal.com/v2/bookings", headers=HEADERS,
                   json={"start": None, "eventTypeId": 1, "attendee": {"name": "A", "timeZone": "UTC"}}),
     "$.start"),
    (httpx.Request("POST", "https://api.cal.com/v2/bookings", headers=HEADERS,
                   json={"start": "2026-09-07T09:00:00Z", "eventTypeId": 1, "guests": None,
                         "attendee": {"name": "A", "timeZone": "UTC"}}), "$.guests"),
    (httpx.Request("POST", "https://api.cal.com/v2/bookings", headers=HEADERS,
                   json={"start": "2026-09-07T09:00:00Z", "attendee": {"name": "A", "language": "xx"}}),
     "$.attendee"),
    (httpx.Request("POST", "https://api.cal.com/v2/bookings/x/cancel", headers=HEADERS), "request body"),
    (httpx.Request("POST", "https://api.cal.com/v2/bookings/x/reschedule", headers=HEADERS, json={}), "start"),
    (httpx.Request("DELETE", "https://api.cal.com/v2/bookings/x", headers=HEADERS), "OperationNotFound"),
    (httpx.Request("GET", "https://api.cal.com/v2/slots/available", headers=HEADERS), "PathNotFound"),
    (httpx.Request("GET", "http://127.0.0.1:9999/v1/bookings", headers=HEADERS), "PathNotFound"),
], ids=["no-version", "slots-with-bookings-version", "unknown-version", "no-bearer", "bad-status", "bad-take",
        "slots-without-start", "null-start", "null-guests", "attendee-errors", "cancel-without-body",
        "reschedule-without-start", "unknown-method", "legacy-slots", "v1"])
def test_validate_request_rejects_off_spec_requests(request_, needle):
    with pytest.raises(AssertionError) as info:
        validate_request(request_)
    assert needle in str(info.value)
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize("url", [
    "https://api.cal.com/v2/bookings?status=upcoming",
    "https://api.cal.com/v2/bookings?status=upcoming,past&take=250&skip=500&sortStart=desc",
    "http://127.0.0.1:8765/v2/bookings?attendeeEmail=ana%40example.com&afterStart=2026-09-07T00:00:00Z",
])
def test_validate_request_accepts_documented_list_queries(url):
    validate_request(httpx.Request("GET", url, headers=HEADERS))


def test_validate_response_checks_the_documented_slots_shape_not_the_spec_schema():
    request = httpx.Request("GET", "https://api.cal.com/v2/slots?start=2050-09-05&end=2050-09-06&format=range",
                            headers={**HEADERS, "cal-api-version": "2024-09-04"})
    good = slots_json({"2050-09-05": [("2050-09-05T09:00:00.000+02:00", "2050-09-05T09:30:00.000+02:00")]})
    validate_response(request, httpx.Response(200, json=good))
    validate_response(request, httpx.Response(200, json=envelope({})))
    for bad, needle in [
        ({"2050-09-05": ["2050-09-05T09:00:00.000+02:00"]}, "not an object"),  # the spec's (wrong) schema
        (envelope({"2050-09-05": [{"start": "2050-09-05T09:00:00"}]}), "with Z or an offset"),
        (envelope({"05/09/2050": []}), "not a YYYY-MM-DD"),
        (envelope({"2050-09-05": [{"start": "2050-09-05T09:00:00Z"}]}), "'end' is required"),
        (envelope({"2050-09-06": [{"start": "2050-09-05T09:00:00Z", "end": "2050-09-05T09:30:00Z"}]}),
         "not on the day"),
        ({"status": "success", "data": []}, "not an object keyed by date"),
    ]:
        with pytest.raises(AssertionError, match="does not match") as info:
            validate_response(request, httpx.Response(200, json=bad))
        assert needle in str(info.value)


def test_validate_response_rejects_off_spec_bodies():
    request = httpx.Request("GET", "https://api.cal.com/v2/bookings/x", headers=HEADERS)
    with pytest.raises(AssertionError) as info:
        validate_response(request, httpx.Response(200, json=envelope(booking_json(status="done", uid=OMIT))))
    text = str(info.value)
    assert "'done' is not one of" in text and "'uid' is a required property" in text
    assert "variant #0 BookingOutput_2024_08_13" in text  # nested errors are listed per variant
    create = httpx.Request("POST", "https://api.cal.com/v2/bookings", headers=HEADERS, json={})
    with pytest.raises(AssertionError, match="200"):  # create answers 201
        validate_response(create, httpx.Response(200, json=envelope(booking_json())))
    with pytest.raises(AssertionError, match=r"\$\.error"):
        validate_response(request, httpx.Response(404, json={"message": "nope"}))
    with pytest.raises(AssertionError, match="not JSON"):
        validate_response(request, httpx.Response(502, text="Bad Gateway"))


async def test_calcom_mock_fails_off_spec_traffic_while_it_is_sent(calcom_mock):
    calcom_mock.get("/bookings").respond(200, json=paginated([], 100, 0, 0))
    calcom_mock.get("/me").respond(200, json=envelope({"id": "seven"}))
    async with httpx.AsyncClient(base_url=BASE_URL) as raw:
        with pytest.raises(AssertionError, match="MissingCalApiVersion"):
            await raw.get("/bookings", headers={"Authorization": f"Bearer {API_KEY}"})
        with pytest.raises(AssertionError, match=r"\$\.data\.id"):
            await raw.get("/me", headers=HEADERS)
        with pytest.raises(AssertionError, match="PathNotFound"):  # checked before respx looks for a route
            await raw.get("/schedules", headers=HEADERS)
    assert len(calcom_mock.spec_failures) == 3
    calcom_mock.spec_failures.clear()  # otherwise the fixture fails this test at teardown, as it should


async def test_redirect_is_not_mistaken_for_a_bad_request(calcom_mock, client):
    calcom_mock.get("/me").respond(301, headers={"Location": "https://elsewhere.example/v2/me"})
    with pytest.raises(CalcomNetworkError) as info:
        await client.me()
    assert type(info.value) is CalcomUnexpectedResponseError and "301" in str(info.value)


async def test_the_key_is_redacted_from_echoed_error_text(calcom_mock, client):
    calcom_mock.get("/event-types").mock(return_value=error_response(
        400, "BadRequestException", f"token {API_KEY} is malformed", "/v2/event-types"))
    with pytest.raises(CalcomAPIError) as info:
        await client.event_types()
    assert API_KEY not in str(info.value) and "[redacted]" in info.value.message
