"""The Cal.com client's retries (API-NOTES §11, §12), at the HTTP level with respx.

Reads are repeated after network errors and 5xx; any request refused with 429 is repeated after a short
X-RateLimit-Reset; a write that may have reached Cal.com (timeout, 5xx, connection lost) is never repeated by the
client. stamina's testing mode (tests/conftest.py) keeps the attempt counts but skips the sleeping, except where a
test turns it off to measure the wait.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import stamina

from calbot.calcom import (
    CalcomClient,
    CalcomConnectionLostError,
    CalcomNetworkError,
    CalcomTimeoutError,
    CalcomUnexpectedResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from calbot.calcom.client import MAX_RATE_LIMIT_WAIT, READ_ATTEMPTS
from calbot.calcom.models import CreateBookingRequest, NewAttendee
from tests.http.cal_payloads import API_KEY, BASE_URL, booking_json, envelope, error_envelope, me_json

LIMITED = "CustomThrottlerGuard - Too many requests. Please try again later."


def limited(reset: float) -> httpx.Response:
    return httpx.Response(429, json=error_envelope(429, "ThrottlerException", LIMITED, "/v2/me"), headers={
        "X-RateLimit-Limit-Default": "120", "X-RateLimit-Remaining-Default": "0",
        "X-RateLimit-Reset-Default": str(reset)})


def server_error() -> httpx.Response:
    return httpx.Response(500, json=error_envelope(500, "INTERNAL_SERVER_ERROR", "Internal server error", "/v2/me"))


@pytest.fixture
async def client(calcom_mock):
    async with CalcomClient(api_key=API_KEY, base_url=BASE_URL) as calcom:
        yield calcom


def new_booking() -> CreateBookingRequest:
    return CreateBookingRequest(start=datetime(2026, 9, 7, 9, 0, tzinfo=UTC), event_type_id=123,
                                attendee=NewAttendee(name="Ana Diaz", email="ana@example.com",
                                                     time_zone="Europe/Madrid"))


# -- reads -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("first", [
    server_error(),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
    httpx.RemoteProtocolError("dropped"),
], ids=["5xx", "connect-error", "read-timeout", "connection-lost"])
async def test_a_read_that_fails_once_is_repeated(calcom_mock, client, first):
    route = calcom_mock.get("/me").mock(side_effect=[first, httpx.Response(200, json=envelope(me_json()))])
    me = await client.me()
    assert me.email and route.call_count == 2


async def test_a_read_that_keeps_failing_gives_up_after_the_attempts(calcom_mock, client):
    route = calcom_mock.get("/me").mock(return_value=server_error())
    with pytest.raises(ServerError):
        await client.me()
    assert route.call_count == READ_ATTEMPTS == 3


@pytest.mark.parametrize(("status", "code", "error"), [(404, "NOT_FOUND", NotFoundError)])
async def test_a_clear_refusal_is_not_repeated(calcom_mock, client, status, code, error):
    route = calcom_mock.get("/me").respond(status, json=error_envelope(status, code, "nope", "/v2/me"))
    with pytest.raises(error):
        await client.me()
    assert route.call_count == 1


async def test_a_reply_that_is_not_cal_com_is_not_repeated(calcom_mock, client):
    route = calcom_mock.get("/me").respond(200, text="<html>login</html>")
    with pytest.raises(CalcomUnexpectedResponseError):
        await client.me()
    assert route.call_count == 1


# -- writes ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("failure", "error"), [
    (server_error(), ServerError),
    (httpx.ReadTimeout("slow"), CalcomTimeoutError),
    (httpx.RemoteProtocolError("dropped"), CalcomConnectionLostError),
], ids=["5xx", "read-timeout", "connection-lost"])
async def test_a_write_that_may_have_happened_is_never_repeated_by_the_client(calcom_mock, client, failure, error):
    route = calcom_mock.post("/bookings").mock(side_effect=[failure, httpx.Response(201, json=envelope(booking_json()))])
    with pytest.raises(error):
        await client.create_booking(new_booking())
    assert route.call_count == 1


async def test_a_write_that_was_never_sent_is_repeated(calcom_mock, client):
    route = calcom_mock.post("/bookings").mock(side_effect=[httpx.ConnectError("refused"),
                                                            httpx.Response(201, json=envelope(booking_json()))])
    booking = await client.create_booking(new_booking())
    assert booking.uid == "bk_3Xq9AbCdEf12" and route.call_count == 2


async def test_a_write_never_sent_in_any_attempt_says_nothing_changed(calcom_mock, client):
    route = calcom_mock.post("/bookings").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(CalcomNetworkError) as info:
        await client.create_booking(new_booking())
    assert type(info.value) is CalcomNetworkError and route.call_count == 3


# -- 429 -------------------------------------------------------------------------------------------------------------
async def test_a_short_rate_limit_is_waited_out_for_reads(calcom_mock, client):
    route = calcom_mock.get("/me").mock(side_effect=[limited(1), httpx.Response(200, json=envelope(me_json()))])
    assert (await client.me()).email and route.call_count == 2


async def test_a_short_rate_limit_is_waited_out_for_writes_too(calcom_mock, client):
    route = calcom_mock.post("/bookings").mock(side_effect=[limited(1),
                                                            httpx.Response(201, json=envelope(booking_json()))])
    assert (await client.create_booking(new_booking())).uid and route.call_count == 2


async def test_a_long_rate_limit_is_told_not_waited(calcom_mock, client):
    route = calcom_mock.get("/me").mock(return_value=limited(MAX_RATE_LIMIT_WAIT + 55))
    with pytest.raises(RateLimitedError) as info:
        await client.me()
    assert info.value.retry_after == MAX_RATE_LIMIT_WAIT + 55 and route.call_count == 1


async def test_the_wait_follows_x_ratelimit_reset(calcom_mock, client):
    route = calcom_mock.get("/me").mock(side_effect=[limited(0.4), httpx.Response(200, json=envelope(me_json()))])
    with stamina.set_testing(False):  # really sleep this once
        started = time.perf_counter()
        await client.me()
        waited = time.perf_counter() - started
    assert route.call_count == 2 and waited >= 0.4


async def test_backoff_really_waits_between_read_attempts(calcom_mock, client):
    route = calcom_mock.get("/me").mock(side_effect=[server_error(), httpx.Response(200, json=envelope(me_json()))])
    with stamina.set_testing(False):
        started = time.perf_counter()
        await client.me()
        waited = time.perf_counter() - started
    assert route.call_count == 2 and waited >= 0.1  # wait_initial 0.2 s, minus nothing: jitter only adds
