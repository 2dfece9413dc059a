"""Random inputs at every sandbox endpoint (issue 15, finding 11): never a 5xx, always Cal.com's JSON envelope.

Hypothesis throws query values (huge and negative numbers, 5000-digit strings, floats, dates from year 1 to 9999 with
and without offsets, long and odd text), JSON bodies (nested, mistyped, near-valid bookings) and raw bytes at the
in-process app. Starlette's TestClient re-raises any exception the app lets out, so an unhandled error fails too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from calbot.sandbox import SANDBOX_API_KEY, Sandbox, SandboxConfig
from tests.sandbox.conftest import FIXED_NOW

KEY = f"Bearer {SANDBOX_API_KEY}"
VERSIONS = {"slots": "2024-09-04", "event-types": "2024-06-14"}
SLOTS_PARAMS = ("start", "end", "eventTypeId", "eventTypeSlug", "username", "timeZone", "duration", "format",
                "bookingUidToReschedule", "usernames", "teamSlug")
LIST_PARAMS = ("status", "attendeeEmail", "attendeeName", "bookingUid", "eventTypeId", "eventTypeIds", "afterStart",
               "beforeEnd", "sortStart", "sortEnd", "take", "skip")
EVENT_TYPE_PARAMS = ("username", "eventSlug", "usernames", "orgSlug", "orgId", "sortCreatedAt")

OFFSETS = st.sampled_from(["", "Z", "+00:00", "+14:00", "-12:00", "+01:00", "-05:00"])
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.tuples(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)), OFFSETS)
    .map(lambda pair: pair[0].isoformat() + pair[1]),
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["9" * 5000, "-" + "9" * 5000, str(2**31), str(2**63), "0", "-1", "1e9", " 7 ", "١٢"]),
    st.floats().map(str),
)
GOOD = st.sampled_from(["1001", "1002", "2026-11-24", "2026-11-25", "2026-11-24T10:00:00Z", "UTC", "Europe/London",
                        "range", "time", "upcoming,past", "asc", "desc", "sandbox", "30min", "ana@example.com"])
TEXT = st.one_of(st.text(max_size=40), st.text(alphabet="a/._-\x00\u202e", min_size=200, max_size=400))
VALUES = st.one_of(GOOD, NUMBERS, DATES, TEXT)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=30), VALUES)
JSON = st.recursive(JSON_LEAVES, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids,
                                                                                         max_size=4), max_leaves=12)
GUESTS = st.lists(st.sampled_from(["g@example.com", "not-an-email", "", "h@example.org"]), max_size=14)
ATTENDEES = st.fixed_dictionaries({}, optional={"name": st.one_of(TEXT, JSON), "email": st.one_of(GOOD, TEXT, JSON),
                                                "timeZone": st.one_of(GOOD, TEXT), "language": st.one_of(GOOD, TEXT),
                                                "phoneNumber": st.one_of(NUMBERS, TEXT)})
BOOKING_BODIES = st.fixed_dictionaries({}, optional={
    "start": st.one_of(DATES, GOOD, JSON), "eventTypeId": st.one_of(st.integers(), NUMBERS, JSON),
    "eventTypeSlug": st.one_of(GOOD, TEXT), "username": st.one_of(GOOD, TEXT), "attendee": st.one_of(ATTENDEES, JSON),
    "guests": st.one_of(GUESTS, JSON), "lengthInMinutes": st.one_of(st.integers(), NUMBERS, JSON),
    "bookingFieldsResponses": JSON, "metadata": JSON, "cancellationReason": st.one_of(TEXT, JSON),
    "rescheduledBy": st.one_of(GOOD, TEXT, JSON), "reschedulingReason": st.one_of(TEXT, JSON)})
BODIES = st.one_of(BOOKING_BODIES.map(lambda b: json.dumps(b).encode()), JSON.map(lambda b: json.dumps(b).encode()),
                   st.binary(max_size=300), st.just(b""))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    sandbox = Sandbox(replace(SandboxConfig(), test_hooks=True, rate_limit=0), ":memory:", lambda: FIXED_NOW)
    with TestClient(sandbox.app, base_url="http://sandbox.calbot.local") as test_client:
        yield test_client
    sandbox.close()


def headers(family: str, version: str | None, keyed: bool) -> dict[str, str]:
    sent = {"cal-api-version": version if version is not None else VERSIONS.get(family, "2024-08-13")}
    return {**sent, "Authorization": KEY} if keyed else sent


def assert_cal_answer(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    if response.status_code < 300:
        assert body["status"] == "success" and "data" in body
    else:
        assert body["status"] == "error" and {"timestamp", "path", "error"} <= set(body)
        assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["code"], str)


# SANDBOX_FUZZ_EXAMPLES=2000 for a longer hunt than the suite's.
FUZZ = settings(max_examples=int(os.environ.get("SANDBOX_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
VERSION = st.one_of(st.none(), st.sampled_from(["2024-08-13", "2024-09-04", "2024-06-14", "2024-04-15", "nope"]))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(SLOTS_PARAMS), VALUES, max_size=7), version=VERSION)
def test_slots_never_fail(client: TestClient, params: dict[str, str], version: str | None) -> None:
    assert_cal_answer(client.get("/v2/slots", params=params, headers=headers("slots", version, False)))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(LIST_PARAMS), VALUES, max_size=7), version=VERSION)
def test_list_never_fails(client: TestClient, params: dict[str, str], version: str | None) -> None:
    assert_cal_answer(client.get("/v2/bookings", params=params, headers=headers("bookings", version, True)))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(EVENT_TYPE_PARAMS), VALUES, max_size=4), keyed=st.booleans())
def test_event_types_and_me_never_fail(client: TestClient, params: dict[str, str], keyed: bool) -> None:
    assert_cal_answer(client.get("/v2/event-types", params=params, headers=headers("event-types", None, keyed)))
    assert_cal_answer(client.get("/v2/me", params=params, headers=headers("me", "2024-08-13", keyed)))


@FUZZ
@given(body=BODIES, keyed=st.booleans(), version=VERSION)
def test_create_never_fails(client: TestClient, body: bytes, keyed: bool, version: str | None) -> None:
    assert_cal_answer(client.post("/v2/bookings", content=body, headers={
        **headers("bookings", version, keyed), "content-type": "application/json"}))


@FUZZ
@given(uid=st.one_of(st.text(alphabet="abcXYZ019-_.%~", min_size=1, max_size=300), st.just("missing")),
       action=st.sampled_from(["", "/cancel", "/reschedule"]), body=BODIES, keyed=st.booleans())
def test_booking_by_uid_never_fails(client: TestClient, uid: str, action: str, body: bytes, keyed: bool) -> None:
    path = f"/v2/bookings/{uid}{action}"
    sent = headers("bookings", None, keyed)
    response = client.get(path, headers=sent) if not action else client.post(
        path, content=body, headers={**sent, "content-type": "application/json"})
    assert_cal_answer(response)


@FUZZ
@given(body=st.one_of(BOOKING_BODIES, JSON), action=st.sampled_from(["/cancel", "/reschedule"]))
def test_cancel_and_reschedule_of_a_real_booking_never_fail(client: TestClient, body: Any, action: str) -> None:
    made = client.post("/v2/bookings", headers=headers("bookings", None, True), json={
        "start": "2026-11-25T10:00:00Z", "eventTypeId": 1001,
        "attendee": {"name": "Ana", "email": "ana@example.com", "timeZone": "UTC"}})
    uid = made.json()["data"]["uid"] if made.status_code == 201 else "missing"
    assert_cal_answer(client.post(f"/v2/bookings/{uid}{action}", json=body, headers=headers("bookings", None, True)))
    if made.status_code == 201:  # free the slot again for the next example
        client.post(f"/v2/bookings/{uid}/cancel", json={}, headers=headers("bookings", None, True))
