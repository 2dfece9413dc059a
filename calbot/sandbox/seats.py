"""Seated event types in the sandbox: several attendees share one booking, each holding a seat.

A mixin of SandboxCalendar (calbot.sandbox.service), as Cal.com v2 treats an event type with `seatsPerTimeSlot`
(API-NOTES §3, §6, §7; Cal.com's bookings.service.ts and handleSeats):
- booking a time where this event type already has a booking with a free seat adds the attendee to that booking (same
  uid) with a new `seatUid`; a full booking is 409 "No more seats left at this seated booking."; the first booker of
  a time creates the booking. The answer is CreateSeatedBookingOutput_2024_08_13: the booking plus the new `seatUid`.
- outputs are GetSeatedBookingOutput_2024_08_13: each attendee carries its `seatUid` and its own
  `bookingFieldsResponses`; there is no top-level `guests` or `bookingFieldsResponses`.
- cancel with `seatUid` removes only that seat (the booking stays while someone still holds one); an unknown seat or a
  seat of another booking is a 400 with Cal.com's message. Cancel without `seatUid` cancels the whole booking.
- reschedule with `seatUid` moves that attendee to a seat at the new time (joining or creating that booking).
Not emulated: guests on seated bookings (a seat is one person), `showAttendeeInfo` hiding the other attendees.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from calbot.sandbox.common import ApiError, iso, new_uid
from calbot.timezones import parse_instant

if TYPE_CHECKING:
    from calbot.sandbox.config import SandboxConfig, SandboxEventType
    from calbot.sandbox.store import BookingStore

MSG_SEATS_FULL = "No more seats left at this seated booking."
MSG_SEAT_UNKNOWN = "Invalid seatUid: this seat does not exist or has already been cancelled."
MSG_SEAT_ELSEWHERE = "Invalid seatUid: this seat does not belong to this booking."


def seated_output(booking: dict[str, Any]) -> dict[str, Any]:
    """A stored booking in the shape of GetSeatedBookingOutput_2024_08_13."""
    return {k: v for k, v in booking.items() if k not in ("guests", "bookingFieldsResponses")}


class Seats:
    config: SandboxConfig
    store: BookingStore

    def now(self) -> datetime:
        raise NotImplementedError

    def _check_bookable(self, et: SandboxEventType, start: datetime, end: datetime,
                        ignore_uid: str | None = None) -> None:
        raise NotImplementedError

    def booking_output(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _insert(self, booking: dict[str, Any]) -> None:
        raise NotImplementedError

    def _seated_at(self, et: SandboxEventType, start: datetime) -> dict[str, Any] | None:
        """This event type's live booking that starts exactly at `start`, if any."""
        end = start + timedelta(minutes=1)
        return next((b for b in self.store.overlapping(self.config.host.id, start, end)
                     if b["eventTypeId"] == et.id and parse_instant(b["start"]) == start), None)

    def _take_seat(self, et: SandboxEventType, start: datetime, length: int, attendee: dict[str, Any],
                   responses: dict[str, Any], metadata: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Inside store.write(): give the attendee a seat at `start`; returns the booking with the new seatUid."""
        seat = {**attendee, "seatUid": new_uid(), "bookingFieldsResponses": responses}
        booking = self._seated_at(et, start)
        if booking is not None:
            self._check_bookable(et, start, start + timedelta(minutes=length), ignore_uid=booking["uid"])
            if len(booking["attendees"]) >= (et.seats or 0):
                raise ApiError(409, MSG_SEATS_FULL)
            booking["attendees"].append(seat)
            booking["updatedAt"] = iso(self.now())
            self.store.update(booking)
        else:
            self._check_bookable(et, start, start + timedelta(minutes=length))
            booking = seated_output(self.booking_output(
                number=self.store.next_id(), uid=new_uid(), et=et, start=start, length=length,
                status="pending" if et.requires_confirmation else "accepted", attendee=seat, guests=[],
                responses={}, metadata=metadata, **extra))
            self._insert(booking)
        return {**seated_output(booking), "seatUid": seat["seatUid"]}

    def _check_seat(self, booking: dict[str, Any], seat_uid: str) -> bool:
        """A 400 unless `seat_uid` is a seat held in `booking` (checked before anything else, as Cal.com)."""
        if any(a.get("seatUid") == seat_uid for a in booking["attendees"]):
            return True
        elsewhere = any(any(a.get("seatUid") == seat_uid for a in b["attendees"]) for b in self.store.all())
        raise ApiError(400, MSG_SEAT_ELSEWHERE if elsewhere else MSG_SEAT_UNKNOWN)

    def _cancel_seat(self, booking: dict[str, Any], seat_uid: str) -> dict[str, Any]:
        """Inside store.write(): remove one seat of a booking that has others (the last seat cancels the booking,
        as a plain cancel)."""
        booking["attendees"] = [a for a in booking["attendees"] if a.get("seatUid") != seat_uid]
        booking["updatedAt"] = iso(self.now())
        self.store.update(booking)
        return seated_output(booking)

    def _move_seat(self, et: SandboxEventType, old: dict[str, Any], seat_uid: str, start: datetime,
                   rescheduled_by: str | None) -> dict[str, Any]:
        """Inside store.write(): the attendee holding `seat_uid` leaves `old` for a seat at `start`."""
        self._check_seat(old, seat_uid)
        held = next(a for a in old["attendees"] if a.get("seatUid") == seat_uid)
        attendee = {k: v for k, v in held.items() if k not in ("seatUid", "bookingFieldsResponses")}
        moved = self._take_seat(et, start, et.length, attendee, dict(held.get("bookingFieldsResponses") or {}),
                                dict(old.get("metadata") or {}), rescheduledFromUid=old["uid"],
                                rescheduledByEmail=rescheduled_by)
        old = self.store.get(old["uid"]) or old  # _take_seat may have written it (same time: same booking)
        old["attendees"] = [a for a in old["attendees"] if a.get("seatUid") != seat_uid]
        if not old["attendees"]:
            old["status"] = "cancelled"
            old["rescheduledToUid"] = moved["uid"]
        old["updatedAt"] = iso(self.now())
        self.store.update(old)
        return moved
