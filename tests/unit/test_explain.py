"""Pure unit tests for calbot.explain.explain() and calbot.calcom.errors.error_class_for().

Each Cal.com error is built the way the client builds it: the class from error_class_for(status, message), then
cls(status, code, message). The sentence must be ours (never Cal.com's text), plain, and say what to do.
"""

from __future__ import annotations

import re
from unittest.mock import Mock

import pytest

from calbot.calcom.errors import (
    AuthenticationError,
    BadRequestError,
    CalcomAPIError,
    CalcomConnectionLostError,
    CalcomError,
    CalcomNetworkError,
    CalcomTimeoutError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SlotUnavailableError,
    error_class_for,
)
from calbot.explain import explain
from calbot.timezones import NonexistentLocalTimeError, TimeInputError
from calbot.validation import InvalidEmailError

# API-NOTES §10 (create and reschedule)
SLOT_TAKEN = "User either already has booking at this time or is not available"
TEAM_SLOT_TAKEN = "One of the hosts either already has booking at this time or is not available"
TOO_SOON = ("The event type can't be booked at the \"start\" time provided. This could be because it's too soon "
            "(violating the minimum booking notice) or too far in the future (outside the event's scheduling "
            "window). Try fetching available slots first using the GET /v2/slots endpoint and then make a booking "
            "with \"start\" time set to one of the returned slots.")
PAST = "Attempting to book a meeting in the past."
BOOKER_LIMIT = ("Attendee with this email can't book because the maximum number of active bookings has been reached. "
                "You can reschedule your existing booking (uid=bk_8f3a2) to a new timeslot instead.")
NO_SEATS = "No more seats left at this seated booking."
NO_HOSTS = "Can't book this team event type because it has no hosts. Please add hosts to the event type."
EVENT_TYPE_NOT_FOUND = "Event type with id 123456 not found."
EVENT_TYPE_SLUG_NOT_FOUND = "Event type with slug intro-call not found."
USER_NOT_FOUND = "User with username ana-diaz not found."
TEAM_NOT_FOUND = "Team with slug sales not found."
PRISMA_CONFLICT = "Invalid Input: Trying to create a record that already exists."
# API-NOTES §3
LENGTH_NOT_ALLOWED = ("Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
                      "Please remove the 'lengthInMinutes' field from the request.")
MISSING_FIELD = "Missing required booking field response: company - Company name is required."
MISSING_PHONE = "Missing attendee phone number - it is required by the event type. Pass it as \"attendee.phoneNumber\"."
# API-NOTES §5, §6, §7
BOOKING_NOT_FOUND = "Booking with uid=abc123XYZ was not found in the database"
ALREADY_CANCELLED = ("Can't cancel booking with uid=abc123XYZ because it has been cancelled already. Please provide "
                     "uid of a booking that is not cancelled.")
RESCHEDULE_CANCELLED = ("Can't reschedule booking with uid=abc123XYZ because it has been cancelled. Please provide "
                        "uid of a booking that is not cancelled.")
RESCHEDULE_RESCHEDULED = ("Can't reschedule booking with uid=abc123XYZ because it has been cancelled and rescheduled "
                          "already to booking with uid=def456UVW. You probably want to reschedule def456UVW instead "
                          "by passing it within the request URL.")
SEATED_NEEDS_SEAT = ("Booking with uid=abc123XYZ is a seated booking which means you have to provide seatUid in the "
                     "request body to specify which seat specifically you want to reschedule.")
# API-NOTES §11, §1, §2
THROTTLED = "CustomThrottlerGuard - Too many requests. Please try again later."
UNAUTHORIZED = "ApiAuthGuard - Invalid API Key"
FORBIDDEN = "ApiAuthGuard - insufficient permissions: BOOKING_WRITE required"
INTERNAL = "Internal server error."

CODES = {400: "BadRequestException", 401: "UnauthorizedException", 403: "ForbiddenException",
         404: "NotFoundException", 409: "ConflictException", 422: "UnprocessableEntityException",
         429: "ThrottlerException", 500: "INTERNAL_SERVER_ERROR", 502: "INTERNAL_SERVER_ERROR",
         503: "INTERNAL_SERVER_ERROR",
         504: "INTERNAL_SERVER_ERROR"}


def api_error(status: int, message: str, code: str | None = None, **kwargs: object) -> CalcomAPIError:
    cls = error_class_for(status, message)
    return cls(status, code or CODES[status], message, path="/v2/bookings", method="POST",
               request_id="req-7f1c", **kwargs)


def assert_plain(sentence: str, raw: str | None = None) -> None:
    assert isinstance(sentence, str)
    assert sentence.strip() == sentence and sentence
    assert sentence[-1] in ".!?"
    assert "\n" not in sentence
    assert "Exception" not in sentence
    assert "uid=" not in sentence
    assert "Traceback" not in sentence
    assert 'File "' not in sentence
    assert "/v2/" not in sentence
    assert "req-7f1c" not in sentence
    assert not re.search(r"\b[A-Z][A-Za-z]+Error\b", sentence)  # no class names
    assert not re.search(r"\b(40[0-9]|42[29]|50[0-9])\b", sentence)  # no bare HTTP status codes
    if raw:
        assert raw not in sentence
        assert raw.split(".")[0] not in sentence  # not even its first sentence


# (status, Cal.com message, expected class, words the sentence must contain)
CASES = [
    (400, SLOT_TAKEN, SlotUnavailableError, ["not free", "Pick another"]),
    (409, SLOT_TAKEN, SlotUnavailableError, ["not free", "Pick another"]),
    (400, TEAM_SLOT_TAKEN, SlotUnavailableError, ["hosts", "not free"]),
    (409, TEAM_SLOT_TAKEN, SlotUnavailableError, ["hosts", "not free"]),
    (400, TOO_SOON, SlotUnavailableError, ["too soon", "too far ahead"]),
    (400, PAST, BadRequestError, ["past"]),
    (400, BOOKER_LIMIT, BadRequestError, ["as many active bookings", "Reschedule"]),
    (409, NO_SEATS, SlotUnavailableError, ["full", "no seats"]),
    (400, NO_SEATS, SlotUnavailableError, ["full", "no seats"]),
    (422, NO_HOSTS, BadRequestError, ["no hosts", "add hosts"]),
    (404, EVENT_TYPE_NOT_FOUND, NotFoundError, ["CAL_EVENT_TYPE_ID", "event type"]),
    (404, EVENT_TYPE_SLUG_NOT_FOUND, NotFoundError, ["CAL_EVENT_TYPE_ID"]),
    (404, USER_NOT_FOUND, NotFoundError, ["user or team", "not found"]),
    (404, TEAM_NOT_FOUND, NotFoundError, ["user or team", "not found"]),
    (409, PRISMA_CONFLICT, ConflictError, ["at the same moment", "Pick another"]),
    (500, PRISMA_CONFLICT, ServerError, ["at the same moment"]),
    (400, LENGTH_NOT_ALLOWED, BadRequestError, ["length", "allowed lengths"]),
    (400, MISSING_FIELD, BadRequestError, ["required question", "Cal.com page"]),
    (400, MISSING_PHONE, BadRequestError, ["phone number"]),
    (404, BOOKING_NOT_FOUND, NotFoundError, ["could not find that booking", "List your meetings"]),
    (400, ALREADY_CANCELLED, BadRequestError, ["already cancelled"]),
    (400, RESCHEDULE_CANCELLED, BadRequestError, ["cancelled", "cannot be moved", "Book a new one"]),
    (400, RESCHEDULE_RESCHEDULED, BadRequestError, ["already moved", "List your meetings"]),
    (400, SEATED_NEEDS_SEAT, BadRequestError, ["seated", "Cal.com page"]),
    (401, UNAUTHORIZED, AuthenticationError, ["CAL_API_KEY", "rejected"]),
    (403, FORBIDDEN, PermissionDeniedError, ["not allowed", "permissions"]),
]


@pytest.mark.parametrize(("status", "message", "cls", "words"), CASES)
def test_known_errors_become_plain_actionable_sentences(status: int, message: str, cls: type, words: list[str]) -> None:
    exc = api_error(status, message)
    assert type(exc) is cls
    sentence = explain(exc)
    assert_plain(sentence, message)
    for word in words:
        assert word in sentence, (word, sentence)


@pytest.mark.parametrize(("status", "message", "cls", "words"), [c for c in CASES if c[2] is not ServerError])
@pytest.mark.parametrize("write", ["book", "cancel", "reschedule"])
def test_known_errors_same_sentence_during_a_write(status: int, message: str, cls: type, words: list[str],
                                                   write: str) -> None:
    # Cal.com answered with a definite refusal, so nothing happened: the sentence does not depend on the write.
    exc = api_error(status, message)
    assert explain(exc, write=write) == explain(exc)


def test_past_sentence() -> None:
    assert explain(api_error(400, PAST)) == "That time is in the past. Pick a time that is still ahead."


def test_too_soon_sentence() -> None:
    sentence = explain(api_error(400, TOO_SOON))
    assert "too soon" in sentence
    assert "minimum notice" in sentence


def test_slot_taken_user_and_team_differ() -> None:
    assert explain(api_error(400, SLOT_TAKEN)) != explain(api_error(400, TEAM_SLOT_TAKEN))


def test_rescheduled_already_is_not_reported_as_merely_cancelled() -> None:
    # The "rescheduled already" message also contains "because it has been cancelled": the more specific wins.
    assert explain(api_error(400, RESCHEDULE_RESCHEDULED)) != explain(api_error(400, RESCHEDULE_CANCELLED))


def test_missing_contact_method_asks_for_an_email() -> None:
    message = "Attendee must have at least one contact method (email or phone number)"
    sentence = explain(api_error(400, message))
    assert sentence == "An email address is needed to book."


def test_missing_contact_method_is_at_least_plain() -> None:
    message = "Attendee must have at least one contact method (email or phone number)"
    assert_plain(explain(api_error(400, message)), message)


# -- rate limits ---------------------------------------------------------------------------------------------------

def test_rate_limited_with_retry_after_30() -> None:
    exc = RateLimitedError(429, "ThrottlerException", THROTTLED, retry_after=30)
    sentence = explain(exc)
    assert "30 seconds" in sentence
    assert_plain(sentence, THROTTLED)
    assert "Too many requests" not in sentence


def test_rate_limited_built_via_error_class_for() -> None:
    cls = error_class_for(429, THROTTLED)
    assert cls is RateLimitedError
    exc = cls(429, "ThrottlerException", THROTTLED, retry_after=45)
    assert exc.retry_after == 45
    assert "in 45 seconds" in explain(exc)


@pytest.mark.parametrize(("retry_after", "expected"), [
    (None, "in a minute"), (0, "in a minute"), (-5, "in a minute"), (29.2, "in 30 seconds"), (60, "in 60 seconds"),
    (89, "in 89 seconds"), (90, "in 2 minutes"), (120, "in 2 minutes"), (121, "in 3 minutes"),
])
def test_rate_limited_wait_in_words(retry_after: float | None, expected: str) -> None:
    exc = RateLimitedError(429, "ThrottlerException", THROTTLED, retry_after=retry_after)
    sentence = explain(exc)
    assert sentence == f"Cal.com is limiting how often calbot may call it. Please try again {expected}."


@pytest.mark.parametrize("retry_after", [1, 0.3])
def test_rate_limited_one_second_is_singular(retry_after: float) -> None:
    exc = RateLimitedError(429, "ThrottlerException", THROTTLED, retry_after=retry_after)
    assert "in 1 second." in explain(exc)


# -- auth ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message", [UNAUTHORIZED, "", "Unauthorized"])
def test_401_names_cal_api_key(message: str) -> None:
    sentence = explain(api_error(401, message))
    assert "CAL_API_KEY" in sentence
    assert_plain(sentence, message or None)


def test_403_is_about_permissions_not_the_key_value() -> None:
    sentence = explain(api_error(403, FORBIDDEN))
    assert "permission" in sentence
    assert "BOOKING_WRITE" not in sentence


# -- server errors, timeouts, network ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_during_a_read(status: int) -> None:
    exc = api_error(status, INTERNAL)
    assert isinstance(exc, ServerError)
    sentence = explain(exc)
    assert sentence == "Cal.com had an internal error. Please try again in a minute."


WRITES = [("book", "booking"), ("cancel", "cancellation"), ("reschedule", "move")]


@pytest.mark.parametrize(("write", "noun"), WRITES)
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_during_a_write_says_outcome_unknown(status: int, write: str, noun: str) -> None:
    sentence = explain(api_error(status, INTERNAL), write=write)
    assert f"cannot tell whether the {noun} went through" in sentence
    assert "List your meetings" in sentence
    assert_plain(sentence, INTERNAL)


@pytest.mark.parametrize(("write", "noun"), WRITES)
def test_timeout_during_a_write_says_outcome_unknown(write: str, noun: str) -> None:
    exc = CalcomTimeoutError("ReadTimeout: timed out after 20.0s", method="POST", path="/v2/bookings")
    sentence = explain(exc, write=write)
    assert f"cannot tell whether the {noun} went through" in sentence
    assert "List your meetings" in sentence
    assert_plain(sentence, "ReadTimeout")


def test_timeout_during_book_exact_sentence() -> None:
    exc = CalcomTimeoutError("timed out", method="POST", path="/v2/bookings")
    assert explain(exc, write="book") == ("Cal.com did not answer in time, so I cannot tell whether the booking went "
                                          "through. List your meetings to check before trying again.")


def test_timeout_during_a_read() -> None:
    sentence = explain(CalcomTimeoutError("ReadTimeout: timed out", method="GET", path="/v2/slots"))
    assert sentence == "Cal.com did not answer in time. Please try again in a moment."


def test_connection_lost_during_a_write_may_have_happened() -> None:
    exc = CalcomConnectionLostError("RemoteProtocolError: Server disconnected", method="POST", path="/v2/bookings")
    assert explain(exc, write="cancel") == ("The connection to Cal.com broke before it answered, so I cannot tell "
                                            "whether the cancellation went through. List your meetings to check before "
                                            "trying again.")
    assert explain(exc) == "I could not reach Cal.com just now; nothing was changed. Please try again in a moment."


@pytest.mark.parametrize("write", [None, "book"])
def test_network_error(write: str | None) -> None:
    raw = "ConnectError: [Errno 111] Connection refused"
    sentence = explain(CalcomNetworkError(raw, method="GET", path="/v2/bookings"), write=write)
    assert sentence == "I could not reach Cal.com just now; nothing was changed. Please try again in a moment."
    assert_plain(sentence, raw)


# -- unknown errors: generic, never the raw text -------------------------------------------------------------------

def test_unknown_404_is_generic() -> None:
    raw = "Cannot GET /v2/slots/available"
    sentence = explain(api_error(404, raw))
    assert sentence == "Cal.com could not find that. List your meetings to pick the right one."
    assert_plain(sentence, raw)


def test_other_409_is_a_conflict() -> None:
    raw = "Booking is being modified by another request"
    exc = api_error(409, raw)
    assert type(exc) is ConflictError
    sentence = explain(exc)
    assert "conflict" in sentence
    assert_plain(sentence, raw)


def test_unknown_400_does_not_echo_the_message() -> None:
    raw = "responses - Invalid input; secret internal detail 42"
    sentence = explain(api_error(400, raw, code="BAD_REQUEST"))
    assert raw not in sentence
    assert "secret internal detail" not in sentence
    assert "nothing was changed" in sentence


@pytest.mark.parametrize(("status", "message"), [(400, "Bad Request Exception"),
                                                 (422, "Unprocessable Entity")])
def test_unknown_4xx_sentence_has_no_exception_class_name(status: int, message: str) -> None:
    sentence = explain(api_error(status, message))
    assert "Exception" not in sentence


def test_unexpected_200_envelope() -> None:
    exc = CalcomAPIError(200, "unexpected_shape", "data missing")
    assert explain(exc) == "Cal.com answered in a form calbot does not understand; nothing was changed."


def test_plain_calcom_error() -> None:
    assert explain(CalcomError("boom at line 3")) == ("Something went wrong talking to Cal.com; nothing was changed. "
                                                      "Please try again.")


def test_non_calcom_error() -> None:
    sentence = explain(KeyError("proposal"))
    assert sentence == "Something went wrong on calbot's side; nothing was changed. Please try again."
    assert "proposal" not in sentence


# -- our own input errors pass through (they are already plain sentences) ------------------------------------------

def test_time_input_error_passes_through() -> None:
    exc = NonexistentLocalTimeError("02:30 on Sunday 8 March 2026 does not exist in America/New_York.")
    assert explain(exc) == "02:30 on Sunday 8 March 2026 does not exist in America/New_York."
    assert explain(TimeInputError("The date '2026-02-30' does not exist in the calendar.")) == (
        "The date '2026-02-30' does not exist in the calendar.")


def test_invalid_email_error_passes_through() -> None:
    assert explain(InvalidEmailError("the email address is empty")) == "the email address is empty"


# -- error_class_for -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "message", "expected"), [
    (400, SLOT_TAKEN, SlotUnavailableError),
    (409, SLOT_TAKEN, SlotUnavailableError),
    (400, TEAM_SLOT_TAKEN, SlotUnavailableError),
    (409, TEAM_SLOT_TAKEN, SlotUnavailableError),
    (400, TOO_SOON, SlotUnavailableError),
    (409, TOO_SOON, SlotUnavailableError),
    (400, NO_SEATS, SlotUnavailableError),
    (409, NO_SEATS, SlotUnavailableError),
    (400, SLOT_TAKEN.upper(), SlotUnavailableError),  # case-insensitive
    (409, PRISMA_CONFLICT, ConflictError),
    (409, "", ConflictError),
    (400, PAST, BadRequestError),
    (400, ALREADY_CANCELLED, BadRequestError),
    (400, "", BadRequestError),
    (422, NO_HOSTS, BadRequestError),
    (404, BOOKING_NOT_FOUND, NotFoundError),
    (404, SLOT_TAKEN, NotFoundError),          # slot wording only counts on 400/409
    (401, UNAUTHORIZED, AuthenticationError),
    (403, FORBIDDEN, PermissionDeniedError),
    (429, THROTTLED, RateLimitedError),
    (500, INTERNAL, ServerError),
    (500, SLOT_TAKEN, ServerError),
    (502, "", ServerError),
    (503, "Service Unavailable", ServerError),
])
def test_error_class_for(status: int, message: str, expected: type) -> None:
    assert error_class_for(status, message) is expected


def test_error_class_for_none_message() -> None:
    assert error_class_for(400, None) is BadRequestError  # type: ignore[arg-type]


def test_error_hierarchy() -> None:
    for cls in (BadRequestError, SlotUnavailableError, AuthenticationError, PermissionDeniedError, NotFoundError,
                ConflictError, RateLimitedError, ServerError):
        assert issubclass(cls, CalcomAPIError)
        assert issubclass(cls, CalcomError)
    assert issubclass(CalcomTimeoutError, CalcomNetworkError)
    assert not issubclass(CalcomNetworkError, CalcomAPIError)


def test_api_error_keeps_its_fields() -> None:
    exc = api_error(400, SLOT_TAKEN)
    assert (exc.status, exc.code, exc.message) == (400, "BadRequestException", SLOT_TAKEN)
    assert (exc.path, exc.method, exc.request_id) == ("/v2/bookings", "POST", "req-7f1c")
    assert str(exc) == f"400 BadRequestException: {SLOT_TAKEN}"


# -- the model endpoint through the app's client (the SDK on its aiohttp transport) ---------------------------------

def _sdk_timeout_caused_by(cause: BaseException):
    """What the SDK raises when its aiohttp transport fails: APITimeoutError from httpx2.ConnectTimeout from `cause`
    (the vendored transport maps aiohttp's ClientConnectorError to ConnectTimeout)."""
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        try:
            raise httpx2.ConnectTimeout(str(cause)) from cause
        except httpx2.ConnectTimeout as mapped:
            raise openai.APITimeoutError(request=request) from mapped
    except openai.APITimeoutError as exc:
        return exc


def test_a_refused_connection_reported_as_a_timeout_still_names_openai_base_url() -> None:
    import aiohttp

    from calbot.explain import explain_model_error

    refused = aiohttp.ClientConnectorError(Mock(host="127.0.0.1", port=9, ssl=None),
                                           ConnectionRefusedError(111, "Connection refused"))
    sentence = explain_model_error(_sdk_timeout_caused_by(refused), base_url="http://127.0.0.1:9/v1")
    assert sentence.startswith("calbot could not reach the model server at http://127.0.0.1:9/v1")
    assert "OPENAI_BASE_URL" in sentence


def test_a_real_connect_timeout_is_still_a_timeout() -> None:
    import aiohttp

    from calbot.explain import explain_model_error

    sentence = explain_model_error(_sdk_timeout_caused_by(aiohttp.ConnectionTimeoutError("connect timed out")))
    assert sentence == "The model did not answer in time. Please try again in a moment."
