"""pydantic models of the Cal.com v2 payloads we send and read.

Outputs ignore fields we do not use and tolerate the variants Cal.com returns (recurring bookings with
`recurringBookingUid`, seated bookings whose attendees carry `seatUid`), so a new field never breaks a chat.
Request models dump without None values: Cal.com rejects explicit nulls for absent optional fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_serializer, field_validator

from calbot.timezones import parse_instant, to_utc_iso
from calbot.validation import strip_control

BookingStatus = Literal["accepted", "pending", "cancelled", "rejected"]


# Text other people write into a booking (titles, names, notes, locations) is capped where it enters calbot: a
# 2,000,000-character attendee name must not become a 4 MB model request on every turn, nor 4 MB stored in a chat.
# Control characters go too (they mean nothing in a name and can fool a terminal or a log).
TITLE_CHARS = 300
NAME_CHARS = 120
EMAIL_CHARS = 320  # RFC 5321's limit on a path
NOTES_CHARS = 1000
URL_CHARS = 2000
MAX_PEOPLE = 100  # attendees, hosts and guests kept of one booking


def _capper(limit: int) -> BeforeValidator:
    def cap(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = strip_control(value[: limit * 2])
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return BeforeValidator(cap)


def _first(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda value: value[:limit] if isinstance(value, list) else value)


Title = Annotated[str, _capper(TITLE_CHARS)]
Name = Annotated[str, _capper(NAME_CHARS)]
EmailText = Annotated[str, _capper(EMAIL_CHARS)]
Notes = Annotated[str, _capper(NOTES_CHARS)]
UrlText = Annotated[str, _capper(URL_CHARS)]


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _instant(value: Any) -> Any:
    return parse_instant(value) if isinstance(value, str) else value


class Attendee(_Output):
    name: Name = ""
    email: EmailText = ""
    display_email: EmailText | None = Field(default=None, alias="displayEmail")
    time_zone: str | None = Field(default=None, alias="timeZone")
    language: str | None = None
    absent: bool | None = None
    phone_number: str | None = Field(default=None, alias="phoneNumber")
    seat_uid: str | None = Field(default=None, alias="seatUid")


class Host(_Output):
    id: int | None = None
    name: Name | None = None
    email: EmailText = ""
    username: Name | None = None
    time_zone: str | None = Field(default=None, alias="timeZone")


class EventTypeRef(_Output):
    id: int
    slug: str | None = None


class Booking(_Output):
    id: int | None = None
    uid: str
    title: Title = ""
    description: Notes | None = None
    status: str  # accepted | pending | cancelled | rejected (kept open: an unknown status must not crash a list)
    start: datetime
    end: datetime
    duration: int | None = None
    hosts: Annotated[list[Host], _first(MAX_PEOPLE)] = Field(default_factory=list)
    attendees: Annotated[list[Attendee], _first(MAX_PEOPLE)] = Field(default_factory=list)
    guests: Annotated[list[EmailText], _first(MAX_PEOPLE)] = Field(default_factory=list)
    event_type: EventTypeRef | None = Field(default=None, alias="eventType")
    event_type_id: int | None = Field(default=None, alias="eventTypeId")
    location: UrlText | None = None
    meeting_url: UrlText | None = Field(default=None, alias="meetingUrl")
    metadata: dict[str, Any] = Field(default_factory=dict)
    booking_fields_responses: dict[str, Any] = Field(default_factory=dict, alias="bookingFieldsResponses")
    cancellation_reason: Notes | None = Field(default=None, alias="cancellationReason")
    rescheduled_from_uid: str | None = Field(default=None, alias="rescheduledFromUid")
    rescheduled_to_uid: str | None = Field(default=None, alias="rescheduledToUid")
    recurring_booking_uid: str | None = Field(default=None, alias="recurringBookingUid")
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _instants = field_validator("start", "end", "created_at", mode="before")(_instant)

    @field_validator("guests", "hosts", "attendees", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("metadata", "booking_fields_responses", mode="before")
    @classmethod
    def _null_dict(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def is_seated(self) -> bool:
        return any(a.seat_uid for a in self.attendees)

    @property
    def is_recurring(self) -> bool:
        return self.recurring_booking_uid is not None

    @property
    def meeting_link(self) -> str | None:
        """The link to join, when Cal.com gives one (location is sometimes a place, not a URL)."""
        for candidate in (self.meeting_url, self.location):
            if candidate and candidate.startswith(("http://", "https://")):
                return candidate
        return None

    def attendee_emails(self) -> set[str]:
        emails = {a.email.lower() for a in self.attendees if a.email}
        emails |= {g.lower() for g in self.guests if g}
        return emails

    def host_emails(self) -> set[str]:
        return {h.email.lower() for h in self.hosts if h.email}


BookingData = Booking | list[Booking]
"""What a booking endpoint returns in `data`: one booking, or an array for a recurring series."""


def as_bookings(data: BookingData) -> list[Booking]:
    return data if isinstance(data, list) else [data]


class Pagination(_Output):
    total_items: int = Field(default=0, alias="totalItems")
    returned_items: int = Field(default=0, alias="returnedItems")
    has_next_page: bool = Field(default=False, alias="hasNextPage")


class Slot(_Output):
    start: datetime
    end: datetime | None = None
    seats_remaining: int | None = Field(default=None, alias="seatsRemaining")
    booking_uid: str | None = Field(default=None, alias="bookingUid")

    _instants = field_validator("start", "end", mode="before")(_instant)


class BookingField(_Output):
    slug: str | None = None
    type: str | None = None
    required: bool = False
    hidden: bool = False


class BookingWindow(_Output):
    """How far ahead an event type can be booked (EventTypeOutput_2024_06_14.bookingWindow): `calendarDays` or
    `businessDays` with a number `value` (`rolling`: counted in days that have free time), or `range` with two
    YYYY-MM-DD dates. Kept loose: calbot.booking.slots reads what it understands and ignores the rest."""
    type: Any = None
    value: Any = None
    rolling: Any = None


class EventType(_Output):
    id: int
    slug: str = ""
    title: str = ""
    length_in_minutes: int = Field(alias="lengthInMinutes")
    length_in_minutes_options: list[int] | None = Field(default=None, alias="lengthInMinutesOptions")
    minimum_booking_notice: int | None = Field(default=None, alias="minimumBookingNotice")
    seats_per_time_slot: int | None = Field(default=None, alias="seatsPerTimeSlot")
    hidden: bool = False
    booking_fields: list[BookingField] = Field(default_factory=list, alias="bookingFields")
    booking_url: str | None = Field(default=None, alias="bookingUrl")
    booking_window: BookingWindow | None = Field(default=None, alias="bookingWindow")

    @field_validator("booking_fields", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("booking_window", mode="before")
    @classmethod
    def _one_window(cls, value: Any) -> Any:
        """Cal.com sends one object; the OpenAPI document describes an array of them. Anything else: no window."""
        if isinstance(value, list):
            value = value[0] if value else None
        return value if isinstance(value, dict) else None

    @property
    def allowed_lengths(self) -> list[int]:
        return sorted(set(self.length_in_minutes_options or [])) or [self.length_in_minutes]

    @property
    def has_multiple_lengths(self) -> bool:
        return len(self.allowed_lengths) > 1


class Me(_Output):
    id: int
    username: str | None = None
    email: str
    name: str | None = None
    time_zone: str | None = Field(default=None, alias="timeZone")
    time_format: int | None = Field(default=None, alias="timeFormat")


# -- requests ------------------------------------------------------------------------------------------------------
class _Request(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class NewAttendee(_Request):
    name: str
    email: str
    time_zone: str = Field(alias="timeZone")
    language: str | None = None


class CreateBookingRequest(_Request):
    start: datetime
    event_type_id: int = Field(alias="eventTypeId")
    attendee: NewAttendee
    guests: list[str] | None = None
    length_in_minutes: int | None = Field(default=None, alias="lengthInMinutes")
    booking_fields_responses: dict[str, Any] | None = Field(default=None, alias="bookingFieldsResponses")
    metadata: dict[str, str] | None = None

    @field_serializer("start")
    def _utc(self, value: datetime) -> str:
        return to_utc_iso(value)


class RescheduleRequest(_Request):
    start: datetime
    seat_uid: str | None = Field(default=None, alias="seatUid")  # seated bookings: the seat being moved
    rescheduled_by: str | None = Field(default=None, alias="rescheduledBy")
    rescheduling_reason: str | None = Field(default=None, alias="reschedulingReason")

    @field_serializer("start")
    def _utc(self, value: datetime) -> str:
        return to_utc_iso(value)


class CancelRequest(_Request):
    cancellation_reason: str | None = Field(default=None, alias="cancellationReason")
    seat_uid: str | None = Field(default=None, alias="seatUid")  # seated bookings: cancel only this seat
