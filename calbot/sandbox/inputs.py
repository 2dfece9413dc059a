"""Request validation for the sandbox, answering the way Cal.com's NestJS ValidationPipe does.

Cal.com validates bodies and queries with class-validator (`whitelist: true`: unknown properties are dropped, not
refused). A failure is a 400 whose message is "Bad Request Exception" with the field errors in `details.errors[]`
({property, constraints, value}); API-NOTES §2. Rules that Cal.com checks later, in its services (which event type,
a contact method, lengths), raise their own exact messages from calbot.sandbox.service. Numbers, instants and
text are also held within the bounds of calbot.sandbox.limits, with class-validator's messages for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from email_validator import EmailNotValidError, validate_email

from calbot.sandbox.limits import (
    MAX_GUESTS,
    MAX_INSTANT,
    MAX_INT,
    MAX_NAME_CHARS,
    MAX_RESPONSE_ITEMS,
    MAX_RESPONSES,
    MAX_TEXT_CHARS,
    MIN_INSTANT,
    MIN_INT,
)
from calbot.sandbox.service import ApiError, ListQuery, iso
from calbot.timezones import UnknownTimeZoneError, get_zone, parse_instant

LANGUAGES = ("ar", "ca", "de", "es", "eu", "he", "id", "ja", "lv", "pl", "ro", "sr", "th", "vi", "az", "cs", "el",
             "es-419", "fi", "hr", "it", "km", "nl", "pt", "ru", "sv", "tr", "zh-CN", "bg", "da", "en", "et", "fr",
             "hu", "iw", "ko", "no", "pt-BR", "sk", "ta", "uk", "zh-TW", "bn")
LIST_STATUSES = ("upcoming", "recurring", "past", "cancelled", "unconfirmed")
MAX_TAKE = 250

# ISO 8601 as class-validator's IsISO8601/IsDateString accept it (date, or date-time with optional zone).
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


class Errors:
    """Collects class-validator style errors; `raise_if_any()` turns them into Cal.com's 400."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, prop: str, rule: str, text: str, value: Any = None) -> None:
        for item in self.items:
            if item["property"] == prop:
                item["constraints"][rule] = text
                return
        self.items.append({"property": prop, "constraints": {rule: text}, "value": value})

    def raise_if_any(self) -> None:
        if self.items:
            raise ApiError(400, "Bad Request Exception", details={
                "message": "Bad Request Exception", "error": "Bad Request", "statusCode": 400,
                "errors": self.items})


def parse_iso(value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (a date alone: 00:00:00, or 23:59:59 for an end)."""
    if "T" not in value and " " not in value:
        day = date.fromisoformat(value)
        return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0), tzinfo=UTC)
    return parse_instant(value)


def iso_field(errors: Errors, prop: str, value: Any, *, required: bool = False, end_of_day: bool = False,
              latest: datetime | None = MAX_INSTANT) -> datetime | None:
    """An ISO 8601 instant from MIN_INSTANT to `latest`; latest=None takes any later one (a moment Python cannot
    hold comes back as datetime.max)."""
    if value is None:
        if required:
            errors.add(prop, "isISO8601", f"{prop} must be a valid ISO 8601 date string", value)
        return None
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        errors.add(prop, "isISO8601", f"{prop} must be a valid ISO 8601 date string", value)
        return None
    try:
        instant = parse_iso(value.strip(), end_of_day=end_of_day)
    except ValueError:
        errors.add(prop, "isISO8601", f"{prop} must be a valid ISO 8601 date string", value)
        return None
    except OverflowError:  # an offset that moves year 1 or 9999 beyond what Python's datetime holds
        instant = datetime.min.replace(tzinfo=UTC) if value.strip() < "1900" else datetime.max.replace(tzinfo=UTC)
    if instant < MIN_INSTANT:
        errors.add(prop, "minDate", f"minimal allowed date for {prop} is {iso(MIN_INSTANT)}", value)
        return None
    if latest is not None and instant > latest:
        errors.add(prop, "maxDate", f"maximal allowed date for {prop} is {iso(latest)}", value)
        return None
    return instant


def int_field(errors: Errors, prop: str, value: Any, *, minimum: int = MIN_INT,
              maximum: int = MAX_INT) -> int | None:
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        digits = value.strip().lstrip("-").lstrip("0")
        # Too many digits for any bound (and for int() itself past 4300): out of range without converting.
        number = int(value) if len(digits) <= 18 else (MIN_INT - 1 if value.strip().startswith("-") else MAX_INT + 1)
    if number is None:
        errors.add(prop, "isInt", f"{prop} must be an integer number", value)
        return None
    if number < minimum:
        errors.add(prop, "min", f"{prop} must not be less than {minimum}", value)
        return None
    if number > maximum:
        errors.add(prop, "max", f"{prop} must not be greater than {maximum}", value)
        return None
    return number


def str_field(errors: Errors, prop: str, value: Any, *, required: bool = False,
              max_length: int = MAX_NAME_CHARS) -> str | None:
    if value is None:
        if required:
            errors.add(prop, "isString", f"{prop} must be a string", value)
        return None
    if not isinstance(value, str):
        errors.add(prop, "isString", f"{prop} must be a string", value)
        return None
    if len(value) > max_length:
        errors.add(prop, "maxLength", f"{prop} must be shorter than or equal to {max_length} characters", value)
        return None
    return value


def query_text(errors: Errors, params: Mapping[str, str], prop: str) -> str | None:
    """A free-text query value (names, emails, uids, slugs): at most MAX_NAME_CHARS; empty means not given."""
    return str_field(errors, prop, params.get(prop) or None)


def time_zone_field(errors: Errors, prop: str, value: Any, *, required: bool = False) -> str | None:
    text = str_field(errors, prop, value, required=required)
    if text is None:
        return None
    try:
        return get_zone(text).key
    except UnknownTimeZoneError:
        errors.add(prop, "isTimeZone", f"{prop} must be a valid IANA time zone", value)
        return None


def is_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def email_field(errors: Errors, prop: str, value: Any) -> str | None:
    text = str_field(errors, prop, value)
    if text is None:
        return None
    if not is_email(text):
        errors.add(prop, "isEmail", f"{prop} must be an email", value)
        return None
    return text


def object_field(errors: Errors, prop: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add(prop, "isObject", f"{prop} must be an object", value)
        return None
    return value


def _one_of(errors: Errors, prop: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        errors.add(prop, "isIn", f"{prop} must be one of the following values: {', '.join(allowed)}", value)
        return None
    return value


def require_object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        errors = Errors()
        errors.add("body", "isObject", "body must be a JSON object", None)
        errors.raise_if_any()
    return body


# -- bookings ----------------------------------------------------------------------------------------------------------
def validate_metadata(errors: Errors, value: Any) -> dict[str, Any]:
    metadata = object_field(errors, "metadata", value)
    if metadata is None:
        return {}
    if len(metadata) > 50:
        errors.add("metadata", "isMetadata", "metadata can have at most 50 keys", "…")
    for key, item in metadata.items():
        if len(key) > 40:
            errors.add("metadata", "isMetadata", "metadata keys can be at most 40 characters long", key)
        if isinstance(item, str) and len(item) > 500:
            errors.add("metadata", "isMetadata", "metadata string values can be at most 500 characters long", key)
        elif not isinstance(item, str | int | float | bool):
            errors.add("metadata", "isMetadata", "metadata values must be strings, numbers or booleans", key)
    return metadata


def validate_responses(errors: Errors, value: Any) -> dict[str, Any]:
    """bookingFieldsResponses: at most MAX_RESPONSES keys and MAX_RESPONSE_ITEMS values in all, no text longer than
    MAX_TEXT_CHARS at any depth (notes is one of them)."""
    prop = "bookingFieldsResponses"
    responses = object_field(errors, prop, value)
    if responses is None:
        return {}
    if len(responses) > MAX_RESPONSES:
        errors.add(prop, "maxKeys", f"{prop} can have at most {MAX_RESPONSES} keys", "…")
    pending: list[tuple[Any, Any]] = list(responses.items())  # (key or None, value), walked without recursion
    seen = 0
    while pending and seen <= MAX_RESPONSE_ITEMS:
        key, item = pending.pop()
        seen += 1
        if any(isinstance(text, str) and len(text) > MAX_TEXT_CHARS for text in (key, item)):
            errors.add(prop, "maxLength", f"each text in {prop} must be shorter than or equal to {MAX_TEXT_CHARS} "
                       "characters", "…")
            return {}
        if isinstance(item, dict):
            pending.extend(item.items())
        elif isinstance(item, list):
            pending.extend((None, each) for each in item)
    if seen > MAX_RESPONSE_ITEMS:
        errors.add(prop, "maxItems", f"{prop} can hold at most {MAX_RESPONSE_ITEMS} values", "…")
    return responses


def create_booking(body: Any) -> dict[str, Any]:
    """The fields of a CreateBookingInput_2024_08_13, checked; unknown properties are dropped."""
    body = require_object_body(body)
    errors = Errors()
    start = iso_field(errors, "start", body.get("start"), required=True)
    event_type_id = int_field(errors, "eventTypeId", body.get("eventTypeId"), minimum=1)
    slug = str_field(errors, "eventTypeSlug", body.get("eventTypeSlug"))
    username = str_field(errors, "username", body.get("username"))
    team_slug = str_field(errors, "teamSlug", body.get("teamSlug"))
    org_slug = str_field(errors, "organizationSlug", body.get("organizationSlug"))
    attendee_in = body.get("attendee")
    attendee: dict[str, Any] = {}
    if not isinstance(attendee_in, dict):
        errors.add("attendee", "isObject", "attendee must be an object", attendee_in)
    else:
        attendee["name"] = str_field(errors, "attendee.name", attendee_in.get("name"), required=True)
        attendee["timeZone"] = time_zone_field(errors, "attendee.timeZone", attendee_in.get("timeZone"),
                                               required=True)
        attendee["email"] = email_field(errors, "attendee.email", attendee_in.get("email"))
        phone = str_field(errors, "attendee.phoneNumber", attendee_in.get("phoneNumber"))
        if phone is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", phone):
            errors.add("attendee.phoneNumber", "isPhoneNumber", "attendee.phoneNumber must be a valid phone number",
                       phone)
            phone = None
        attendee["phoneNumber"] = phone
        attendee["language"] = _one_of(errors, "attendee.language", attendee_in.get("language"), LANGUAGES) or "en"
    guests_in = body.get("guests")
    guests: list[str] = []
    if guests_in is not None:
        if not isinstance(guests_in, list):
            errors.add("guests", "isArray", "guests must be an array", guests_in)
        elif len(guests_in) > MAX_GUESTS:
            errors.add("guests", "arrayMaxSize", f"guests must contain no more than {MAX_GUESTS} elements", guests_in)
        elif not all(isinstance(g, str) and is_email(g) for g in guests_in):
            errors.add("guests", "isEmail", "each value in guests must be an email", guests_in)
        else:
            guests = list(guests_in)
    length = int_field(errors, "lengthInMinutes", body.get("lengthInMinutes"), minimum=1)
    responses = validate_responses(errors, body.get("bookingFieldsResponses"))
    metadata = validate_metadata(errors, body.get("metadata"))
    recurrence_count = int_field(errors, "recurrenceCount", body.get("recurrenceCount"), minimum=1)
    errors.raise_if_any()
    if attendee and not attendee.get("email") and not attendee.get("phoneNumber"):
        raise ApiError(400, "Attendee must have at least one contact method (email or phone number)")
    return {"start": start, "eventTypeId": event_type_id, "eventTypeSlug": slug, "username": username,
            "teamSlug": team_slug, "organizationSlug": org_slug, "attendee": attendee, "guests": tuple(guests),
            "lengthInMinutes": length, "bookingFieldsResponses": responses, "metadata": metadata,
            "recurrenceCount": recurrence_count}


def cancel_booking(body: Any) -> dict[str, Any]:
    body = require_object_body(body if body is not None else {})
    errors = Errors()
    reason = str_field(errors, "cancellationReason", body.get("cancellationReason"), max_length=MAX_TEXT_CHARS)
    seat_uid = str_field(errors, "seatUid", body.get("seatUid"))
    subsequent = body.get("cancelSubsequentBookings")
    if subsequent is not None and not isinstance(subsequent, bool):
        errors.add("cancelSubsequentBookings", "isBoolean", "cancelSubsequentBookings must be a boolean value",
                   subsequent)
    errors.raise_if_any()
    return {"cancellationReason": reason, "seatUid": seat_uid}


def reschedule_booking(body: Any) -> dict[str, Any]:
    body = require_object_body(body)
    errors = Errors()
    start = iso_field(errors, "start", body.get("start"), required=True)
    by = str_field(errors, "rescheduledBy", body.get("rescheduledBy"))
    reason = str_field(errors, "reschedulingReason", body.get("reschedulingReason"), max_length=MAX_TEXT_CHARS)
    seat_uid = str_field(errors, "seatUid", body.get("seatUid"))
    errors.raise_if_any()
    return {"start": start, "rescheduledBy": by, "reschedulingReason": reason, "seatUid": seat_uid}


def list_query(params: Mapping[str, str]) -> ListQuery:
    errors = Errors()
    statuses: list[str] = []
    if params.get("status"):
        for part in params["status"].split(","):
            part = part.strip()
            if part not in LIST_STATUSES:
                errors.add("status", "isIn", "status must be one of the following values: "
                           + ", ".join(LIST_STATUSES), params["status"])
            else:
                statuses.append(part)
    event_type_ids: list[int] = []
    for name in ("eventTypeId", "eventTypeIds"):
        for part in filter(None, (params.get(name) or "").split(",")):
            number = int_field(errors, name, part.strip(), minimum=1)
            if number is not None:
                event_type_ids.append(number)
    take = int_field(errors, "take", params.get("take"), minimum=1, maximum=MAX_TAKE)
    skip = int_field(errors, "skip", params.get("skip"), minimum=0)
    query = ListQuery(
        statuses=tuple(statuses),
        attendee_email=query_text(errors, params, "attendeeEmail"),
        attendee_name=query_text(errors, params, "attendeeName"),
        booking_uid=query_text(errors, params, "bookingUid"),
        event_type_ids=tuple(event_type_ids),
        after_start=iso_field(errors, "afterStart", params.get("afterStart")),
        before_end=iso_field(errors, "beforeEnd", params.get("beforeEnd")),
        sort_start=_one_of(errors, "sortStart", params.get("sortStart"), ("asc", "desc")),
        sort_end=_one_of(errors, "sortEnd", params.get("sortEnd"), ("asc", "desc")),
        take=take if take is not None else 100,
        skip=skip if skip is not None else 0,
    )
    errors.raise_if_any()
    return query


def slots_query(params: Mapping[str, str]) -> dict[str, Any]:
    errors = Errors()
    start = iso_field(errors, "start", params.get("start"), required=True)
    # Any later end is fine: Cal.com clamps it to one year from now (SandboxCalendar.slots does).
    end = iso_field(errors, "end", params.get("end"), required=True, end_of_day=True, latest=None)
    event_type_id = int_field(errors, "eventTypeId", params.get("eventTypeId"), minimum=1)
    slug = query_text(errors, params, "eventTypeSlug")
    if event_type_id is None and not params.get("eventTypeSlug"):
        errors.add("eventTypeId", "isInt", "eventTypeId must be an integer number", params.get("eventTypeId"))
    zone = time_zone_field(errors, "timeZone", params.get("timeZone")) or "UTC"
    duration = int_field(errors, "duration", params.get("duration"), minimum=1)
    fmt = _one_of(errors, "format", params.get("format"), ("range", "time"))
    username, reschedule_uid = query_text(errors, params, "username"), query_text(errors, params,
                                                                                 "bookingUidToReschedule")
    errors.raise_if_any()
    assert start is not None and end is not None
    if end < start:
        raise ApiError(400, "End time must be after start time")
    return {"start": start, "end": end, "eventTypeId": event_type_id, "eventTypeSlug": slug, "username": username,
            "timeZone": zone, "duration": duration, "range": fmt == "range", "bookingUidToReschedule": reschedule_uid}
