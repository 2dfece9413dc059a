"""Recurring event types in the sandbox: one booking request makes a series of meetings.

A mixin of SandboxCalendar (calbot.sandbox.service), as Cal.com v2 treats an event type with a `recurrence`
(Recurrence_2024_06_14; API-NOTES §3-§6):
- POST /v2/bookings on a recurring event type makes `recurrenceCount` meetings (the event type's `occurrences` when
  left out), every `interval` weeks, months or years from `start` in the host's zone; every one must be free, or
  nothing is booked. Each is a RecurringBookingOutput_2024_08_13 with its own uid and the series'
  `recurringBookingUid`; the answer's `data` is their array.
- GET /v2/bookings/{series uid} answers the array of the series; cancel with the series uid cancels every recurrence
  still ahead and answers the array.
- the list's `status=recurring` holds the recurrences still ahead (not cancelled).
The refusal of a `recurrenceCount` above the event type's occurrences is the sandbox's own wording (the OpenAPI
document says only that it "can't be more than event type recurrence count").
Not emulated: `cancelSubsequentBookings`, recurring seated event types.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from calbot.sandbox.common import ApiError, iso, new_uid
from calbot.timezones import parse_instant

if TYPE_CHECKING:
    from calbot.sandbox.config import SandboxConfig, SandboxEventType
    from calbot.sandbox.store import BookingStore


def msg_too_many(occurrences: int) -> str:
    return f"recurrenceCount can't be more than the event type's recurrence count ({occurrences})"


def _shift(day: date, frequency: str, steps: int) -> date:
    """`day` moved `steps` weeks, months or years (the last day of a shorter month when the day does not exist)."""
    if frequency == "weekly":
        return day + timedelta(weeks=steps)
    months = steps * (12 if frequency == "yearly" else 1)
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    for last in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


class Recurring:
    config: SandboxConfig
    store: BookingStore
    host_zone: ZoneInfo

    def now(self) -> datetime:
        raise NotImplementedError

    def _check_bookable(self, et: SandboxEventType, start: datetime, end: datetime,
                        ignore_uid: str | None = None) -> None:
        raise NotImplementedError

    def booking_output(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _insert(self, booking: dict[str, Any]) -> None:
        raise NotImplementedError

    def _recurrence_starts(self, et: SandboxEventType, start: datetime, count: int | None) -> list[datetime]:
        rule = et.recurrence
        assert rule is not None
        if count is not None and count > rule.occurrences:
            raise ApiError(400, msg_too_many(rule.occurrences))
        local = start.astimezone(self.host_zone)
        starts = []
        for k in range(count or rule.occurrences):
            day = _shift(local.date(), rule.frequency, k * rule.interval)
            starts.append(datetime.combine(day, local.time(), tzinfo=self.host_zone).astimezone(UTC))
        return starts

    def _create_series(self, et: SandboxEventType, start: datetime, length: int, count: int | None,
                       **fields: Any) -> list[dict[str, Any]]:
        """Inside store.write(): every recurrence is checked first, then all are inserted."""
        starts = self._recurrence_starts(et, start, count)
        for at in starts:
            self._check_bookable(et, at, at + timedelta(minutes=length))
        series_uid = str(uuid.uuid4())
        made = []
        for at in starts:
            booking = self.booking_output(number=self.store.next_id(), uid=new_uid(), et=et, start=at, length=length,
                                          recurringBookingUid=series_uid, **fields)
            self._insert(booking)
            made.append(booking)
        return made

    def series(self, series_uid: str) -> list[dict[str, Any]]:
        """The recurrences of a series, in order ([] when `series_uid` is no series)."""
        return [b for b in self.store.all() if b.get("recurringBookingUid") == series_uid]

    def _cancel_series(self, recurrences: list[dict[str, Any]], reason: str | None,
                       cancelled_by: str | None) -> list[dict[str, Any]]:
        """Inside store.write(): cancel every recurrence still ahead; answer the whole series."""
        now = self.now()
        for booking in recurrences:
            if booking["status"] in ("cancelled", "rejected") or parse_instant(booking["end"]) < now:
                continue
            booking.update(status="cancelled", updatedAt=iso(now))
            booking.update({k: v for k, v in (("cancellationReason", reason), ("cancelledByEmail", cancelled_by))
                            if v})
            self.store.update(booking)
        return recurrences
