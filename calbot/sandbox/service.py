"""The sandbox's calendar rules: availability, slots, create, list, cancel and reschedule, as Cal.com v2 applies them.

Inputs arrive already validated (calbot.sandbox.inputs); this module decides what happens and raises `ApiError` with
Cal.com's status and exact message (API-NOTES §3-§10) when it refuses. Outputs are Cal.com's JSON shapes
(BookingOutput_2024_08_13, EventTypeOutput_2024_06_14, MeOutput, the slots map), ready to be wrapped in the envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calbot.sandbox.availability import Availability
from calbot.sandbox.common import EXCEPTIONS, ApiError, iso, new_uid  # noqa: F401 - imported from here too
from calbot.sandbox.config import SandboxConfig, SandboxEventType
from calbot.sandbox.recurring import Recurring
from calbot.sandbox.seats import Seats, seated_output
from calbot.sandbox.store import BookingStore, DuplicateSlotError
from calbot.timezones import parse_instant

# Exact Cal.com messages (API-NOTES §3-§10; Cal.com's errors.service.ts, bookings.service.ts, input.service.ts).
MSG_SLOT_TAKEN = "User either already has booking at this time or is not available"
MSG_OUT_OF_BOUNDS = (
    "The event type can't be booked at the \"start\" time provided. This could be because it's too soon (violating "
    "the minimum booking notice) or too far in the future (outside the event's scheduling window). Try fetching "
    "available slots first using the GET /v2/slots endpoint and then make a booking with \"start\" time equal to one "
    "of the available slots: https://cal.com/docs/api-reference/v2/slots")
MSG_PAST = "Attempting to book a meeting in the past."
MSG_EVENT_TYPE_LOOKUP = "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug must be provided"
MSG_NO_CONTACT = "Attendee must have at least one contact method (email or phone number)"
MSG_SINGLE_LENGTH = ("Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
                     "Please, remove the 'lengthInMinutes' field from the request.")
MSG_DUPLICATE = "Invalid Input: Trying to create a record that already exists."


def msg_length_not_allowed(lengths: tuple[int, ...]) -> str:
    return ("Provided 'lengthInMinutes' is not one of the possible lengths for the event type. The possible lengths "
            f"are: {', '.join(map(str, lengths))}")


def msg_not_found(uid: str) -> str:
    return f"Booking with uid={uid} was not found in the database"


def msg_event_type_not_found(event_type_id: int) -> str:
    return f"Event type with id {event_type_id} not found."


def msg_cancelled_already(uid: str) -> str:
    return (f"Can't cancel booking with uid={uid} because it has been cancelled already. Please provide uid of a "
            "booking that is not cancelled.")


def msg_reschedule_cancelled(uid: str) -> str:
    return (f"Can't reschedule booking with uid={uid} because it has been cancelled. Please provide uid of a booking "
            "that is not cancelled.")


def msg_reschedule_rescheduled(uid: str, new_uid: str | None) -> str:
    return (f"Can't reschedule booking with uid={uid} because it has been cancelled and rescheduled already to "
            f"booking with uid={new_uid}. You probably want to reschedule {new_uid} instead by passing it within the "
            "request URL.")


@dataclass(frozen=True)
class NewBooking:
    start: datetime
    event_type_id: int
    attendee_name: str
    attendee_email: str | None
    attendee_time_zone: str
    attendee_language: str = "en"
    attendee_phone: str | None = None
    guests: tuple[str, ...] = ()
    length: int | None = None
    responses: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    recurrence_count: int | None = None  # recurring event types: how many meetings (None: the event type's number)


@dataclass(frozen=True)
class ListQuery:
    statuses: tuple[str, ...] = ()
    attendee_email: str | None = None
    attendee_name: str | None = None
    booking_uid: str | None = None
    event_type_ids: tuple[int, ...] = ()
    after_start: datetime | None = None
    before_end: datetime | None = None
    sort_start: str | None = None
    sort_end: str | None = None
    take: int = 100
    skip: int = 0


class SandboxCalendar(Availability, Seats, Recurring):
    def __init__(self, config: SandboxConfig, store: BookingStore,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.host_zone = ZoneInfo(config.host.time_zone)

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    # -- account ---------------------------------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        host = self.config.host
        return {"id": host.id, "username": host.username, "email": host.email, "name": host.name,
                "avatarUrl": None, "bio": None, "timeFormat": 24, "defaultScheduleId": 1, "weekStart": "Monday",
                "timeZone": host.time_zone, "organizationId": None}

    def host_output(self) -> dict[str, Any]:
        host = self.config.host
        return {"id": host.id, "name": host.name, "email": host.email, "displayEmail": host.email,
                "username": host.username, "timeZone": host.time_zone}

    def event_type(self, event_type_id: int) -> SandboxEventType:
        event_type = self.config.event_type(event_type_id)
        if event_type is None:
            raise ApiError(404, msg_event_type_not_found(event_type_id))
        return event_type

    def event_type_output(self, et: SandboxEventType) -> dict[str, Any]:
        host = self.config.host
        output: dict[str, Any] = {
            "id": et.id, "lengthInMinutes": et.length, "title": et.title, "slug": et.slug,
            "description": et.description,
            "locations": [{"type": "integration", "integration": "cal-video"}],
            "bookingFields": [
                {"type": "name", "slug": "name", "isDefault": True, "required": True},
                {"type": "email", "slug": "email", "isDefault": True, "required": True},
                {"type": "textarea", "slug": "notes", "isDefault": True, "required": False, "hidden": False},
                {"type": "multiemail", "slug": "guests", "isDefault": True, "required": False, "hidden": False},
            ],
            "disableGuests": False, "slotInterval": et.slot_interval, "minimumBookingNotice": et.minimum_notice_minutes,
            "beforeEventBuffer": 0, "afterEventBuffer": 0, "recurrence": None, "metadata": {}, "price": 0,
            "currency": "usd", "lockTimeZoneToggleOnBookingPage": False, "seatsPerTimeSlot": None,
            "forwardParamsSuccessRedirect": None, "successRedirectUrl": None, "isInstantEvent": False,
            "seatsShowAvailabilityCount": None, "scheduleId": 1, "hidden": et.hidden,
            "bookingRequiresAuthentication": False, "ownerId": host.id, "users": [host.username],
            "bookingUrl": f"{self.config.public_url}/{host.username}/{et.slug}",
        }
        if et.length_options:
            output["lengthInMinutesOptions"] = list(et.length_options)
        if et.requires_confirmation:
            output["confirmationPolicy"] = {"type": "always", "blockUnconfirmedBookingsInBooker": True}
        if et.booking_window_days is not None:  # one object, as Cal.com's output service returns it
            output["bookingWindow"] = {"type": "calendarDays", "value": et.booking_window_days, "rolling": False}
        if et.seats:  # Seats_2024_06_14 (the spec types the flat seatsPerTimeSlot as an object: left null)
            output["seats"] = {"seatsPerTimeSlot": et.seats, "showAttendeeInfo": False, "showAvailabilityCount": True}
            output["seatsShowAvailabilityCount"] = True
        if et.recurrence:
            rule = et.recurrence
            output["recurrence"] = {"frequency": rule.frequency, "interval": rule.interval,
                                    "occurrences": rule.occurrences}
        return output

    def event_types(self) -> list[dict[str, Any]]:
        return [self.event_type_output(et) for et in self.config.event_types]

    # -- availability (the rules themselves: calbot.sandbox.availability) -----------------------------------------
    def _check_bookable(self, et: SandboxEventType, start: datetime, end: datetime,
                        ignore_uid: str | None = None) -> None:
        if start < self.now():
            raise ApiError(400, MSG_PAST)
        if not self._in_bounds(et, start):
            raise ApiError(400, MSG_OUT_OF_BOUNDS)
        if not self._within_hours(start, end) or self._busy(start, end, ignore_uid):
            raise ApiError(400, MSG_SLOT_TAKEN)

    # -- bookings --------------------------------------------------------------------------------------------------
    def booking_output(self, *, number: int, uid: str, et: SandboxEventType, start: datetime, length: int,
                       status: str, attendee: dict[str, Any], guests: list[str], responses: dict[str, Any],
                       metadata: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """A booking as Cal.com outputs it (BookingOutput_2024_08_13); guests are attendees too, as in Cal.com."""
        now = iso(self.now())
        host = self.config.host
        attendees = [attendee] + [{"name": "", "email": g, "displayEmail": g, "timeZone": attendee["timeZone"],
                                   "language": attendee.get("language", "en"), "absent": False} for g in guests]
        location = f"{self.config.public_url}/video/{uid}"
        booking = {
            "id": number, "uid": uid, "title": f"{et.title} between {host.name} and {attendee['name']}",
            "description": str(responses.get("notes") or ""), "hosts": [self.host_output()], "status": status,
            "start": iso(start), "end": iso(start + timedelta(minutes=length)), "duration": length,
            "eventTypeId": et.id, "eventType": {"id": et.id, "slug": et.slug}, "meetingUrl": location,
            "location": location, "absentHost": False, "createdAt": now, "updatedAt": now, "metadata": metadata,
            "icsUid": f"{uid}@sandbox.calbot", "attendees": attendees, "guests": guests,
            "bookingFieldsResponses": responses,
        }
        booking.update({k: v for k, v in extra.items() if v is not None})
        return booking

    def create(self, request: NewBooking) -> dict[str, Any] | list[dict[str, Any]]:
        """A booking (seated event types: a seat in one, calbot.sandbox.seats), or a recurring event type's series
        (calbot.sandbox.recurring)."""
        et = self.event_type(request.event_type_id)
        if request.length is not None:
            if not et.length_options:
                raise ApiError(400, MSG_SINGLE_LENGTH)
            if request.length not in et.length_options:
                raise ApiError(400, msg_length_not_allowed(et.length_options))
        length = request.length or et.length
        start = request.start.astimezone(UTC)
        end = start + timedelta(minutes=length)
        attendee = {"name": request.attendee_name, "email": request.attendee_email or "",
                    "displayEmail": request.attendee_email or "", "timeZone": request.attendee_time_zone,
                    "language": request.attendee_language, "absent": False}
        if request.attendee_phone:
            attendee["phoneNumber"] = request.attendee_phone
        responses = {"name": request.attendee_name, "email": request.attendee_email or "",
                     **({"guests": list(request.guests)} if request.guests else {}), **request.responses}
        fields = {"status": "pending" if et.requires_confirmation else "accepted", "attendee": attendee,
                  "guests": list(request.guests), "responses": responses, "metadata": dict(request.metadata)}
        with self.store.write():
            if et.seats:
                return self._take_seat(et, start, length, attendee, responses, fields["metadata"])
            if et.recurrence:
                return self._create_series(et, start, length, request.recurrence_count, **fields)
            self._check_bookable(et, start, end)
            booking = self.booking_output(number=self.store.next_id(), uid=new_uid(), et=et, start=start,
                                          length=length, **fields)
            self._insert(booking)
        return booking

    def _insert(self, booking: dict[str, Any]) -> None:
        try:
            self.store.insert(booking, self.config.host.id)
        except DuplicateSlotError:
            raise ApiError(409, MSG_DUPLICATE, code="CONFLICT") from None

    def get(self, uid: str) -> dict[str, Any] | list[dict[str, Any]]:
        """A booking, or the array of a recurring series when `uid` is the series' uid (API-NOTES §5)."""
        booking = self.store.get(uid)
        return booking if booking is not None else self.series(uid) or self._stored(uid)

    def _stored(self, uid: str) -> dict[str, Any]:
        booking = self.store.get(uid)
        if booking is None:
            raise ApiError(404, msg_not_found(uid))
        return booking

    def cancel(self, uid: str, reason: str | None = None, cancelled_by: str | None = None,
               seat_uid: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        with self.store.write():
            recurrences = [] if self.store.get(uid) else self.series(uid)
            if recurrences:
                return self._cancel_series(recurrences, reason, cancelled_by)
            booking = self._stored(uid)
            if seat_uid and self._check_seat(booking, seat_uid) and len(booking["attendees"]) > 1:
                return self._cancel_seat(booking, seat_uid)
            if booking["status"] in ("cancelled", "rejected"):
                raise ApiError(400, msg_cancelled_already(uid))
            booking["status"] = "cancelled"
            booking["updatedAt"] = iso(self.now())
            if reason:
                booking["cancellationReason"] = reason
            if cancelled_by:
                booking["cancelledByEmail"] = cancelled_by
            self.store.update(booking)
        return booking

    def reschedule(self, uid: str, start: datetime, *, rescheduled_by: str | None = None,
                   reason: str | None = None, seat_uid: str | None = None) -> dict[str, Any]:
        with self.store.write():
            old = self._stored(uid)
            if old["status"] in ("cancelled", "rejected"):
                if old.get("rescheduledToUid"):
                    raise ApiError(400, msg_reschedule_rescheduled(uid, old["rescheduledToUid"]))
                raise ApiError(400, msg_reschedule_cancelled(uid))
            et = self.event_type(old["eventType"]["id"])
            start = start.astimezone(UTC)
            if seat_uid and et.seats:
                return self._move_seat(et, old, seat_uid, start, rescheduled_by)
            length = et.length  # Cal.com uses the event type's default length, not the old booking's
            self._check_bookable(et, start, start + timedelta(minutes=length), ignore_uid=uid)
            by_host = bool(rescheduled_by) and rescheduled_by.lower() == self.config.host.email.lower()
            status = "pending" if et.requires_confirmation and not by_host else "accepted"
            attendees = old["attendees"]
            responses = dict(old["bookingFieldsResponses"])
            if reason:
                responses["rescheduledReason"] = reason
            # Free the old slot first: the unique index must not see two accepted bookings at one time.
            old.update(status="cancelled", updatedAt=iso(self.now()))
            self.store.update(old)
            new = self.booking_output(
                number=self.store.next_id(), uid=new_uid(), et=et, start=start, length=length, status=status,
                attendee=attendees[0], guests=list(old.get("guests") or []), responses=responses,
                metadata=dict(old.get("metadata") or {}), rescheduledFromUid=uid, reschedulingReason=reason,
                rescheduledByEmail=rescheduled_by, recurringBookingUid=old.get("recurringBookingUid"))
            if et.seats:  # the host moves the whole seated booking: every seat goes along
                new = seated_output({**new, "attendees": old["attendees"]})
            self._insert(new)
            old["rescheduledToUid"] = new["uid"]
            if rescheduled_by:
                old["rescheduledByEmail"] = rescheduled_by
            self.store.update(old)
        return new

    def list(self, query: ListQuery) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        now = self.now()
        items = [b for b in self.store.all() if self._matches(b, query, now)]
        if query.sort_end:
            items.sort(key=lambda b: b["end"], reverse=query.sort_end == "desc")
        if query.sort_start:
            items.sort(key=lambda b: b["start"], reverse=query.sort_start == "desc")
        total = len(items)
        page = items[query.skip: query.skip + query.take]
        pagination = {
            "totalItems": total, "remainingItems": max(0, total - query.skip - len(page)),
            "returnedItems": len(page), "itemsPerPage": query.take, "currentPage": query.skip // query.take + 1,
            "totalPages": -(-total // query.take), "hasNextPage": query.skip + len(page) < total,
            "hasPreviousPage": query.skip > 0,
        }
        return page, pagination

    @staticmethod
    def _status_matches(booking: dict[str, Any], status: str, now: datetime) -> bool:
        end, state = parse_instant(booking["end"]), booking["status"]
        if status == "upcoming":
            return end >= now and state in ("accepted", "pending")
        if status == "unconfirmed":
            return end >= now and state == "pending"
        if status == "past":
            return end <= now and state not in ("cancelled", "rejected")
        if status == "cancelled":
            return state in ("cancelled", "rejected")
        return (status == "recurring" and end >= now and state in ("accepted", "pending")
                and bool(booking.get("recurringBookingUid")))

    def _matches(self, booking: dict[str, Any], query: ListQuery, now: datetime) -> bool:
        if query.statuses and not any(self._status_matches(booking, s, now) for s in query.statuses):
            return False
        if query.attendee_email and not any(a["email"].lower() == query.attendee_email.lower()
                                            for a in booking["attendees"]):
            return False
        if query.attendee_name and not any(query.attendee_name.lower() in a["name"].lower()
                                           for a in booking["attendees"]):
            return False
        if query.booking_uid and booking["uid"] != query.booking_uid:
            return False
        if query.event_type_ids and booking["eventTypeId"] not in query.event_type_ids:
            return False
        if query.after_start and parse_instant(booking["start"]) < query.after_start:
            return False
        return not (query.before_end and parse_instant(booking["end"]) > query.before_end)
